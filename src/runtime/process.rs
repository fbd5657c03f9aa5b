//! Spawning, identifying, stopping and adopting OS processes (Linux).
//!
//! Every process kaspire starts leads its own process group, so stopping it
//! reaches everything it forked: the shutdown signal goes to the whole group, and
//! after the timeout the group gets `SIGKILL`. Output is drained without ever
//! blocking the child ([`output`]). A process is identified by pid *and* start time
//! ([`ProcessIdentity`]), so a control plane that restarts can [`Adopted`] what it
//! started before without ever mistaking a reused pid for it.
//!
//! Every process also carries environment tags ([`tags`]), so [`find_tagged`] can
//! find an instance's processes in `/proc` with no recorded pid at all; the
//! [`Watchdog`] uses them to stop Session processes when the control plane dies.
//! Persistent processes write to files ([`OutputMode::Files`]) followed by a tailer
//! ([`tail_file`]), since pipes to a dead control plane would kill them.
//!
//! [`spawn`] needs a Tokio runtime; the drains and the reaper run as tasks on it.

mod adopt;
mod env_file;
mod files;
mod identity;
pub mod output;
mod resolve;
mod signal;
mod sweep;
pub mod tags;
mod tail;
pub mod watchdog;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_tagged;

use std::ffi::OsString;
use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use rustix::io::Errno;
use rustix::process::{Pid, kill_process_group};
use tokio::process::Command;
use tokio::sync::watch;
use tokio::time::Instant;

pub use adopt::{Adopted, ExitUnknown};
pub use identity::ProcessIdentity;
pub use output::{OutputSink, OutputStats, Stream};
pub use resolve::SpawnError;
pub use signal::{Signal, UnknownSignal, signal_from_name, signal_name};
pub use sweep::stop_tagged;
pub use tags::{TaggedProcess, Tags, find_tagged};
pub use tail::{MAX_FILE, TailFrom, TailHandle, tail_file};
pub use watchdog::Watchdog;

use identity::group_members;
use output::OutputHandle;

/// What to run. Mirrors the process fields of an Executable's spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessSpec {
    /// Program name (looked up in the child's `PATH`) or path (relative paths are
    /// resolved against `working_dir`).
    pub command: String,
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// Variables set on top of the inherited environment and `env_file`; later wins.
    pub env: Vec<(String, String)>,
    /// Directory to start in; the control plane's own when `None`.
    pub working_dir: Option<PathBuf>,
    /// dotenv-style file applied before `env`; a relative path is relative to the
    /// control plane's current directory, so pass an absolute one.
    pub env_file: Option<PathBuf>,
    /// Where stdout and stderr go.
    pub output: OutputMode,
}

/// Where a process's stdout and stderr go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OutputMode {
    /// Pipes drained by the control plane; the process gets `SIGPIPE` on its next
    /// write if the control plane is gone, so only for Session processes.
    #[default]
    Pipes,
    /// Files opened `O_APPEND | O_CREAT` (mode 0600, parent directories created),
    /// which outlive the control plane: for Persistent processes. [`spawn`] follows
    /// them from their current end ([`tail_file`]) while the process runs; the same
    /// path for both makes one combined file, delivered as stdout.
    Files {
        /// The stdout file.
        stdout: PathBuf,
        /// The stderr file.
        stderr: PathBuf,
    },
}

impl ProcessSpec {
    /// A spec running `command` with `args` and nothing else set.
    pub fn new(
        command: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            command: command.into(),
            args: args.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

/// How a child process ended: its exit code, or the signal that killed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Exit {
    /// The exit code when it exited by itself.
    pub code: Option<i32>,
    /// The signal number when a signal killed it.
    pub signal: Option<i32>,
}

impl Exit {
    /// Exited by itself with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl From<std::process::ExitStatus> for Exit {
    fn from(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        Self {
            code: status.code(),
            signal: status.signal(),
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exited with code {code}"),
            (None, Some(sig)) => write!(f, "killed by {}", signal_name(sig)),
            (None, None) => f.write_str("ended, status unknown"),
        }
    }
}

/// The result of a stop: how the process ended (`E` is [`Exit`] for our children,
/// [`ExitUnknown`] for adopted ones) and whether it took `SIGKILL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped<E> {
    /// How the process ended.
    pub exit: E,
    /// The group outlived the timeout and was sent `SIGKILL`.
    pub escalated: bool,
}

/// A process this control plane spawned. Cheap to clone: every clone observes the
/// same process. Dropping it leaves the process running (Persistent lifetimes).
#[derive(Clone)]
pub struct Running {
    identity: ProcessIdentity,
    exit: watch::Receiver<Option<Exit>>,
    output: OutputHandle,
}

/// Starts `spec` in its own process group with stdin from `/dev/null`, stdout and
/// stderr drained into `output` (through pipes or files, per [`ProcessSpec::output`]).
/// Must be called inside a Tokio runtime.
pub fn spawn(spec: &ProcessSpec, output: impl OutputSink) -> Result<Running, SpawnError> {
    if let Some(dir) = &spec.working_dir {
        resolve::check_working_dir(dir)?;
    }
    let mut env = match &spec.env_file {
        Some(path) => env_file::read(path)?,
        None => Vec::new(),
    };
    env.extend(spec.env.iter().cloned());
    let path_var = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| OsString::from(v))
        .or_else(|| std::env::var_os("PATH"));
    let program = resolve::resolve_command(
        &spec.command,
        path_var.as_deref(),
        spec.working_dir.as_deref(),
    )?;

    let sink: Arc<dyn OutputSink> = Arc::new(output);
    let (stdout, stderr, tail) = match &spec.output {
        OutputMode::Pipes => (Stdio::piped(), Stdio::piped(), None),
        OutputMode::Files { stdout, stderr } => {
            let (out, err) = files::open(stdout, stderr)?;
            let mut tailed = vec![(stdout.clone(), Stream::Stdout)];
            if stderr != stdout {
                tailed.push((stderr.clone(), Stream::Stderr));
            }
            // Measured before the child starts, so none of its output is skipped.
            let tail = tail::tail_files(tailed, sink.clone(), TailFrom::End, MAX_FILE);
            (out, err, Some(tail))
        }
    };

    let mut cmd = Command::new(&program);
    cmd.arg0(&spec.command)
        .args(&spec.args)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(false);
    if let Some(dir) = &spec.working_dir {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().map_err(|e| spawn_error(e, program.clone()))?;
    // Not reaped until the waiter below polls it, so /proc still has the entry even
    // if the child already exited.
    let identity = child
        .id()
        .and_then(|pid| ProcessIdentity::of(pid as i32).ok())
        .ok_or_else(|| {
            let _ = child.start_kill();
            SpawnError::Io {
                path: program.clone(),
                source: std::io::Error::other(
                    "the new process vanished before it could be identified",
                ),
            }
        })?;
    let output = match &tail {
        Some(tail) => tail.output(),
        None => output::drain(
            child.stdout.take().expect("stdout is piped"),
            child.stderr.take().expect("stderr is piped"),
            sink,
        ),
    };
    let (exit_tx, exit) = watch::channel(None);
    tokio::spawn(async move {
        let exit = match child.wait().await {
            Ok(status) => Exit::from(status),
            Err(e) => {
                tracing::warn!(pid = identity.pid, "cannot wait for child: {e}");
                Exit {
                    code: None,
                    signal: None,
                }
            }
        };
        let _ = exit_tx.send(Some(exit));
        // Files have no EOF: the exit is where the output ends.
        if let Some(tail) = tail {
            tail.stop().await;
        }
    });
    Ok(Running {
        identity,
        exit,
        output,
    })
}

fn spawn_error(e: std::io::Error, path: PathBuf) -> SpawnError {
    match Errno::from_io_error(&e) {
        Some(Errno::ACCESS | Errno::PERM) => SpawnError::NotExecutable { path },
        // The file exists (resolve checked), so ENOENT means its interpreter does not.
        Some(Errno::NOEXEC | Errno::NOENT) => SpawnError::BadExecutable { path, source: e },
        _ => SpawnError::Io { path, source: e },
    }
}

impl Running {
    /// Pid and start time; persist it to [`Adopted`] the process after a restart.
    pub fn identity(&self) -> ProcessIdentity {
        self.identity
    }

    /// How it ended, once it has.
    pub fn try_exit(&self) -> Option<Exit> {
        *self.exit.borrow()
    }

    /// Waits for the process (the group leader) to exit.
    pub async fn wait(&self) -> Exit {
        let mut exit = self.exit.clone();
        let result = exit
            .wait_for(Option::is_some)
            .await
            .map(|e| e.expect("checked"));
        result.unwrap_or(Exit {
            code: None,
            signal: None,
        })
    }

    /// Output counters so far (delivered and dropped lines).
    pub fn output_stats(&self) -> OutputStats {
        self.output.stats()
    }

    /// Waits until stdout and stderr are closed and every line reached the sink.
    /// A grandchild holding the pipes open delays this past [`Running::wait`].
    /// With [`OutputMode::Files`], resolves once the process exited and the files
    /// were read to their end.
    pub async fn output_drained(&self) {
        self.output.drained().await;
    }

    /// Sends `signal` to the whole process group, waits up to `timeout` for the
    /// group to be gone, then `SIGKILL`s the group. Also sweeps up group members
    /// left behind when the leader already exited.
    pub async fn stop(&self, signal: Signal, timeout: Duration) -> Stopped<Exit> {
        let pgid = self.identity.pid;
        // While the leader is unreaped or any member lives, the pgid cannot be reused.
        let owned = || self.try_exit().is_none() || !group_members(pgid).is_empty();
        let escalated = stop_group(pgid, signal, timeout, owned, self.wait()).await;
        Stopped {
            exit: self.wait().await,
            escalated,
        }
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("identity", &self.identity)
            .field("exit", &self.try_exit())
            .finish_non_exhaustive()
    }
}

/// Signals group `pgid` (only while `owned()` says the pgid is still ours), waits
/// for `leader_gone` and then for every member to be gone, and escalates to
/// `SIGKILL` at the deadline. Returns whether it escalated.
async fn stop_group(
    pgid: i32,
    signal: Signal,
    timeout: Duration,
    owned: impl Fn() -> bool,
    leader_gone: impl Future,
) -> bool {
    let deadline = Instant::now() + timeout;
    if owned() {
        signal_group(pgid, signal);
        if signal != Signal::KILL && signal != Signal::STOP {
            // A stopped process only acts on the signal once continued.
            signal_group(pgid, Signal::CONT);
        }
    }
    let gone = async {
        leader_gone.await;
        group_gone(pgid).await;
    };
    if tokio::time::timeout_at(deadline, gone).await.is_ok() {
        return false;
    }
    if owned() {
        signal_group(pgid, Signal::KILL);
    }
    // SIGKILL is not instant: let the kernel tear the members down.
    let _ = tokio::time::timeout(Duration::from_secs(2), group_gone(pgid)).await;
    true
}

/// Waits until process group `pgid` has no live member.
async fn group_gone(pgid: i32) {
    while !group_members(pgid).is_empty() {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn signal_group(pgid: i32, signal: Signal) {
    // Never 0 (our own group) or 1 (init); negative would mean "every process".
    let Some(pid) = Some(pgid).filter(|&p| p > 1).and_then(Pid::from_raw) else {
        return;
    };
    match kill_process_group(pid, signal) {
        Ok(()) | Err(Errno::SRCH) => {}
        Err(e) => tracing::warn!(
            pgid,
            "cannot send {} to process group: {e}",
            signal_name(signal.as_raw())
        ),
    }
}
