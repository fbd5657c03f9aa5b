//! Processes started by an earlier run of the control plane: no longer our
//! children, so we can watch and stop them but never learn their exit status.

use std::time::Duration;

use rustix::process::{Pid, PidfdFlags, pidfd_open};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::identity::{group_members, read_stat};
use super::{ProcessIdentity, Signal, Stopped, stop_group};

/// How often liveness is polled when pidfds are unavailable.
const POLL: Duration = Duration::from_millis(100);

/// The process ended, but it was not our child: its exit status went to its new
/// parent (usually init), so nobody can tell us the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitUnknown;

/// A process found again after a control-plane restart, identified by pid and start
/// time; its process group is the one it leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adopted {
    identity: ProcessIdentity,
}

impl Adopted {
    /// Adopts the process `identity` names (which may already be gone).
    pub fn new(identity: ProcessIdentity) -> Self {
        Self { identity }
    }

    /// The identity it was adopted by.
    pub fn identity(&self) -> ProcessIdentity {
        self.identity
    }

    /// Still running, and still the same process (not a reused pid, not a zombie).
    pub fn is_alive(&self) -> bool {
        self.identity.is_alive()
    }

    /// Waits for the process to end: a pidfd when the kernel offers one, else
    /// polling `/proc` every 100 ms.
    pub async fn wait(&self) -> ExitUnknown {
        if let Some(pidfd) = Pid::from_raw(self.identity.pid.max(0))
            .and_then(|pid| pidfd_open(pid, PidfdFlags::empty()).ok())
        {
            // Checked after opening: if it is alive now with our start time, the fd
            // refers to our process (a pid cannot name two processes at once).
            if !self.is_alive() {
                return ExitUnknown;
            }
            // Deprecated because a borrowed fd could be closed while registered; this
            // `OwnedFd` moves into the `AsyncFd` and lives exactly as long as it.
            #[allow(deprecated)]
            let registered = AsyncFd::with_interest(pidfd, Interest::READABLE);
            if let Ok(fd) = registered {
                // A pidfd turns readable when the process exits.
                let _ = fd.readable().await;
                return ExitUnknown;
            }
        }
        while self.is_alive() {
            tokio::time::sleep(POLL).await;
        }
        ExitUnknown
    }

    /// Like [`Running::stop`](super::Running::stop): `signal` to the group, `SIGKILL`
    /// after `timeout`. Leftover members of the group are stopped even if the leader
    /// is gone, unless its pid now leads someone else's group.
    pub async fn stop(&self, signal: Signal, timeout: Duration) -> Stopped<ExitUnknown> {
        let escalated = stop_group(
            self.identity.pid,
            signal,
            timeout,
            || self.owns_group(),
            self.wait(),
        )
        .await;
        Stopped {
            exit: ExitUnknown,
            escalated,
        }
    }

    /// Whether signalling group `pid` reaches our processes. Once the leader is gone,
    /// the group number stays reserved while any member lives, so it can only have
    /// been reused if a different process now holds the leader's pid.
    fn owns_group(&self) -> bool {
        let pid = self.identity.pid;
        match read_stat(pid) {
            Ok(stat) if stat.start_time != self.identity.start_time => false,
            Ok(stat) if !stat.is_dead() => true,
            _ => !group_members(pid).is_empty(),
        }
    }
}
