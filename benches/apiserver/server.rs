//! The server under test: the real `kaspire serve` on a state dir, in one of the two
//! modes the bench compares.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What runs beside the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `kaspire serve --no-controllers`: the API server and its store alone.
    StoreAlone,
    /// `kaspire serve`: what a user's control plane runs — every controller reconciles
    /// the bench's objects (finalizer, status) while the bench writes them.
    Controllers,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::StoreAlone, Mode::Controllers];

    pub fn column(self) -> &'static str {
        match self {
            Mode::StoreAlone => "store alone",
            Mode::Controllers => "with controllers",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Mode::StoreAlone => "store",
            Mode::Controllers => "controllers",
        }
    }
}

/// A running `kaspire serve`; SIGKILLed when dropped.
pub struct Server {
    child: Child,
    kubeconfig: PathBuf,
    /// From exec to the "listening" line (kubeconfig written).
    pub ready: Duration,
}

impl Server {
    pub fn start(bin: &Path, state_dir: &Path, mode: Mode) -> anyhow::Result<Server> {
        let started = Instant::now();
        let mut command = Command::new(bin);
        command.args([
            "--state-dir",
            state_dir.to_str().expect("utf-8 path"),
            "serve",
            "--port",
            "0",
        ]);
        if mode == Mode::StoreAlone {
            command.arg("--no-controllers");
        }
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let first = lines.next().transpose()?.unwrap_or_default();
        let ready = started.elapsed();
        anyhow::ensure!(
            first.contains("listening on https://127.0.0.1:"),
            "unexpected output from kaspire serve: {first:?}"
        );
        std::thread::spawn(move || for _ in lines {});
        Ok(Server {
            child,
            kubeconfig: state_dir.join("kubeconfig"),
            ready,
        })
    }

    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    pub fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }

    /// SIGTERM and wait, so the store is closed cleanly before a restart.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        eprintln!("kaspire serve did not exit within 30 s of SIGTERM: killed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
