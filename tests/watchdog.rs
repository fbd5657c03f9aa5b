//! The watchdog through the real binary: when whatever holds its pipe dies, the
//! instance's Session process groups die too; Persistent ones, other instances'
//! and untagged processes live on; `exit` disarms it; a killed watchdog is replaced.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kaspire::runtime::process::tags::{INSTANCE, LIFETIME};
use kaspire::runtime::process::{ProcessIdentity, Watchdog, find_tagged};

const KASPIRE: &str = env!("CARGO_BIN_EXE_kaspire");

fn instance() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

/// A process kaspire could have started: its own group, tagged. It prints the
/// pid of a member it forked, so tests can check the whole group.
struct Tagged {
    child: Child,
    leader: ProcessIdentity,
    member: ProcessIdentity,
}

impl Tagged {
    fn start(script: &str, tags: &[(&str, &str)]) -> Tagged {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("sleep 1000 & echo $!; {script}")])
            .stdout(Stdio::piped())
            .process_group(0);
        for (k, v) in tags {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let member = ProcessIdentity::of(line.trim().parse().unwrap()).unwrap();
        let leader = ProcessIdentity::of(child.id() as i32).unwrap();
        Tagged {
            child,
            leader,
            member,
        }
    }

    fn alive(&self) -> bool {
        self.leader.is_alive() && self.member.is_alive()
    }

    fn gone(&self) -> bool {
        !self.leader.is_alive() && !self.member.is_alive()
    }
}

impl Drop for Tagged {
    fn drop(&mut self) {
        // Only while the group is certainly still ours.
        if !(self.leader.is_alive() || self.member.is_alive()) {
            let _ = self.child.wait();
            return;
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.leader.pid)])
            .status();
        let _ = self.child.wait();
    }
}

/// A Session, a Session that ignores SIGTERM, a Persistent process of `id`, one of
/// another instance and an untagged one.
struct World {
    session: Tagged,
    stubborn: Tagged,
    persistent: Tagged,
    foreign: Tagged,
    untagged: Tagged,
}

impl World {
    fn start(id: &str) -> World {
        let session = [(INSTANCE, id), (LIFETIME, "Session")];
        World {
            session: Tagged::start("wait", &session),
            stubborn: Tagged::start("trap '' TERM; while :; do sleep 0.1; done", &session),
            persistent: Tagged::start("wait", &[(INSTANCE, id), (LIFETIME, "Persistent")]),
            foreign: Tagged::start("wait", &[(INSTANCE, "another"), (LIFETIME, "Session")]),
            untagged: Tagged::start("wait", &[]),
        }
    }

    /// Waits until the Session groups are gone, then checks the others survived.
    fn assert_only_session_stopped(&self, within: Duration) {
        let started = Instant::now();
        while !(self.session.gone() && self.stubborn.gone()) {
            assert!(
                started.elapsed() < within,
                "Session processes still alive after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(self.persistent.alive(), "a Persistent process was stopped");
        assert!(
            self.foreign.alive(),
            "another instance's process was stopped"
        );
        assert!(self.untagged.alive(), "an untagged process was stopped");
    }

    fn assert_all_alive(&self) {
        for (name, p) in [
            ("session", &self.session),
            ("stubborn", &self.stubborn),
            ("persistent", &self.persistent),
        ] {
            assert!(p.alive(), "{name} was stopped");
        }
    }
}

fn spawn_watchdog(id: &str) -> Child {
    Command::new(KASPIRE)
        .args(["__watchdog", "--instance", id])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Lets the watchdog install its handlers: it only reacts to EOF after that.
fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn closing_the_pipe_stops_session_groups_only() {
    let id = instance();
    let world = World::start(&id);
    let mut watchdog = spawn_watchdog(&id);
    settle();
    // 3 tagged groups of 2, and the stubborn loop's short-lived `sleep 0.1`.
    assert!(find_tagged(&id).len() >= 6);
    drop(watchdog.stdin.take());
    // The stubborn group needs the 5 s SIGTERM grace, then SIGKILL.
    world.assert_only_session_stopped(Duration::from_secs(10));
    assert!(watchdog.wait().unwrap().success());
    let left = find_tagged(&id);
    assert_eq!(left.len(), 2, "the Persistent group is left: {left:?}");
    assert!(left.iter().all(|p| p.identity == world.persistent.leader
        || p.identity == world.persistent.member));
}

#[test]
fn sigkill_of_the_pipe_holder_stops_session_groups() {
    let id = instance();
    let world = World::start(&id);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    // The holder plays the control plane: the watchdog's parent and the only
    // writer of its stdin, killed with no chance to clean up.
    let script = r#"mkfifo "$2"; "$0" __watchdog --instance "$1" < "$2" & exec 3> "$2"; echo ready; exec sleep 1000"#;
    let mut holder = Command::new("sh")
        .args(["-c", script, KASPIRE, &id, &fifo.display().to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    settle();
    world.assert_all_alive();
    holder.kill().unwrap();
    holder.wait().unwrap();
    world.assert_only_session_stopped(Duration::from_secs(10));
}

#[tokio::test]
async fn exit_disarms_the_watchdog() {
    let id = instance();
    let world = World::start(&id);
    let watchdog = Watchdog::spawn(Path::new(KASPIRE), &id).unwrap();
    let pid = watchdog.pid().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::time::timeout(Duration::from_secs(10), watchdog.disarm())
        .await
        .expect("disarm returns once the watchdog exited");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "watchdog reaped"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    world.assert_all_alive();
}

#[tokio::test]
async fn a_killed_watchdog_is_replaced_and_dropping_the_handle_fires_it() {
    let id = instance();
    let world = World::start(&id);
    let watchdog = Watchdog::spawn(Path::new(KASPIRE), &id).unwrap();
    let first = watchdog.pid().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    Command::new("kill")
        .args(["-KILL", &first.to_string()])
        .status()
        .unwrap();
    let started = Instant::now();
    loop {
        match watchdog.pid() {
            Some(pid) if pid != first => break,
            _ if started.elapsed() > Duration::from_secs(10) => panic!("no new watchdog"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    world.assert_all_alive();
    drop(watchdog);
    tokio::task::spawn_blocking(move || world.assert_only_session_stopped(Duration::from_secs(10)))
        .await
        .unwrap();
}
