//! The body of `kaspire __watchdog`: wait for the control plane to go away, then
//! stop its Session processes.

use std::io::{self, BufRead};
use std::time::Duration;

use rustix::process::{Pid, Signal, getppid, set_parent_process_death_signal};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::{SESSION_STOP_TIMEOUT, stop_session};

/// How often the watchdog checks that its parent still lives, in case the pipe's
/// write end leaked into another process and EOF never comes.
const PARENT_POLL: Duration = Duration::from_secs(1);

/// Why [`serve`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The control plane said `exit`: nothing was stopped.
    Disarmed,
    /// The control plane is gone; this many Session processes had to be stopped.
    Stopped(usize),
    /// A signal asked the watchdog to leave while the control plane still lives;
    /// the control plane starts a new one.
    Interrupted,
}

/// What the stdin reader saw.
enum Input {
    Exit,
    Eof,
}

/// Runs the watchdog for `instance` until the control plane (`parent`, or the
/// current parent when `None`) disarms it or goes away. Reads stdin on a thread of
/// its own, so a blocked read never holds up the process's exit.
pub async fn serve(instance: &str, parent: Option<i32>) -> io::Result<Outcome> {
    let parent = parent.and_then(Pid::from_raw).or_else(getppid);
    let orphaned = || getppid() != parent;
    // Handlers first: the death signal must not kill us before we can act on it.
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    // A signal of its own: the death signal also fires when the spawning *thread*
    // of a live control plane exits, and that one must be ignored, not obeyed.
    let mut parent_died = signal(SignalKind::user_defined1())?;
    set_parent_process_death_signal(Some(Signal::USR1))?;

    let (tx, mut input) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let _ = tx.send(read_stdin(io::stdin().lock()));
        })?;

    let mut poll = tokio::time::interval(PARENT_POLL);
    loop {
        tokio::select! {
            got = input.recv() => match got {
                Some(Input::Exit) => return Ok(Outcome::Disarmed),
                Some(Input::Eof) | None => break,
            },
            _ = parent_died.recv() => if orphaned() { break },
            _ = term.recv() => if !orphaned() { return Ok(Outcome::Interrupted) },
            _ = hup.recv() => if !orphaned() { return Ok(Outcome::Interrupted) },
            _ = int.recv() => if !orphaned() { return Ok(Outcome::Interrupted) },
            _ = poll.tick() => if orphaned() { break },
        }
    }
    let stopped = stop_session(instance, SESSION_STOP_TIMEOUT).await;
    if !stopped.is_empty() {
        tracing::warn!(
            "the control plane is gone: stopped {} Session process(es)",
            stopped.len()
        );
    }
    Ok(Outcome::Stopped(stopped.len()))
}

/// Reads lines until `exit` or EOF; other lines are ignored (room for commands a
/// newer control plane might send).
fn read_stdin(mut stdin: impl BufRead) -> Input {
    let mut line = Vec::new();
    loop {
        line.clear();
        match stdin.read_until(b'\n', &mut line) {
            Ok(0) => return Input::Eof,
            Ok(_) if line.trim_ascii() == b"exit" => return Input::Exit,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Input::Eof,
        }
    }
}
