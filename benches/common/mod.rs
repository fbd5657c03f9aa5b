//! What both benchmarks share: phase selection, samples, the printed table, where the
//! release binary is, free ports and namespaces. Included by each bench with
//! `#[path = "common/mod.rs"] mod common;`.
// Each bench uses a different subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kube::api::{Api, PostParams};
use kube::core::ObjectMeta;

/// Whether a phase runs: all by default, or those named on the command line
/// (`cargo bench --bench NAME -- phase phase`).
pub fn selected(phase: &str) -> bool {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    wanted.is_empty() || wanted.iter().any(|w| w == phase)
}

// ---------------------------------------------------------------------------------
// Figures and the table

/// Sorted samples in milliseconds.
pub struct Samples(Vec<f64>);

impl Samples {
    pub fn new(mut v: Vec<f64>) -> Self {
        v.retain(|x| x.is_finite());
        v.sort_by(|a, b| a.total_cmp(b));
        Samples(v)
    }
    pub fn pct(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }
    pub fn median(&self) -> f64 {
        self.pct(50.0)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn min(&self) -> f64 {
        self.0.first().copied().unwrap_or(f64::NAN)
    }
    pub fn max(&self) -> f64 {
        self.0.last().copied().unwrap_or(f64::NAN)
    }
    /// "p50 / p90 ms (n=…)".
    pub fn p50_p90(&self) -> String {
        format!(
            "{:.1} / {:.1} ms (n={})",
            self.median(),
            self.pct(90.0),
            self.len()
        )
    }
}

/// 12345.6 → "12,346".
pub fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub struct Row {
    section: String,
    name: String,
    value: String,
    reference: String,
    /// The target's text (`≤ 2 ms`) and whether the value met it.
    target: Option<(String, bool)>,
}

/// The figures of one run: rows grouped by section, printed as the README's Markdown
/// table between `<!-- bench:NAME -->` markers (see [`print_block`]).
#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Table {
    pub fn row(
        &mut self,
        section: impl Into<String>,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> &mut Row {
        let row = Row {
            section: section.into(),
            name: name.into(),
            value: value.into(),
            reference: String::new(),
            target: None,
        };
        eprintln!("  {:<52} {}", row.name, row.value);
        self.rows.push(row);
        self.rows.last_mut().expect("just pushed")
    }

    /// The rows as a Markdown table, one bold line per section.
    pub fn markdown(&self) -> String {
        side_by_side(&[("result", self)])
    }

    /// Prints the README block of bench `name` (see [`print_block`]).
    pub fn print(&self, name: &str, run: &Run) {
        print_block(name, &self.markdown(), &self.notes, run);
    }
}

impl Row {
    pub fn reference(&mut self, text: impl Into<String>) -> &mut Self {
        self.reference = text.into();
        self
    }
    pub fn at_least(&mut self, value: f64, target: f64, unit: &str) -> &mut Self {
        self.target = Some((format!("≥ {target} {unit}"), value >= target));
        self
    }
    pub fn at_most(&mut self, value: f64, target: f64, unit: &str) -> &mut Self {
        self.target = Some((format!("≤ {target} {unit}"), value <= target));
        self
    }
}

/// Tables of the same rows measured under different conditions as one Markdown table
/// with a value column each (rows matched by section and name, in order of first
/// appearance). References that differ are prefixed by their column's name.
pub fn side_by_side(columns: &[(&str, &Table)]) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for (_, table) in columns {
        for row in &table.rows {
            if !keys.contains(&(row.section.as_str(), row.name.as_str())) {
                keys.push((&row.section, &row.name));
            }
        }
    }
    fn find<'t>(table: &'t Table, (section, name): (&str, &str)) -> Option<&'t Row> {
        table
            .rows
            .iter()
            .find(|r| r.section == section && r.name == name)
    }
    let heads: Vec<String> = columns.iter().map(|(name, _)| cell(name)).collect();
    let mut out = format!(
        "| figure | {} | same-run reference | target |\n|---|{}---|---|\n",
        heads.join(" | "),
        "---|".repeat(columns.len())
    );
    let mut section = "";
    for key in keys {
        if key.0 != section {
            section = key.0;
            out.push_str(&format!(
                "| **{}** |{} | |\n",
                cell(section),
                " |".repeat(columns.len())
            ));
        }
        let rows: Vec<Option<&Row>> = columns.iter().map(|(_, t)| find(t, key)).collect();
        let values: Vec<String> = rows
            .iter()
            .map(|r| r.map_or(String::new(), |r| format!("**{}**", cell(&r.value))))
            .collect();
        let mut references: Vec<(&str, &str)> = columns
            .iter()
            .zip(&rows)
            .filter_map(|((name, _), r)| r.map(|r| (*name, r.reference.as_str())))
            .filter(|(_, reference)| !reference.is_empty())
            .collect();
        references.dedup_by(|a, b| a.1 == b.1);
        let reference = match references.as_slice() {
            [(_, only)] => cell(only),
            many => many
                .iter()
                .map(|(name, r)| format!("{}: {}", cell(name), cell(r)))
                .collect::<Vec<_>>()
                .join("; "),
        };
        let target = rows
            .iter()
            .flatten()
            .find_map(|r| r.target.as_ref())
            .map(|(text, _)| {
                let marks: Vec<&str> = rows
                    .iter()
                    .map(|r| r.and_then(|r| r.target.as_ref()).map_or("", |t| mark(t.1)))
                    .collect();
                format!("{text} {}", marks.join(" / "))
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "| {} | {} | {reference} | {target} |\n",
            cell(key.1),
            values.join(" | ")
        ));
    }
    out
}

/// ✔ or ✘.
pub fn mark(ok: bool) -> &'static str {
    if ok { "✔" } else { "✘" }
}

// ---------------------------------------------------------------------------------
// Quick mode and the README block

/// Whether this run is the quick smoke run: `cargo test` runs every bench (they are
/// `test = true` in Cargo.toml) without the `--bench` flag `cargo bench` passes, and
/// each then runs tiny sizes without slow peers, so a bench that breaks fails CI.
/// `--quick` forces it under `cargo bench` too.
pub fn quick() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench")
}

/// `full` when measuring, `small` in [`quick`] mode.
pub fn size<T>(full: T, small: T) -> T {
    if quick() { small } else { full }
}

/// Ends a successful quick run with libtest's summary line, so the run counts as a
/// passed test wherever `cargo test` output is summed (`.ci/run` prints suite times
/// from it). A full run prints nothing more.
pub fn passed(started: std::time::Instant) {
    if quick() {
        println!(
            "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s",
            started.elapsed().as_secs_f64()
        );
    }
}

/// Under `cargo test`, a name given to filter tests (`cargo test -- foo`) reaches every
/// test binary; a bench then runs only when the filter names it.
pub fn filtered_out(bench: &str) -> bool {
    if !quick() {
        return false;
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let out = !filters.is_empty() && !filters.iter().any(|f| bench.contains(f.as_str()));
    if out {
        eprintln!("{bench} bench: not selected by the test filter {filters:?}");
    }
    out
}

/// The circumstances of one run, printed under its table: the machine is shared, so
/// its load belongs next to the figures.
pub struct Run {
    started: std::time::Instant,
    load_at_start: String,
}

impl Run {
    pub fn start() -> Run {
        Run {
            started: std::time::Instant::now(),
            load_at_start: load_average(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// "2 cores, load 1.02 at start and 2.31 at the end, 45 s, 2026-12-04, rev abc1234".
    pub fn describe(&self) -> String {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
        format!(
            "{cores} cores, load average {} at the start and {} at the end, {:.0} s in all, {}, kaspire {}{}",
            self.load_at_start,
            load_average(),
            self.started.elapsed().as_secs_f64(),
            jiff::Zoned::now().strftime("%Y-%m-%d"),
            revision(),
            if quick() {
                " — QUICK MODE: tiny sizes, not figures"
            } else {
                ""
            }
        )
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// `git describe`-style revision of the tree measured (`+dirty` when uncommitted).
fn revision() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let rev = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "?".into());
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(s) if !s.is_empty() => format!("{rev}+dirty"),
        _ => rev,
    }
}

/// Prints bench `name`'s README block on stdout: the markers `benches/run-all` looks
/// for, the body (a Markdown table), the notes, and how the run went.
pub fn print_block(name: &str, body: &str, notes: &[String], run: &Run) {
    println!("<!-- bench:{name} -->");
    print!("{body}");
    println!();
    for note in notes {
        println!("- {note}");
    }
    println!("- measured: {}", run.describe());
    println!("<!-- /bench:{name} -->");
}

pub fn kaspire_binary() -> anyhow::Result<PathBuf> {
    if let Ok(bin) = std::env::var("KASPIRE_BIN") {
        return Ok(PathBuf::from(bin));
    }
    if let Some(bin) = option_env!("CARGO_BIN_EXE_kaspire")
        && Path::new(bin).exists()
    {
        return Ok(PathBuf::from(bin));
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = target_dir().join("release").join("kaspire");
    if !bin.exists() {
        eprintln!("building {} (cargo build --release)", bin.display());
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--bin", "kaspire"])
            .current_dir(manifest)
            .status()?;
        anyhow::ensure!(status.success(), "cargo build --release failed");
    }
    Ok(bin)
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Creates namespace `name` (already there is fine).
pub async fn ensure_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
