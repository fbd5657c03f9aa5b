//! `kubectl wait` (condition, jsonpath, delete) and `delete` with the three cascade modes.

use std::process::Stdio;
use std::time::Duration;

use crate::support::eventually;
use crate::*;

#[test]
fn wait_returns_when_ready_condition_jsonpath_or_deletion_happens() {
    // The test writes the status itself: no controller may write it too.
    let server = Server::start_api_only();
    for_each_kubectl(&server, |ctl| {
        ctl.apply(&executable("web", "app: web", "  command: sleep\n"));

        // Started before the condition is set, it must be woken by the change.
        let mut ready = ctl.spawn(&["wait", "--for=condition=Ready", "exe/web", "--timeout=20s"]);
        assert!(
            still_running(&mut ready, Duration::from_millis(700)),
            "wait returned before Ready was set"
        );
        set_status(ctl, "exe/web", "Starting", "True");
        let out = finish(ready, "wait --for=condition=Ready");
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("executable.kaspire.dev/web condition met"),
            "{}",
            text(&out.stdout)
        );
        // Already Ready: returns at once; a False condition times out.
        ctl.ok(&["wait", "--for=condition=Ready", "exe/web", "--timeout=5s"]);
        set_status(ctl, "exe/web", "Starting", "False");
        let err = ctl.fails(&["wait", "--for=condition=Ready", "exe/web", "--timeout=1s"]);
        assert!(err.contains("timed out"), "{err}");

        let mut running = ctl.spawn(&[
            "wait",
            "--for=jsonpath={.status.state}=Running",
            "exe/web",
            "--timeout=20s",
        ]);
        assert!(
            still_running(&mut running, Duration::from_millis(700)),
            "wait returned before the state was Running"
        );
        set_status(ctl, "exe/web", "Running", "True");
        let out = finish(running, "wait --for=jsonpath");
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("condition met"),
            "{}",
            text(&out.stdout)
        );

        // A finalizer holds the object in deletion so the wait must watch for the DELETED event.
        ctl.ok(&[
            "patch",
            "exe",
            "web",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":["test.kaspire.dev/hold"]}}"#,
        ]);
        ctl.ok(&["delete", "exe", "web", "--wait=false"]);
        assert!(
            !ctl.jsonpath("exe/web", "{.metadata.deletionTimestamp}")
                .is_empty()
        );
        let mut deleted = ctl.spawn(&["wait", "--for=delete", "exe/web", "--timeout=20s"]);
        assert!(
            still_running(&mut deleted, Duration::from_millis(700)),
            "wait --for=delete returned while the object exists"
        );
        ctl.ok(&[
            "patch",
            "exe",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ]);
        let out = finish(deleted, "wait --for=delete");
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(!ctl.exists("exe/web"));

        // The plain way: delete in the background while waiting.
        ctl.apply(&executable("gone", "app: gone", "  command: sleep\n"));
        let background = ctl
            .kubectl
            .command(&ctl.args(&["delete", "exe", "gone"]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        ctl.ok(&["wait", "--for=delete", "exe/gone", "--timeout=20s"]);
        finish(background, "background delete");
        assert!(!ctl.exists("exe/gone"));
    });
}

#[test]
fn delete_cascades_background_foreground_and_orphan_through_owner_references() {
    let server = Server::start();
    for_each_kubectl(&server, |ctl| {
        let owned = |mode: &str, extra: &str| {
            ctl.apply(&executable(
                &format!("owner-{mode}"),
                "role: owner",
                "  command: sleep\n",
            ));
            let uid = ctl.jsonpath(&format!("exe/owner-{mode}"), "{.metadata.uid}");
            assert_eq!(uid.len(), 36, "uid: {uid}");
            let dependent = format!(
                "apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata:\n  name: dep-{mode}\n  labels: {{role: dependent}}\n  ownerReferences:\n  - apiVersion: kaspire.dev/v1alpha1\n    kind: Executable\n    name: owner-{mode}\n    uid: {uid}\n    controller: true\n    blockOwnerDeletion: true\n{extra}spec:\n  command: sleep\n"
            );
            ctl.apply(&dependent);
            assert_eq!(
                ctl.jsonpath(
                    &format!("exe/dep-{mode}"),
                    "{.metadata.ownerReferences[0].uid}"
                ),
                uid
            );
        };

        // Plain delete (background): the owner goes at once, the collector removes the dependent.
        owned("bg", "");
        let out = ctl.ok(&["delete", "exe", "owner-bg"]);
        assert!(out.contains("\"owner-bg\" deleted"), "{out}");
        assert!(!ctl.exists("exe/owner-bg"));
        assert!(
            eventually(WAIT, || (!ctl.exists("exe/dep-bg")).then_some(())).is_some(),
            "background delete left the dependent"
        );

        // Foreground: the owner stays (deleting) until its dependent is gone. A finalizer on
        // the dependent makes the intermediate state observable.
        owned("fg", "  finalizers: [test.kaspire.dev/hold]\n");
        ctl.ok(&[
            "delete",
            "exe",
            "owner-fg",
            "--cascade=foreground",
            "--wait=false",
        ]);
        assert!(
            !ctl.jsonpath("exe/owner-fg", "{.metadata.deletionTimestamp}")
                .is_empty()
        );
        assert!(
            ctl.jsonpath("exe/owner-fg", "{.metadata.finalizers}")
                .contains("foregroundDeletion")
        );
        let dep_deleting = eventually(WAIT, || {
            (!ctl
                .jsonpath("exe/dep-fg", "{.metadata.deletionTimestamp}")
                .is_empty())
            .then_some(())
        });
        assert!(
            dep_deleting.is_some(),
            "foreground delete did not delete the dependent"
        );
        assert!(
            ctl.exists("exe/owner-fg"),
            "the owner must outlive its dependent"
        );
        ctl.ok(&[
            "patch",
            "exe",
            "dep-fg",
            "--type=merge",
            "-p",
            r#"{"metadata":{"finalizers":null}}"#,
        ]);
        assert!(
            eventually(WAIT, || (!ctl.exists("exe/dep-fg")
                && !ctl.exists("exe/owner-fg"))
            .then_some(()))
            .is_some(),
            "foreground delete did not finish"
        );

        // Foreground through kubectl's own wait: the command returns once both are gone.
        owned("fgw", "");
        ctl.ok(&[
            "delete",
            "exe",
            "owner-fgw",
            "--cascade=foreground",
            "--timeout=20s",
        ]);
        assert!(!ctl.exists("exe/owner-fgw") && !ctl.exists("exe/dep-fgw"));

        // Orphan: the owner goes, the dependent stays with its ownerReference removed.
        owned("orphan", "");
        ctl.ok(&["delete", "exe", "owner-orphan", "--cascade=orphan"]);
        assert!(!ctl.exists("exe/owner-orphan"));
        let released = eventually(WAIT, || {
            ctl.jsonpath("exe/dep-orphan", "{.metadata.ownerReferences}")
                .is_empty()
                .then_some(())
        });
        assert!(
            released.is_some(),
            "orphaned dependent keeps ownerReferences"
        );
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            ctl.exists("exe/dep-orphan"),
            "orphan delete removed the dependent"
        );

        // Delete by label selector and --all.
        ctl.apply(&executable("sel-a", "group: sel", "  command: sleep\n"));
        ctl.apply(&executable("sel-b", "group: sel", "  command: sleep\n"));
        let out = ctl.ok(&["delete", "exe", "-l", "group=sel"]);
        assert!(out.contains("sel-a") && out.contains("sel-b"), "{out}");
        ctl.ok(&["delete", "exe", "--all"]);
        assert!(ctl.ok(&["get", "exe", "-o", "name"]).is_empty());
        let err = ctl.fails(&["delete", "exe", "never-existed"]);
        assert!(
            err.contains("NotFound") && err.contains("never-existed"),
            "{err}"
        );
    });
}
