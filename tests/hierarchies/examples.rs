//! The examples: `parent-value.yaml` (no images) comes up with `kaspire up --wait` — the
//! database Value created inside its parent process, the migration completed, the API
//! Ready — and `postgres.yaml` (which needs Docker and the Postgres image to run) is
//! accepted by the API server as it stands (`kubectl apply --dry-run=server`).

use crate::cli_support::{self, kaspire};
use crate::*;

fn example(name: &str) -> String {
    format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_parent_value_example_comes_up_with_up_wait() {
    let app = cli_support::App::new();
    let out = kaspire(&app.state)
        .args([
            "up",
            "--detach",
            "--wait",
            "--timeout",
            "180",
            "-f",
            &example("parent-value.yaml"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kaspire up --wait failed:\n{}{}",
        cli_support::stdout(&out),
        cli_support::stderr(&out)
    );
    let table = app.get(&["--tree"]);
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{table}"))
            .to_owned()
    };
    assert!(row("└─ appdata").contains("Running (Ready)"), "{table}");
    assert!(row("migrate").contains("Finished"), "{table}");
    assert!(row(" api ").contains("Running (Ready)"), "{table}");
    let log = cli_support::ok(&app.state, &["logs", "appdata"]);
    assert!(log.contains("CREATE DATABASE appdata: HTTP 201"), "{log}");
    let log = cli_support::ok(&app.state, &["logs", "migrate"]);
    assert!(log.contains("migrated appdata"), "{log}");

    let instance = app.instance();
    cli_support::ok(&app.state, &["down"]);
    let left = eventually(WAIT, || {
        let left = tagged("KASPIRE_INSTANCE", &instance);
        left.is_empty().then_some(())
    });
    assert!(
        left.is_some(),
        "processes left after kaspire down: {:?}",
        tagged("KASPIRE_INSTANCE", &instance)
    );
}

#[test]
fn the_postgres_example_applies_cleanly() {
    let server = Server::start_api_only();
    let kubectl = server.kubectl(Path::new("kubectl"));
    let out = kubectl.ok(&["apply", "--dry-run=server", "-f", &example("postgres.yaml")]);
    for object in [
        "parameter.kaspire.dev/pg-password",
        "container.kaspire.dev/pg",
        "value.kaspire.dev/appdata",
        "executable.kaspire.dev/migrate",
        "executable.kaspire.dev/api",
    ] {
        assert!(
            out.contains(&format!("{object} created (server dry run)")),
            "{out}"
        );
    }
    assert_eq!(kubectl.ok(&["get", "kaspire", "-o", "name"]), "");
}
