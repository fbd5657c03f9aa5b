//! Benchmarks cannot rot unnoticed: every `[[bench]]` of Cargo.toml runs its quick mode
//! under `cargo test` (so CI executes it and a broken bench fails the build), honours
//! the quick-mode and filter conventions of `benches/common`, and has the README block
//! `benches/run-all` rewrites from a full run.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `(name, harness, test)` of every `[[bench]]`.
fn benches() -> Vec<(String, Option<bool>, Option<bool>)> {
    let manifest: toml::Table = std::fs::read_to_string(root().join("Cargo.toml"))
        .expect("Cargo.toml")
        .parse()
        .expect("Cargo.toml parses");
    manifest
        .get("bench")
        .and_then(|b| b.as_array())
        .expect("Cargo.toml declares [[bench]] targets")
        .iter()
        .map(|bench| {
            let flag = |key: &str| bench.get(key).and_then(|v| v.as_bool());
            let name = bench
                .get("name")
                .and_then(|n| n.as_str())
                .expect("every [[bench]] has a name");
            (name.to_owned(), flag("harness"), flag("test"))
        })
        .collect()
}

#[test]
fn every_bench_runs_its_quick_mode_under_cargo_test() {
    let benches = benches();
    assert!(
        benches.len() >= 4,
        "fewer benches than expected: {benches:?}"
    );
    for (name, harness, test) in benches {
        assert_eq!(
            test,
            Some(true),
            "[[bench]] {name}: set `test = true` so `cargo test` (and CI) runs its quick mode"
        );
        assert_eq!(
            harness,
            Some(false),
            "[[bench]] {name}: `harness = false` — the bench's own main decides quick or full"
        );
        let source = std::fs::read_to_string(root().join(format!("benches/{name}.rs")))
            .unwrap_or_else(|e| panic!("benches/{name}.rs: {e}"));
        assert!(
            source.contains(&format!("filtered_out(\"{name}\")")),
            "benches/{name}.rs: main must start with `common::filtered_out(\"{name}\")` so a \
             test filter (`cargo test -- foo`) does not run it"
        );
        assert!(
            source.contains("print_block") || source.contains(&format!(".print(\"{name}\"")),
            "benches/{name}.rs: print the README block (common::print_block or Table::print)"
        );
    }
}

#[test]
fn every_bench_has_its_readme_block() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    for (name, _, _) in benches() {
        let start = format!("<!-- bench:{name} -->");
        let end = format!("<!-- /bench:{name} -->");
        let (Some(s), Some(e)) = (readme.find(&start), readme.find(&end)) else {
            panic!(
                "README.md: no `{start}` … `{end}` block for bench {name}: add one (benches/run-all --only {name} fills it)"
            );
        };
        assert!(s < e, "README.md: `{end}` comes before `{start}`");
        assert_eq!(
            readme.matches(&start).count(),
            1,
            "README.md: `{start}` appears more than once"
        );
    }
}

#[test]
fn the_refresh_script_knows_every_bench() {
    let script = root().join("benches/run-all");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .args(["--only", "no-such-bench"])
        .output()
        .expect("bash runs benches/run-all");
    assert_eq!(
        output.status.code(),
        Some(2),
        "an unknown bench is a usage error"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    for (name, _, _) in benches() {
        assert!(
            stderr.contains(&name),
            "benches/run-all does not list bench {name}: {stderr}"
        );
    }
}
