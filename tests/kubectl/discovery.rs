//! `api-resources`, `api-versions`, `create secret generic` and `create namespace`.

use crate::*;

#[test]
fn discovery_secrets_and_namespaces_work_through_kubectl() {
    let server = Server::start();
    for_each_kubectl(&server, |ctl| {
        let resources = ctl.ok(&["api-resources", "--api-group=kaspire.dev", "-o", "wide"]);
        for (plural, short, kind) in [
            ("executables", "exe", "Executable"),
            ("containers", "ctr", "Container"),
            ("parameters", "param", "Parameter"),
            ("values", "val", "Value"),
        ] {
            let line = resources
                .lines()
                .find(|l| l.starts_with(&format!("{plural} ")))
                .unwrap_or_else(|| panic!("no {plural}:\n{resources}"));
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(
                &cols[..5],
                [plural, short, "kaspire.dev/v1alpha1", "true", kind],
                "{line}"
            );
            assert!(
                line.contains("all,kaspire") || line.contains("kaspire,all"),
                "categories: {line}"
            );
            assert!(
                line.contains("patch")
                    && line.contains("watch")
                    && line.contains("deletecollection"),
                "verbs: {line}"
            );
        }
        let by_category = ctl.ok(&["api-resources", "--categories=kaspire", "-o", "name"]);
        let mut names: Vec<&str> = by_category.lines().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "containers.kaspire.dev",
                "executables.kaspire.dev",
                "parameters.kaspire.dev",
                "values.kaspire.dev"
            ]
        );
        let all = ctl.ok(&["api-resources"]);
        for core in [
            "namespaces",
            "secrets",
            "events",
            "customresourcedefinitions",
        ] {
            assert!(
                all.lines().any(|l| l.starts_with(core)),
                "api-resources lists {core}:\n{all}"
            );
        }
        let versions = ctl.ok(&["api-versions"]);
        for version in [
            "kaspire.dev/v1alpha1",
            "v1",
            "apiextensions.k8s.io/v1",
            "events.k8s.io/v1",
        ] {
            assert!(
                versions.lines().any(|l| l == version),
                "api-versions lists {version}:\n{versions}"
            );
        }

        let out = ctl.ok(&[
            "create",
            "secret",
            "generic",
            "db",
            "--from-literal=password=hunter2",
            "--from-literal=user=admin",
        ]);
        assert!(out.contains("secret/db created"), "{out}");
        let yaml = ctl.ok(&["get", "secret", "db", "-o", "yaml"]);
        assert!(
            yaml.contains("password: aHVudGVyMg=="),
            "data is base64:\n{yaml}"
        );
        assert!(
            yaml.contains("user: YWRtaW4=") && yaml.contains("type: Opaque"),
            "{yaml}"
        );
        assert!(!yaml.contains("hunter2"), "{yaml}");
        assert_eq!(
            ctl.jsonpath("secret/db", "{.data.password}"),
            "aHVudGVyMg=="
        );
        assert!(
            ctl.ok(&["get", "secrets"])
                .lines()
                .any(|l| l.starts_with("db "))
        );
        let err = ctl.fails(&[
            "create",
            "secret",
            "generic",
            "db",
            "--from-literal=password=again",
        ]);
        assert!(
            err.contains("AlreadyExists") || err.contains("already exists"),
            "{err}"
        );
        assert_eq!(
            ctl.jsonpath("secret/db", "{.data.password}"),
            "aHVudGVyMg=="
        );

        let team = format!("team-{}", ctl.ns);
        assert!(
            ctl.kubectl
                .ok(&["create", "namespace", &team])
                .contains(&format!("namespace/{team} created"))
        );
        assert!(
            ctl.kubectl
                .ok(&["get", "namespaces"])
                .lines()
                .any(|l| l.starts_with(&format!("{team} ")) && l.contains("Active"))
        );
        let exe = executable("svc", "app: svc", "  command: sleep\n");
        assert!(
            ctl.kubectl
                .ok_stdin(&["apply", "-n", &team, "-f", "-"], &exe)
                .contains("created")
        );
        assert!(
            ctl.kubectl
                .ok(&["get", "exe", "-n", &team, "-o", "name"])
                .contains("executable.kaspire.dev/svc")
        );
        assert!(
            !ctl.ok(&["get", "exe", "-o", "name"]).contains("svc"),
            "namespaces keep objects apart"
        );
        let everywhere = ctl.kubectl.ok(&["get", "exe", "-A"]);
        assert!(
            everywhere
                .lines()
                .any(|l| l.starts_with(&team) && l.contains("svc")),
            "{everywhere}"
        );
        assert!(
            ctl.kubectl
                .ok(&[
                    "create",
                    "secret",
                    "generic",
                    "tok",
                    "-n",
                    &team,
                    "--from-literal=t=x"
                ])
                .contains("created")
        );
        let out = ctl
            .kubectl
            .run_stdin(&["apply", "-n", "no-such-namespace", "-f", "-"], &exe);
        let err = text(&out.stderr);
        assert!(
            !out.status.success() && err.contains("no-such-namespace") && err.contains("not found"),
            "{err}"
        );
    });
}
