//! Stopping processes found by [`find_tagged`](super::find_tagged): whole groups
//! where a tagged process leads one, single processes otherwise, and never a pid
//! that now names someone else.

use std::collections::HashSet;
use std::time::Duration;

use futures::future::join_all;
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, pidfd_open, pidfd_send_signal};

use super::tags::TaggedProcess;
use super::{Adopted, ProcessIdentity, Signal, watchdog};

/// How long a `SIGKILL`ed process is given to disappear.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// Stops `procs`, concurrently: `signal` (then `SIGCONT`), and `SIGKILL` after
/// `timeout`. A process leading its group is stopped with its whole group; a tagged
/// process in a group led by no tagged process (a daemon that left its parent's
/// group, or a group whose leader exited) is stopped alone, so a group that is not
/// ours is never signalled. Every identity is re-checked right before signalling.
/// Returns the identities that were still running.
pub async fn stop_tagged(
    procs: &[TaggedProcess],
    signal: Signal,
    timeout: Duration,
) -> Vec<ProcessIdentity> {
    let led: HashSet<i32> = procs
        .iter()
        .filter(|p| p.leads_group)
        .map(|p| p.pgid)
        .collect();
    let leaders = procs.iter().filter(|p| p.leads_group).map(|p| p.identity);
    let loose = procs
        .iter()
        .filter(|p| !p.leads_group && !led.contains(&p.pgid))
        .map(|p| stop_one(p.identity, signal, timeout));
    let (mut stopped, loose) =
        futures::join!(watchdog::reap(leaders, signal, timeout), join_all(loose));
    stopped.extend(loose.into_iter().flatten());
    stopped
}

/// Stops the single process `identity` (not its group). Signals go through a pidfd
/// opened and then verified, so they cannot reach a process that reused the pid.
async fn stop_one(
    identity: ProcessIdentity,
    signal: Signal,
    timeout: Duration,
) -> Option<ProcessIdentity> {
    let target = Target::open(identity)?;
    target.send(signal);
    if signal != Signal::KILL && signal != Signal::STOP {
        target.send(Signal::CONT);
    }
    let adopted = Adopted::new(identity);
    if tokio::time::timeout(timeout, adopted.wait()).await.is_err() {
        target.send(Signal::KILL);
        let _ = tokio::time::timeout(KILL_GRACE, adopted.wait()).await;
    }
    Some(identity)
}

/// A live process, held so that signals reach exactly it.
enum Target {
    /// A pidfd opened while the process had the expected start time.
    Pidfd(std::os::fd::OwnedFd, ProcessIdentity),
    /// No pidfds (Linux < 5.3): the identity is re-checked before every kill, which
    /// leaves only a microsecond window for pid reuse.
    Pid(ProcessIdentity),
}

impl Target {
    fn open(identity: ProcessIdentity) -> Option<Target> {
        let pid = Pid::from_raw(identity.pid).filter(|_| identity.pid > 1)?;
        let target = match pidfd_open(pid, PidfdFlags::empty()) {
            Ok(fd) => Target::Pidfd(fd, identity),
            Err(Errno::NOSYS) => Target::Pid(identity),
            Err(_) => return None,
        };
        // Checked after opening: alive now with our start time means the fd names
        // our process, as a pid cannot name two processes at once.
        identity.is_alive().then_some(target)
    }

    fn send(&self, signal: Signal) {
        let result = match self {
            Target::Pidfd(fd, _) => pidfd_send_signal(fd, signal),
            Target::Pid(identity) if identity.is_alive() => rustix::process::kill_process(
                Pid::from_raw(identity.pid).expect("checked in open"),
                signal,
            ),
            Target::Pid(_) => Ok(()),
        };
        match result {
            Ok(()) | Err(Errno::SRCH) => {}
            Err(e) => {
                let (Target::Pidfd(_, id) | Target::Pid(id)) = self;
                tracing::warn!(pid = id.pid, "cannot signal tagged process: {e}");
            }
        }
    }
}
