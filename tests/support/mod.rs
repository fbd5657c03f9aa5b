//! Shared fixtures for the end-to-end tests: a real `kaspire serve` process on a
//! temporary state dir, the real kubectl binaries present on the machine, and Docker
//! (`docker`: is an Engine there, the local test images).
#![allow(dead_code)]

pub mod app;
pub mod busybox;
pub mod docker;
pub mod processes;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A `kaspire serve` child process; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub state_dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub port: u16,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts a server on a fresh temporary state dir.
    pub fn start() -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("state");
        let mut server = Server::start_in(&dir);
        server._tmp = Some(tmp);
        server
    }

    /// Starts a server on `state_dir` (reused across restarts by crash tests).
    pub fn start_in(state_dir: &Path) -> Server {
        Server::start_with(state_dir, &[])
    }

    /// Starts a server on `state_dir` with extra environment (e.g. `DOCKER_HOST`).
    pub fn start_in_with_env(state_dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::spawn(state_dir, &[], env)
    }

    /// Starts the API server alone (`serve --no-controllers`) on a fresh temporary state
    /// dir: for tests of API semantics that use Executables as plain objects.
    pub fn start_api_only() -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("state");
        let mut server = Server::start_with(&dir, &["--no-controllers"]);
        server._tmp = Some(tmp);
        server
    }

    /// [`Server::start_api_only`] on a given state dir (reused across restarts).
    pub fn start_api_only_in(state_dir: &Path) -> Server {
        Server::start_with(state_dir, &["--no-controllers"])
    }

    fn start_with(state_dir: &Path, extra: &[&str]) -> Server {
        Server::spawn(state_dir, extra, &[])
    }

    fn spawn(state_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kaspire"))
            .args(["--state-dir", state_dir.to_str().unwrap(), "serve"])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn kaspire serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .expect("kaspire serve printed nothing")
            .expect("read stdout");
        let port: u16 = first
            .split("https://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from kaspire serve: {first}"));
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            state_dir: state_dir.to_path_buf(),
            kubeconfig: state_dir.join("kubeconfig"),
            port,
            _tmp: None,
        }
    }

    /// kubectl (the given binary) against this server, with a private discovery cache.
    pub fn kubectl(&self, kubectl: &Path) -> Kubectl {
        Kubectl {
            binary: kubectl.to_path_buf(),
            kubeconfig: self.kubeconfig.clone(),
            cache: self.state_dir.join(format!(
                "kubectl-cache-{}",
                // The full path: kubectl 1.32 and 1.35 are both called `kubectl`.
                kubectl.to_string_lossy().replace('/', "_")
            )),
        }
    }

    /// A kube client over the real HTTPS endpoint, from the written kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("config from kubeconfig");
        kube::Client::try_from(config).expect("client")
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self._tmp.take().map(|t| t.keep());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One kubectl binary bound to a server.
pub struct Kubectl {
    pub binary: PathBuf,
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        cmd
    }

    /// Runs kubectl and returns its output whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run kubectl")
    }

    /// Runs kubectl with `stdin` piped in.
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs kubectl, panicking with its stderr unless it succeeds; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {:?} failed:\n{}{}",
            self.binary.display(),
            args,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Like `ok`, with stdin.
    pub fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_stdin(args, stdin);
        assert!(
            out.status.success(),
            "{} {:?} failed:\n{}{}",
            self.binary.display(),
            args,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "{:?} unexpectedly succeeded:\n{}",
            args,
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// The kubectl binaries to test with: 1.27 and 1.33 (beside the real binary), the one on
/// PATH (1.32 here), and 1.35 (fetched by `../shared/tools/get-kubectl-1.35`, or the
/// path in `KUBECTL_1_35`). In CI (`CI=true`) a missing one is a failure.
pub fn kubectls() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let on_path = which("kubectl");
    let beside = on_path
        .as_ref()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_path_buf));
    for version in ["1.27", "1.33"] {
        match beside
            .as_ref()
            .map(|d| d.join(format!("kubectl.{version}")))
            .filter(|p| p.exists())
        {
            Some(p) => found.push(p),
            None => missing.push(format!("kubectl {version}")),
        }
    }
    match on_path {
        Some(p) => found.push(p),
        None => missing.push("kubectl on PATH".into()),
    }
    match kubectl_1_35() {
        Some(p) => found.push(p),
        None => missing.push("kubectl 1.35".into()),
    }
    if !missing.is_empty() {
        let message = format!("missing kubectl binaries: {}", missing.join(", "));
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{message}");
        }
        eprintln!("note: {message}; testing with the others");
    }
    found
}

fn kubectl_1_35() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("KUBECTL_1_35") {
        return Some(PathBuf::from(path)).filter(|p| p.exists());
    }
    shared_tool("kubectl")
}

/// `kubectl` 1.35 or `helm` 4, fetched (once, cached) by `../shared/tools/get-kubectl-1.35`.
pub fn shared_tool(name: &str) -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/get-kubectl-1.35");
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Some(PathBuf::from(dir).join(name)).filter(|p| out.status.success() && p.exists())
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// Polls `check` until it returns Some or `timeout` passes.
pub fn eventually<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
