//! `kubectl patch`, `edit`, `label` and `annotate`.

use crate::*;

#[test]
fn patch_edit_label_and_annotate_change_exactly_what_they_say() {
    let server = Server::start();
    for_each_kubectl(&server, |ctl| {
        ctl.apply(&executable(
            "web",
            "app: web",
            "  command: sleep\n  args: [\"old\"]\n",
        ));

        let out = ctl.ok(&[
            "patch",
            "exe",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":3,"env":[{"name":"A","value":"1"}]}}"#,
        ]);
        assert!(out.contains("executable.kaspire.dev/web patched"), "{out}");
        assert_eq!(
            ctl.jsonpath(
                "exe/web",
                "{.spec.replicas} {.spec.env[0].name}={.spec.env[0].value}"
            ),
            "3 A=1"
        );

        let out = ctl.ok(&["patch", "exe", "web", "--type=json", "-p", r#"[{"op":"replace","path":"/spec/command","value":"cat"},{"op":"add","path":"/spec/args/-","value":"more"}]"#]);
        assert!(out.contains("patched"), "{out}");
        assert_eq!(
            ctl.jsonpath("exe/web", "{.spec.command} {.spec.args}"),
            r#"cat ["old","more"]"#
        );

        let rv = ctl.jsonpath("exe/web", "{.metadata.resourceVersion}");
        let err = ctl.fails(&[
            "patch",
            "exe",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/missing/deep","value":1}]"#,
        ]);
        assert!(err.contains("/spec/missing/deep"), "names the path: {err}");
        let err = ctl.fails(&[
            "patch",
            "exe",
            "web",
            "--type=json",
            "-p",
            r#"{"op":"replace"}"#,
        ]);
        assert!(err.to_lowercase().contains("patch"), "{err}");
        let err = ctl.fails(&[
            "patch",
            "exe",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/spec/command","value":"dog"}]"#,
        ]);
        assert!(err.contains("/spec/command"), "a failed test op: {err}");
        let err = ctl.fails(&[
            "patch",
            "exe",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":"many"}}"#,
        ]);
        assert!(err.contains("spec.replicas"), "{err}");
        assert_eq!(
            ctl.jsonpath("exe/web", "{.metadata.resourceVersion}"),
            rv,
            "failed patches change nothing"
        );

        // kubectl edit with a scripted editor (kubectl runs it through the shell).
        let out = ctl
            .kubectl
            .command(&ctl.args(&["edit", "exe", "web"]))
            .env("EDITOR", "sed -i s/old/new/")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "edit failed: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains("executable.kaspire.dev/web edited"),
            "{}",
            text(&out.stdout)
        );
        assert_eq!(ctl.jsonpath("exe/web", "{.spec.args[0]}"), "new");
        // An edit that changes nothing says so.
        let out = ctl
            .kubectl
            .command(&ctl.args(&["edit", "exe", "web"]))
            .env("EDITOR", "true")
            .output()
            .unwrap();
        assert!(
            out.status.success() && text(&out.stderr).contains("Edit cancelled"),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        // An edit the server rejects fails and keeps the object as it was.
        let out = ctl
            .kubectl
            .command(&ctl.args(&["edit", "exe", "web"]))
            .env("EDITOR", "sed -i s/replicas:\\ 3/replicas:\\ three/")
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "invalid edit succeeded: {}",
            text(&out.stdout)
        );
        assert_eq!(ctl.jsonpath("exe/web", "{.spec.replicas}"), "3");

        assert!(
            ctl.ok(&["label", "exe", "web", "tier=front"])
                .contains("labeled")
        );
        assert_eq!(
            ctl.ok(&["get", "exe", "-l", "tier=front", "-o", "name"])
                .trim(),
            "executable.kaspire.dev/web"
        );
        let err = ctl.fails(&["label", "exe", "web", "tier=back"]);
        assert!(err.contains("--overwrite"), "{err}");
        ctl.ok(&["label", "exe", "web", "tier=back", "--overwrite"]);
        assert_eq!(ctl.jsonpath("exe/web", "{.metadata.labels.tier}"), "back");
        ctl.ok(&["label", "exe", "web", "tier-"]);
        assert_eq!(
            ctl.jsonpath("exe/web", "{.metadata.labels}"),
            r#"{"app":"web"}"#
        );

        // kubectl 1.27 prints "annotate", later versions "annotated".
        assert!(
            ctl.ok(&["annotate", "exe", "web", "owner=team-a"])
                .contains("executable.kaspire.dev/web annotate")
        );
        assert_eq!(
            ctl.jsonpath("exe/web", "{.metadata.annotations.owner}"),
            "team-a"
        );
        ctl.ok(&["annotate", "exe", "web", "owner-"]);
        assert_eq!(ctl.jsonpath("exe/web", "{.metadata.annotations.owner}"), "");
        assert_eq!(
            ctl.jsonpath("exe/web", "{.spec.command}"),
            "cat",
            "metadata edits keep the spec"
        );
    });
}
