//! `kubectl get` (tables, short names, categories, selectors, output formats, watch),
//! `describe` with events, and `explain`.

use crate::*;

#[test]
fn get_prints_tables_short_names_selectors_and_every_output_format_and_watches() {
    let server = Server::start();
    for_each_kubectl(&server, |ctl| {
        ctl.apply(&executable(
            "api",
            "app: x",
            "  command: dotnet\n  args: [run]\n",
        ));
        ctl.apply(&executable("worker", "app: z", "  command: python3\n"));
        ctl.apply("apiVersion: kaspire.dev/v1alpha1\nkind: Container\nmetadata:\n  name: pg\nspec:\n  image: postgres:16\n");
        ctl.apply("apiVersion: kaspire.dev/v1alpha1\nkind: Parameter\nmetadata:\n  name: pw\nspec:\n  value: hunter2\n  secret: true\n");
        ctl.apply("apiVersion: kaspire.dev/v1alpha1\nkind: Value\nmetadata:\n  name: appdata\nspec:\n  parent:\n    name: pg\n");

        let table = ctl.ok(&["get", "exe"]);
        let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["NAME", "STATE", "HEALTH", "URL", "AGE"], "{table}");
        assert!(
            table.lines().any(|l| l.starts_with("api "))
                && table.lines().any(|l| l.starts_with("worker ")),
            "{table}"
        );
        let wide = ctl.ok(&["get", "exe", "-o", "wide"]);
        assert!(
            wide.lines().next().unwrap().contains("RESTARTS"),
            "priority-1 columns in -o wide: {wide}"
        );
        for (short, name, column) in [
            ("ctr", "pg", "STATE"),
            ("param", "pw", "SECRET"),
            ("val", "appdata", "PARENT"),
        ] {
            let out = ctl.ok(&["get", short]);
            assert!(
                out.lines().next().unwrap().contains(column),
                "get {short}: {out}"
            );
            assert!(
                out.lines().any(|l| l.starts_with(&format!("{name} "))),
                "get {short}: {out}"
            );
        }
        let ctr = ctl.ok(&["get", "ctr", "pg", "-o", "wide"]);
        assert!(
            ctr.lines().next().unwrap().contains("IMAGE") && ctr.contains("postgres:16"),
            "Image column in -o wide: {ctr}"
        );
        let val = ctl.ok(&["get", "val", "appdata"]);
        assert!(
            val.lines()
                .nth(1)
                .unwrap()
                .split_whitespace()
                .any(|c| c == "pg"),
            "Parent column: {val}"
        );

        let all = ctl.ok(&["get", "all"]);
        for name in [
            "executable.kaspire.dev/api",
            "executable.kaspire.dev/worker",
            "container.kaspire.dev/pg",
            "parameter.kaspire.dev/pw",
            "value.kaspire.dev/appdata",
        ] {
            assert!(all.contains(name), "get all lists {name}:\n{all}");
        }
        let kaspire = ctl.ok(&["get", "kaspire", "-o", "name"]);
        assert_eq!(
            kaspire.lines().count(),
            5,
            "the kaspire category: {kaspire}"
        );

        let selected = ctl.ok(&["get", "exe", "-l", "app=x", "-o", "name"]);
        assert_eq!(selected.trim(), "executable.kaspire.dev/api");
        let selected = ctl.ok(&["get", "exe", "-l", "app!=x", "-o", "name"]);
        assert_eq!(selected.trim(), "executable.kaspire.dev/worker");
        let selected = ctl.ok(&["get", "exe", "-l", "app in (x,z)", "-o", "name"]);
        assert_eq!(selected.lines().count(), 2, "{selected}");
        let none = ctl.run(&["get", "exe", "-l", "app=nope"]);
        assert!(
            none.status.success()
                && text(&none.stdout).is_empty()
                && text(&none.stderr).contains("No resources found")
        );

        let yaml = ctl.ok(&["get", "exe", "api", "-o", "yaml"]);
        for needle in [
            "apiVersion: kaspire.dev/v1alpha1",
            "kind: Executable",
            "name: api",
            "command: dotnet",
            "resourceVersion:",
            "uid:",
        ] {
            assert!(yaml.contains(needle), "-o yaml has {needle}:\n{yaml}");
        }
        let json: serde_json::Value =
            serde_json::from_str(&ctl.ok(&["get", "exe", "api", "-o", "json"])).unwrap();
        assert_eq!(json["spec"]["command"], "dotnet");
        assert_eq!(json["spec"]["args"][0], "run");
        assert_eq!(json["metadata"]["namespace"], ctl.ns.as_str());
        let list: serde_json::Value =
            serde_json::from_str(&ctl.ok(&["get", "exe", "-o", "json"])).unwrap();
        assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
        assert_eq!(ctl.jsonpath("exe/api", "{.spec.command}"), "dotnet");
        assert_eq!(
            ctl.ok(&["get", "exe", "-o", "jsonpath={.items[*].metadata.name}"]),
            "api worker"
        );

        // get -w: the current row first, then a new row when the object changes.
        let mut watch = ctl.spawn(&["get", "exe", "-w"]);
        let rx = lines_of(&mut watch);
        let mut seen = Vec::new();
        let initial = expect_line(&rx, &mut seen, |l| l.starts_with("worker "));
        if initial {
            set_status(ctl, "exe/worker", "Running", "True");
        }
        let changed = initial
            && expect_line(&rx, &mut seen, |l| {
                l.starts_with("worker ") && l.contains("Running")
            });
        let _ = watch.kill();
        let _ = watch.wait();
        assert!(initial && changed, "get -w lines: {seen:?}");
    });
}

#[test]
fn describe_shows_spec_and_events_from_both_event_apis_and_explain_documents_fields() {
    let server = Server::start();
    for_each_kubectl(&server, |ctl| {
        ctl.apply(&executable(
            "web",
            "app: web",
            "  command: sleep\n  args: [\"100\"]\n  restartPolicy: OnFailure\n",
        ));
        let uid = ctl.jsonpath("exe/web", "{.metadata.uid}");
        let core = format!(
            "apiVersion: v1\nkind: Event\nmetadata:\n  name: web.core\ninvolvedObject:\n  apiVersion: kaspire.dev/v1alpha1\n  kind: Executable\n  name: web\n  namespace: {ns}\n  uid: {uid}\nreason: ProcessStarted\nmessage: started pid 4242\ntype: Normal\nsource:\n  component: kaspire\nfirstTimestamp: \"2024-01-01T00:00:00Z\"\nlastTimestamp: \"2024-01-01T00:00:00Z\"\ncount: 1\n",
            ns = ctl.ns
        );
        assert!(
            ctl.ok_stdin(&["create", "-f", "-"], &core)
                .contains("web.core created")
        );
        let events = format!(
            "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata:\n  name: web.events\nregarding:\n  apiVersion: kaspire.dev/v1alpha1\n  kind: Executable\n  name: web\n  namespace: {ns}\n  uid: {uid}\nreason: Unhealthy\nnote: health probe http failed\ntype: Warning\naction: Probe\nreportingController: kaspire.dev/probe\nreportingInstance: kaspire-1\neventTime: \"2024-01-01T00:00:01.000000Z\"\n",
            ns = ctl.ns
        );
        assert!(
            ctl.ok_stdin(&["create", "-f", "-"], &events)
                .contains("web.events created")
        );
        // An event about another object must not show up.
        let other = core
            .replace("name: web.core", "name: other.core")
            .replace("  name: web\n", "  name: other\n")
            .replace("started pid 4242", "not me");
        ctl.ok_stdin(&["create", "-f", "-"], &other);

        let describe = ctl.ok(&["describe", "exe", "web"]);
        for needle in [
            "Name:         web",
            "Labels:       app=web",
            "Spec:",
            "Command:",
            "sleep",
            "OnFailure",
            "Events:",
            "ProcessStarted",
            "started pid 4242",
            "Unhealthy",
            "health probe http failed",
        ] {
            assert!(
                describe.contains(needle),
                "describe shows {needle:?}:\n{describe}"
            );
        }
        assert!(
            !describe.contains("not me"),
            "describe shows only this object's events:\n{describe}"
        );
        let events_section = describe.split("Events:").nth(1).unwrap();
        assert!(
            events_section
                .lines()
                .any(|l| l.contains("Normal") && l.contains("ProcessStarted")),
            "{describe}"
        );
        assert!(
            events_section
                .lines()
                .any(|l| l.contains("Warning") && l.contains("Unhealthy")),
            "{describe}"
        );
        // Describe by short name, and by label selector.
        assert!(
            ctl.ok(&["describe", "exe", "-l", "app=web"])
                .contains("Name:         web")
        );

        let spec = ctl.ok(&["explain", "executable.spec"]);
        for needle in [
            "KIND:",
            "Executable",
            "VERSION:",
            "v1alpha1",
            "command",
            "-required-",
            "args",
            "restartPolicy",
        ] {
            assert!(
                spec.contains(needle),
                "explain executable.spec shows {needle:?}:\n{spec}"
            );
        }
        let nested = ctl.ok(&["explain", "exe.spec.restartBackoff.initialSeconds"]);
        assert!(
            nested.contains("initialSeconds") && nested.contains("<integer>"),
            "{nested}"
        );
        assert!(
            nested.contains("First delay"),
            "the field's description: {nested}"
        );
        let err = ctl.fails(&["explain", "executable.spec.nope"]);
        assert!(err.contains("nope"), "{err}");
    });
}
