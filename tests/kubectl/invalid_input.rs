//! Bad input: each mistake is rejected with a clear error and changes nothing.

use crate::*;

#[test]
fn bad_input_is_rejected_with_a_clear_error_and_changes_nothing() {
    let server = Server::start();
    for_each_kubectl(&server, |ctl| {
        ctl.apply(&executable(
            "keep",
            "app: keep",
            "  command: sleep\n  replicas: 2\n",
        ));
        let rv = ctl.jsonpath("exe/keep", "{.metadata.resourceVersion}");
        let bad = |spec: &str| executable("bad", "app: bad", spec);

        let err = ctl.fails_stdin(&["apply", "-f", "-"], "apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata:\n  name: bad\n spec: [\n");
        assert!(
            err.contains("yaml") || err.contains("YAML"),
            "malformed YAML: {err}"
        );

        for verb in ["apply", "create"] {
            let err = ctl.fails_stdin(&[verb, "-f", "-"], &bad("  command: sleep\n  bogus: 1\n"));
            assert!(
                err.contains("unknown field") && err.contains("spec.bogus"),
                "{verb} with an unknown field: {err}"
            );
            let err = ctl.fails_stdin(
                &[verb, "-f", "-"],
                &bad("  command: sleep\n  replicas: \"two\"\n"),
            );
            assert!(
                err.contains("spec.replicas") && err.contains("integer"),
                "{verb} with a wrong type: {err}"
            );
            let err = ctl.fails_stdin(&[verb, "-f", "-"], &bad("  args: [x]\n"));
            assert!(
                err.contains("spec.command") && err.contains("Required"),
                "{verb} without command: {err}"
            );
            let err = ctl.fails_stdin(
                &[verb, "-f", "-"],
                &bad("  command: sleep\n  restartPolicy: Sometimes\n"),
            );
            assert!(
                err.contains("spec.restartPolicy")
                    && err.contains("Sometimes")
                    && err.contains("OnFailure"),
                "{verb} with a bad enum: {err}"
            );
        }
        // The same mistakes as updates of an existing object.
        let err = ctl.fails_stdin(
            &["apply", "-f", "-"],
            &executable(
                "keep",
                "app: keep",
                "  command: sleep\n  replicas: 2\n  bogus: 1\n",
            ),
        );
        assert!(err.contains("spec.bogus"), "{err}");
        let err = ctl.fails_stdin(
            &["apply", "-f", "-"],
            &executable(
                "keep",
                "app: keep",
                "  command: sleep\n  replicas: 2\n  restartPolicy: Sometimes\n",
            ),
        );
        assert!(err.contains("spec.restartPolicy"), "{err}");
        // Warn and Ignore: the unknown field is dropped, the object is written.
        let out = ctl.run_stdin(
            &["apply", "--validate=warn", "-f", "-"],
            &bad("  command: sleep\n  bogus: 1\n"),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("unknown field \"spec.bogus\""),
            "a warning: {}",
            text(&out.stderr)
        );
        assert!(!ctl.jsonpath("exe/bad", "{.spec}").contains("bogus"));
        ctl.ok(&["delete", "exe", "bad"]);

        assert_eq!(
            ctl.jsonpath("exe/keep", "{.metadata.resourceVersion}"),
            rv,
            "rejected writes leave the object alone"
        );

        let err = ctl.fails(&["get", "exe", "-l", "a in (b"]);
        assert!(
            err.contains("selector") || err.contains("parse"),
            "bad label selector: {err}"
        );
        let err = ctl.fails(&["get", "exe", "--field-selector", "spec.command=sleep"]);
        assert!(
            err.contains("spec.command"),
            "unsupported field selector: {err}"
        );

        let stale = ctl.ok(&["get", "exe", "keep", "-o", "yaml"]);
        ctl.ok(&["label", "exe", "keep", "touched=yes"]);
        let current = ctl.jsonpath("exe/keep", "{.metadata.resourceVersion}");
        let err = ctl.fails_stdin(
            &["replace", "-f", "-"],
            &stale.replace("replicas: 2", "replicas: 5"),
        );
        assert!(
            err.contains("Conflict") && err.contains("the object has been modified"),
            "stale replace: {err}"
        );
        assert_eq!(
            ctl.jsonpath("exe/keep", "{.spec.replicas} {.metadata.resourceVersion}"),
            format!("2 {current}")
        );
        // A current one goes through.
        let fresh = ctl.ok(&["get", "exe", "keep", "-o", "yaml"]);
        assert!(
            ctl.ok_stdin(
                &["replace", "-f", "-"],
                &fresh.replace("replicas: 2", "replicas: 5")
            )
            .contains("replaced")
        );
        assert_eq!(ctl.jsonpath("exe/keep", "{.spec.replicas}"), "5");

        let err = ctl.fails_stdin(
            &["apply", "-f", "-"],
            "apiVersion: kaspire.dev/v1alpha1\nkind: Widget\nmetadata:\n  name: bad\nspec: {}\n",
        );
        assert!(
            err.contains("Widget") && err.contains("no matches for kind"),
            "unknown kind: {err}"
        );
        let err = ctl.fails_stdin(&["apply", "-f", "-"], "apiVersion: kaspire.dev/v9\nkind: Executable\nmetadata:\n  name: bad\nspec:\n  command: sleep\n");
        assert!(err.contains("v9"), "unknown version: {err}");
        let err = ctl.fails_stdin(
            &["apply", "-f", "-"],
            &executable("Bad_Name", "app: bad", "  command: sleep\n"),
        );
        assert!(
            err.contains("Bad_Name") && err.contains("metadata.name"),
            "invalid name: {err}"
        );
        let err = ctl.fails(&["get", "widgets"]);
        assert!(err.contains("widgets"), "{err}");

        assert!(!ctl.exists("exe/bad"), "no bad object was created");
        let names = ctl.ok(&["get", "exe", "-o", "name"]);
        assert_eq!(
            names.trim(),
            "executable.kaspire.dev/keep",
            "only the good object exists"
        );
    });
}
