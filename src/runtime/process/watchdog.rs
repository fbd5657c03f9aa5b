//! Making Session processes die with the control plane.
//!
//! # The problem
//! A Session process must not outlive a control plane that died (`kill -9`, OOM,
//! panic) for long. Every child leads its own process group, so no terminal or
//! parent signal reaches it, and `prctl(PR_SET_PDEATHSIG)` would have to run in the
//! child between `fork` and `exec` (`pre_exec`, which is `unsafe`; the crate forbids it).
//!
//! # The design: one watchdog process per control plane
//! At start-up the control plane spawns `kaspire __watchdog --instance ID` (its own
//! binary, a hidden subcommand) through [`Watchdog::spawn`], keeping the write end
//! of a pipe that is the watchdog's stdin. Nothing is ever registered: every process
//! kaspire starts carries `KASPIRE_INSTANCE` and `KASPIRE_LIFETIME` in its
//! environment ([`tags`](super::tags)), so the watchdog finds them in `/proc` when
//! it needs them. When the pipe reaches EOF — the kernel closes it however the
//! control plane died, `SIGKILL` included — the watchdog stops every process tagged
//! with its instance and `KASPIRE_LIFETIME=Session` ([`stop_session`]): `SIGTERM`
//! to each group, `SIGKILL` after 5 s, all concurrently; then it exits. A clean
//! shutdown stops what it must itself and then [`Watchdog::disarm`]s: the line
//! `exit` makes the watchdog leave without touching anything.
//!
//! Second trigger: the watchdog sets `PR_SET_PDEATHSIG` on *itself* (safe through
//! `rustix`) and also checks its parent once a second, in case the pipe's write end
//! leaked into another process. It runs in its own process group, so Ctrl-C on the
//! terminal does not kill it before the control plane has stopped its processes.
//!
//! Trade-offs:
//! - One extra process per control plane (not per child): ~1–2 MB RSS, no per-child
//!   cost; pids and exit codes stay those of the real children.
//! - Latency: children get `SIGTERM` as soon as the kernel closes the pipe.
//! - No registration race: a child spawned a microsecond before the control plane
//!   died is tagged from its first instruction, so the scan finds it.
//! - If the watchdog is killed, [`Watchdog`] notices (it is our child) and starts a
//!   new one. If *both* die together (the whole cgroup), nothing is left to kill.
//! - Persistent processes are never touched: their lifetime tag says so.
//!
//! Alternatives considered:
//! - *A supervisor per child* (`kaspire __supervise -- cmd`): one extra process per
//!   replica, and the control plane sees the supervisor's pid and exit status.
//! - *`PR_SET_PDEATHSIG` in the child*: needs `pre_exec` (`unsafe`); it fires when the
//!   spawning *thread* exits (Tokio's blocking-pool threads do, after 10 s idle), so it
//!   would kill healthy children; Linux only.
//!
//! # After a control-plane restart
//! [`reap`] stops Session processes recorded by the previous run (pid + start time
//! in the store); [`stop_session`] is the same sweep driven by the tags alone.

mod handle;
mod serve;

pub use handle::Watchdog;
pub use serve::{Outcome, serve};

use std::time::Duration;

use futures::future::join_all;

use super::tags::{TaggedProcess, find_tagged};
use super::{Adopted, ProcessIdentity, Signal, stop_tagged};
use crate::api::Lifetime;

/// How long Session processes get between `SIGTERM` and `SIGKILL` when the control
/// plane is gone (their own `shutdown.timeoutSeconds` is not in their tags).
pub const SESSION_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Stops every process group in `leftovers` still led by the recorded process (or
/// still holding members), concurrently: `signal`, then `SIGKILL` after `timeout`.
/// Returns the identities that needed stopping.
pub async fn reap(
    leftovers: impl IntoIterator<Item = ProcessIdentity>,
    signal: Signal,
    timeout: Duration,
) -> Vec<ProcessIdentity> {
    let stops = leftovers.into_iter().map(|identity| async move {
        let adopted = Adopted::new(identity);
        let was_running = adopted.is_alive();
        adopted.stop(signal, timeout).await;
        was_running.then_some(identity)
    });
    join_all(stops).await.into_iter().flatten().collect()
}

/// Stops every live process tagged with `instance` and `KASPIRE_LIFETIME=Session`:
/// `SIGTERM`, then `SIGKILL` after `timeout`, groups concurrently. Scans again
/// afterwards (up to three times) to catch processes forked during the stop.
/// Returns the identities that needed stopping.
pub async fn stop_session(instance: &str, timeout: Duration) -> Vec<ProcessIdentity> {
    let mut stopped = Vec::new();
    for _ in 0..3 {
        let session: Vec<TaggedProcess> = find_tagged(instance)
            .into_iter()
            .filter(|p| p.tags.lifetime == Some(Lifetime::Session))
            .collect();
        if session.is_empty() {
            break;
        }
        stopped.extend(stop_tagged(&session, Signal::TERM, timeout).await);
    }
    stopped
}
