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

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub struct Row {
    section: &'static str,
    name: String,
    value: String,
    reference: String,
    target: String,
}

#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Table {
    pub fn row(
        &mut self,
        section: &'static str,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> &mut Row {
        let row = Row {
            section,
            name: name.into(),
            value: value.into(),
            reference: String::new(),
            target: String::new(),
        };
        eprintln!("  {:<52} {}", row.name, row.value);
        self.rows.push(row);
        self.rows.last_mut().expect("just pushed")
    }

    pub fn print(&self) {
        let w = |f: fn(&Row) -> &str, min: usize| {
            self.rows
                .iter()
                .map(|r| f(r).chars().count())
                .max()
                .unwrap_or(0)
                .max(min)
        };
        let (wn, wv, wr) = (
            w(|r| &r.name, 6),
            w(|r| &r.value, 6),
            w(|r| &r.reference, 9),
        );
        let line = "-".repeat(wn + wv + wr + 30);
        println!("\n{line}");
        println!(
            "{:<wn$}  {:>wv$}  {:<wr$}  TARGET",
            "METRIC", "VALUE", "REFERENCE"
        );
        let mut section = "";
        for row in &self.rows {
            if row.section != section {
                section = row.section;
                println!("{line}\n[{section}]");
            }
            println!(
                "{:<wn$}  {:>wv$}  {:<wr$}  {}",
                row.name, row.value, row.reference, row.target
            );
        }
        println!("{line}");
        for note in &self.notes {
            println!("note: {note}");
        }
    }
}

impl Row {
    pub fn reference(&mut self, text: impl Into<String>) -> &mut Self {
        self.reference = text.into();
        self
    }
    pub fn at_least(&mut self, value: f64, target: f64, unit: &str) -> &mut Self {
        let verdict = if value >= target { "PASS" } else { "MISS" };
        self.target = format!("{verdict} (>= {target} {unit})");
        self
    }
    pub fn at_most(&mut self, value: f64, target: f64, unit: &str) -> &mut Self {
        let verdict = if value <= target { "PASS" } else { "MISS" };
        self.target = format!("{verdict} (<= {target} {unit})");
        self
    }
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
