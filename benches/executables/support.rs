//! What every phase of the executables bench shares: samples and the printed table,
//! the `kaspire serve` process under test, clocks, ports and process hygiene.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use crate::common::{Samples, Table, free_port, kaspire_binary, ms, target_dir};

// ---------------------------------------------------------------------------------
// Clocks

/// The realtime clock in seconds: the one clock the bench, its helper processes and
/// the peers' processes share.
pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

pub fn secs_of(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The first timestamp (seconds, realtime) a helper wrote to `file`, waiting up to `wait`.
pub fn read_stamp(file: &Path, wait: Duration) -> Option<f64> {
    let deadline = Instant::now() + wait;
    loop {
        if let Ok(text) = std::fs::read_to_string(file)
            && let Some(v) = text.lines().next().and_then(|l| l.trim().parse().ok())
        {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

// ---------------------------------------------------------------------------------
// Ports and HTTP

/// One `GET /health`; true on a 200.
pub fn healthy(port: u16) -> bool {
    let Ok(mut tcp) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = tcp.set_read_timeout(Some(Duration::from_millis(500)));
    if tcp
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    // Read the whole answer (the services close after it), so neither side resets.
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    answer.len() >= 12 && answer.starts_with(b"HTTP/1.") && &answer[9..12] == b"200"
}

/// Polls `GET /health` on `port` every `every` until it answers 200; the moment it did.
pub fn wait_healthy(port: u16, every: Duration, timeout: Duration) -> Option<Instant> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if healthy(port) {
            return Some(Instant::now());
        }
        std::thread::sleep(every);
    }
    None
}

// ---------------------------------------------------------------------------------
// Processes

/// The release `kaspire` binary: `KASPIRE_BIN`, else the one cargo built for this bench,
/// else `target/release/kaspire` (built once when missing).
/// The real python3 interpreter (not a pyenv shim script, whose start costs ~50 ms).
pub fn python() -> anyhow::Result<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "python3 is needed for the chain phase"
    );
    Ok(PathBuf::from(String::from_utf8(out.stdout)?.trim()))
}

/// Ends a peer orchestrator started as the leader of its own process group: SIGTERM
/// to the group (the orchestrator stops its children), SIGKILL to whatever is left
/// after `grace`. Returns once the group is empty.
pub fn stop_group(child: &mut Child, grace: Duration) {
    use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};
    let Some(pid) = Pid::from_raw(child.id() as i32) else {
        return;
    };
    let _ = kill_process_group(pid, Signal::TERM);
    let deadline = Instant::now() + grace;
    loop {
        let _ = child.try_wait();
        if test_kill_process_group(pid).is_err() {
            return;
        }
        if Instant::now() >= deadline {
            let _ = kill_process_group(pid, Signal::KILL);
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(20));
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn terminate(pid: u32) {
    use rustix::process::{Pid, Signal, kill_process};
    if let Some(pid) = Pid::from_raw(pid as i32) {
        let _ = kill_process(pid, Signal::TERM);
    }
}

/// Processes whose environment carries `KASPIRE_BENCH_RUN=<run>`: every process this
/// run started (through kaspire or a peer) that is still alive.
pub fn leftovers(run: &str) -> Vec<u32> {
    tagged(&format!("KASPIRE_BENCH_RUN={run}"))
}

/// Processes (other than this one) whose environment holds the entry `needle`.
pub fn tagged(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        // Zombies have an empty environ; they are gone once reaped.
        if let Ok(env) = std::fs::read(entry.path().join("environ"))
            && env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

/// SIGKILLs every process tagged `needle`; returns how many there were.
pub fn kill_tagged(needle: &str) -> usize {
    use rustix::process::{Pid, Signal, kill_process};
    let found = tagged(needle);
    for pid in &found {
        if let Some(pid) = Pid::from_raw(*pid as i32) {
            let _ = kill_process(pid, Signal::KILL);
        }
    }
    found.len()
}

/// CPU time (user + system) a process used so far, from /proc/<pid>/stat.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the `(comm)`, which may contain spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after comm.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64)
}

fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

// ---------------------------------------------------------------------------------
// The control plane under test

/// A running `kaspire serve`. [`Server::end_session`] ends it the normal way (SIGTERM:
/// Session executables stopped, then exit); dropping it SIGKILLs what is left.
pub struct Server {
    child: Child,
    pub kubeconfig: PathBuf,
}

impl Server {
    pub fn start(bin: &Path, state_dir: &Path, run: &str) -> anyhow::Result<Server> {
        let mut child = Command::new(bin)
            .args([
                "--state-dir",
                state_dir.to_str().expect("utf-8 path"),
                "serve",
                "--port",
                "0",
            ])
            .env("RUST_LOG", "warn")
            .env("KASPIRE_BENCH_RUN", run)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let first = lines.next().transpose()?.unwrap_or_default();
        anyhow::ensure!(
            first.contains("listening on https://127.0.0.1:"),
            "unexpected output from kaspire serve: {first:?}"
        );
        std::thread::spawn(move || for _ in lines {});
        Ok(Server {
            child,
            kubeconfig: state_dir.join("kubeconfig"),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// SIGTERM: the control plane stops every Session executable and exits. Returns how
    /// long that took, or `None` if it had not exited within `timeout`.
    pub fn end_session(&mut self, timeout: Duration) -> Option<Duration> {
        let started = Instant::now();
        terminate(self.child.id());
        while started.elapsed() < timeout {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
