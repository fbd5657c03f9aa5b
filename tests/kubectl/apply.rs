//! `kubectl apply`: client-side, server-side (conflicts, force) and the repo's CRDs.

use crate::*;

#[test]
fn client_side_apply_reports_created_unchanged_configured_and_crds_reapply_cleanly() {
    let server = Server::start();
    let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/");
    for_each_kubectl(&server, |ctl| {
        let v1 = executable("web", "app: web", "  command: sleep\n  args: [\"100\"]\n");
        assert!(
            ctl.apply(&v1)
                .contains("executable.kaspire.dev/web created")
        );
        assert!(
            ctl.apply(&v1)
                .contains("executable.kaspire.dev/web unchanged")
        );
        let generation = ctl.jsonpath("exe/web", "{.metadata.generation}");
        let v2 = executable("web", "app: web", "  command: sleep\n  args: [\"200\"]\n");
        assert!(
            ctl.apply(&v2)
                .contains("executable.kaspire.dev/web configured")
        );
        assert_eq!(ctl.jsonpath("exe/web", "{.spec.args[0]}"), "200");
        assert_ne!(
            ctl.jsonpath("exe/web", "{.metadata.generation}"),
            generation,
            "a spec change bumps generation"
        );
        assert!(
            ctl.jsonpath("exe/web", "{.metadata.annotations}")
                .contains("last-applied-configuration")
        );

        // Removing a field from the file removes it from the object (three-way merge).
        let v3 = executable("web", "app: web", "  command: sleep\n");
        assert!(ctl.apply(&v3).contains("configured"));
        assert_eq!(ctl.jsonpath("exe/web", "{.spec.args}"), "");

        // The repo's generated CRDs: the server already serves them, so the first apply
        // only records last-applied (configured) and the next one changes nothing.
        for round in 0..2 {
            let out = ctl.kubectl.run(&["apply", "-f", crds]);
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            assert!(
                out.status.success(),
                "apply -f crds/ failed:\n{stdout}{stderr}"
            );
            assert!(
                !stderr.to_lowercase().contains("error"),
                "apply -f crds/ printed an error:\n{stderr}"
            );
            let lines: Vec<&str> = stdout.lines().collect();
            assert_eq!(lines.len(), 4, "one line per CRD:\n{stdout}");
            for line in lines {
                assert!(
                    line.starts_with("customresourcedefinition.apiextensions.k8s.io/"),
                    "{line}"
                );
                let expected = if round == 0 {
                    line.ends_with(" configured") || line.ends_with(" unchanged")
                } else {
                    line.ends_with(" unchanged")
                };
                assert!(expected, "round {round}: {line}");
            }
        }
        // The kinds are still served after re-applying their CRDs.
        assert!(ctl.ok(&["get", "exe"]).contains("web"));
    });
}

#[test]
fn server_side_apply_reports_conflicts_and_force_takes_ownership() {
    let server = Server::start();
    for_each_kubectl(&server, |ctl| {
        let mine = executable("ssa", "app: ssa", "  command: sleep\n  args: [\"1\"]\n");
        let out = ctl.ok_stdin(&["apply", "--server-side", "-f", "-"], &mine);
        assert!(
            out.contains("executable.kaspire.dev/ssa serverside-applied"),
            "{out}"
        );
        let out = ctl.ok_stdin(&["apply", "--server-side", "-f", "-"], &mine);
        assert!(out.contains("serverside-applied"), "{out}");
        let managed = ctl.ok(&["get", "exe/ssa", "-o", "json", "--show-managed-fields"]);
        let json: serde_json::Value = serde_json::from_str(&managed).unwrap();
        let entries = json
            .pointer("/metadata/managedFields")
            .and_then(|m| m.as_array())
            .cloned()
            .unwrap_or_default();
        assert!(
            entries
                .iter()
                .any(|e| e["manager"] == "kubectl" && e["operation"] == "Apply"),
            "{managed}"
        );

        let theirs = executable("ssa", "app: ssa", "  command: echo\n  args: [\"1\"]\n");
        let rv = ctl.jsonpath("exe/ssa", "{.metadata.resourceVersion}");
        let err = ctl.fails_stdin(
            &["apply", "--server-side", "--field-manager=other", "-f", "-"],
            &theirs,
        );
        assert!(err.contains("conflict"), "{err}");
        assert!(err.contains(".spec.command"), "names the field: {err}");
        assert!(err.contains("\"kubectl\""), "names the manager: {err}");
        assert_eq!(
            ctl.jsonpath("exe/ssa", "{.spec.command}"),
            "sleep",
            "a conflict changes nothing"
        );
        assert_eq!(ctl.jsonpath("exe/ssa", "{.metadata.resourceVersion}"), rv);

        let out = ctl.ok_stdin(
            &[
                "apply",
                "--server-side",
                "--field-manager=other",
                "--force-conflicts",
                "-f",
                "-",
            ],
            &theirs,
        );
        assert!(out.contains("serverside-applied"), "{out}");
        assert_eq!(ctl.jsonpath("exe/ssa", "{.spec.command}"), "echo");
        let managed = ctl.ok(&["get", "exe/ssa", "-o", "json", "--show-managed-fields"]);
        let json: serde_json::Value = serde_json::from_str(&managed).unwrap();
        let entries = json
            .pointer("/metadata/managedFields")
            .and_then(|m| m.as_array())
            .cloned()
            .unwrap();
        let owns_command = |manager: &str| {
            entries.iter().any(|e| {
                e["manager"] == manager && e.pointer("/fieldsV1/f:spec/f:command").is_some()
            })
        };
        assert!(
            owns_command("other") && !owns_command("kubectl"),
            "force moves .spec.command to other: {managed}"
        );
        // Both applied the same args, so they co-own them: changing them now conflicts the
        // other way round, and dropping command from the first manager's file is fine.
        let new_args = executable("ssa", "app: ssa", "  args: [\"2\"]\n");
        let err = ctl.fails_stdin(&["apply", "--server-side", "-f", "-"], &new_args);
        assert!(
            err.contains("conflict with \"other\"") && err.contains(".spec.args"),
            "{err}"
        );
        let same_args = executable("ssa", "app: ssa", "  args: [\"1\"]\n");
        ctl.ok_stdin(&["apply", "--server-side", "-f", "-"], &same_args);
        assert_eq!(
            ctl.jsonpath("exe/ssa", "{.spec.command} {.spec.args[0]}"),
            "echo 1"
        );
    });
}
