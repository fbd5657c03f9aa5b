//! The control plane's side of the watchdog: start it, keep it alive, disarm it.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Wait between a watchdog's death and its replacement, doubled after each
/// watchdog that failed to start or died young, up to [`MAX_RESPAWN_DELAY`].
const RESPAWN_DELAY: Duration = Duration::from_millis(200);
const MAX_RESPAWN_DELAY: Duration = Duration::from_secs(15);
/// A watchdog that ran this long resets the delay.
const HEALTHY_RUN: Duration = Duration::from_secs(10);
/// How long [`Watchdog::disarm`] waits for the watchdog to leave.
const DISARM_TIMEOUT: Duration = Duration::from_secs(5);

/// A running `kaspire __watchdog` for one instance, restarted if it dies. Holds the
/// write end of its stdin: when this process dies, the watchdog stops the
/// instance's Session processes. Dropping it without [`Watchdog::disarm`] closes
/// the pipe too — the same as dying.
#[derive(Debug)]
pub struct Watchdog {
    /// Tells the supervising task to disarm (`Ok`) or to let go of the pipe (dropped).
    disarm: Option<oneshot::Sender<()>>,
    supervisor: Option<JoinHandle<()>>,
    /// Pid of the current watchdog process, 0 between a death and its replacement.
    pid: Arc<AtomicU32>,
}

impl Watchdog {
    /// Starts `kaspire_exe __watchdog --instance instance` (pass
    /// `std::env::current_exe()`) in its own process group and a task that restarts
    /// it whenever it dies. Must be called inside a Tokio runtime.
    pub fn spawn(kaspire_exe: &Path, instance: &str) -> io::Result<Watchdog> {
        let (child, stdin) = start(kaspire_exe, instance)?;
        let pid = Arc::new(AtomicU32::new(child.id().unwrap_or(0)));
        let (disarm, disarmed) = oneshot::channel();
        let supervisor = tokio::spawn(supervise(
            kaspire_exe.to_owned(),
            instance.to_owned(),
            Some((child, stdin)),
            pid.clone(),
            disarmed,
        ));
        Ok(Watchdog {
            disarm: Some(disarm),
            supervisor: Some(supervisor),
            pid,
        })
    }

    /// The pid of the watchdog process now running, if one is.
    pub fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::Acquire)).filter(|&p| p != 0)
    }

    /// Tells the watchdog to exit without stopping anything (the control plane
    /// already stopped what it had to) and waits for it to leave.
    pub async fn disarm(mut self) {
        if let Some(disarm) = self.disarm.take() {
            let _ = disarm.send(());
        }
        if let Some(supervisor) = self.supervisor.take() {
            let _ = supervisor.await;
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Dropping `disarm` makes the supervisor close the pipe and return.
        self.disarm.take();
    }
}

/// Starts one watchdog process; returns it with the write end of its stdin.
fn start(exe: &Path, instance: &str) -> io::Result<(Child, ChildStdin)> {
    // A binary replaced since start-up (a rebuild) is gone from its path, but
    // `/proc/self/exe`, resolved in the forked child, still names it.
    let exe = if exe.exists() {
        exe
    } else {
        Path::new("/proc/self/exe")
    };
    let mut child = Command::new(exe)
        .args(["__watchdog", "--instance", instance, "--parent"])
        .arg(std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        // Its warnings (what it stopped) belong where the control plane's go.
        .stderr(Stdio::inherit())
        // Not the control plane's group: Ctrl-C must not reach it.
        .process_group(0)
        // Do not pin the user's working directory.
        .current_dir("/")
        .kill_on_drop(false)
        .spawn()?;
    let stdin = child.stdin.take().expect("stdin is piped");
    Ok((child, stdin))
}

/// Keeps a watchdog running until told to disarm (or dropped), restarting it
/// whenever it exits.
async fn supervise(
    exe: PathBuf,
    instance: String,
    mut current: Option<(Child, ChildStdin)>,
    pid: Arc<AtomicU32>,
    mut disarmed: oneshot::Receiver<()>,
) {
    let mut started = tokio::time::Instant::now();
    let mut delay = RESPAWN_DELAY;
    loop {
        let exited = async {
            match current.as_mut() {
                Some((child, _)) => Some(child.wait().await),
                None => {
                    tokio::time::sleep(delay).await;
                    None
                }
            }
        };
        tokio::select! {
            request = &mut disarmed => {
                if let (Ok(()), Some((mut child, mut stdin))) = (request, current.take()) {
                    let _ = stdin.write_all(b"exit\n").await;
                    drop(stdin);
                    if tokio::time::timeout(DISARM_TIMEOUT, child.wait()).await.is_err() {
                        tracing::warn!("the watchdog did not exit when disarmed; killing it");
                        let _ = child.kill().await;
                    }
                }
                // Dropped unarmed: `current` goes out of scope here, closing the pipe.
                pid.store(0, Ordering::Release);
                return;
            }
            status = exited => {
                if let Some(status) = status {
                    let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                    tracing::warn!("the watchdog exited ({status}); starting a new one");
                    pid.store(0, Ordering::Release);
                    current = None;
                    delay = if started.elapsed() >= HEALTHY_RUN {
                        RESPAWN_DELAY
                    } else {
                        (delay * 2).min(MAX_RESPAWN_DELAY)
                    };
                    // Back to the top: wait `delay` (or a disarm request) first.
                    continue;
                }
                match start(&exe, &instance) {
                    Ok((child, stdin)) => {
                        pid.store(child.id().unwrap_or(0), Ordering::Release);
                        current = Some((child, stdin));
                        started = tokio::time::Instant::now();
                    }
                    Err(e) => {
                        tracing::warn!("cannot start the watchdog: {e}");
                        delay = (delay * 2).min(MAX_RESPAWN_DELAY);
                    }
                }
            }
        }
    }
}
