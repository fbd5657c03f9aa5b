//! Making Session processes die with the control plane.
//!
//! # The problem
//! A Session process must not outlive a control plane that died (`kill -9`, OOM,
//! panic) for long. Every child leads its own process group, so no terminal or
//! parent signal reaches it, and `prctl(PR_SET_PDEATHSIG)` would have to run in the
//! child between `fork` and `exec` (`pre_exec`, which is `unsafe`; the crate forbids it).
//!
//! # Recommended design: one watchdog process per control plane
//! At start-up the control plane spawns `kaspire __watchdog` (its own binary, a
//! hidden subcommand) with a pipe: the control plane keeps the write end, the
//! watchdog reads commands from the other end:
//! `add <pid> <start_time>` / `remove <pid> <start_time>` for every Session process
//! group it starts or stops. When the pipe reaches EOF — the kernel closes it however
//! the control plane died, `SIGKILL` included — the watchdog stops every registered
//! group whose leader [`ProcessIdentity::is_alive`] (or, leader gone, via
//! [`Adopted::stop`], which refuses a group whose pid was reused): `SIGTERM`, the
//! resource's timeout, then `SIGKILL`, concurrently; then it exits. The watchdog
//! also sets `PR_SET_PDEATHSIG` on *itself* (safe through
//! `rustix::process::set_parent_process_death_signal`) as a second trigger, and runs
//! in its own process group so Ctrl-C on the terminal does not kill it first.
//!
//! Trade-offs:
//! - One extra process per control plane (not per child): ~1–2 MB RSS, no per-child
//!   cost, exit codes and pids stay those of the real children (no indirection for
//!   adoption, `kill`, or `/proc` identity).
//! - Latency: children die as soon as the kernel closes the pipe — milliseconds.
//! - If the watchdog itself is killed, the control plane sees its exit (it is our
//!   child) and respawns it, re-sending the current registry. If *both* are
//!   `SIGKILL`ed together (e.g. the whole cgroup), nothing is left to kill anyway.
//! - Registration races: a child spawned but not yet registered when the control plane
//!   dies escapes the watchdog; the start-up reaper below catches it on the next run.
//! - Persistent processes are simply never registered.
//!
//! Alternatives considered:
//! - *A supervisor per child* (`kaspire __supervise -- cmd`, reading an inherited pipe
//!   and killing its group on EOF): no registration race, but one extra process per
//!   replica (500 executables → 500 more processes), and the control plane then sees
//!   the supervisor's pid and exit status, which must be forwarded.
//! - *`PR_SET_PDEATHSIG` in the child*: needs `pre_exec` (`unsafe`); it fires when the
//!   spawning *thread* exits (Tokio's blocking-pool threads do, after 10 s idle), so it
//!   would kill healthy children; Linux only.
//! - *Polling from the child's side* is impossible: children are arbitrary programs.
//!
//! # What exists now: the start-up reaper
//! [`reap`] is the part every design needs: after a control-plane restart, Session
//! processes recorded by the previous run (pid + start time in the store) are stopped.
//! The future watchdog calls the same function on EOF.

use std::time::Duration;

use futures::future::join_all;

use super::{Adopted, ProcessIdentity, Signal};

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
