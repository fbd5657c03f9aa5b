//! Who a process is: a pid alone is not an identity (pids are reused), a pid plus
//! its kernel start time is. Read from `/proc`, so Linux only.

use std::fs;
use std::io;

use serde::{Deserialize, Serialize};

/// A process as the kernel knows it: its pid and its start time (field 22 of
/// `/proc/<pid>/stat`, clock ticks since boot). Persist it to recognise the same
/// process after a control-plane restart; a reused pid has a different start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProcessIdentity {
    /// The process id; for processes kaspire spawns it is also the process group id.
    pub pid: i32,
    /// Clock ticks since boot at which the process started.
    pub start_time: u64,
}

/// The fields of `/proc/<pid>/stat` kaspire needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    /// One-letter state (`R`, `S`, `Z`, …).
    pub state: u8,
    /// Process group id (field 5).
    pub pgrp: i32,
    /// Start time in clock ticks since boot (field 22).
    pub start_time: u64,
}

impl Stat {
    /// A zombie (`Z`) or dead (`X`/`x`) process has exited: it only waits to be reaped.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

impl ProcessIdentity {
    /// The identity of the live process `pid`; `NotFound` if there is none.
    pub fn of(pid: i32) -> io::Result<Self> {
        let stat = read_stat(pid)?;
        Ok(Self {
            pid,
            start_time: stat.start_time,
        })
    }

    /// True only if `pid` exists, is not a zombie, and started when this identity
    /// says it did — a reused pid is not this process.
    pub fn is_alive(&self) -> bool {
        matches!(read_stat(self.pid), Ok(s) if s.start_time == self.start_time && !s.is_dead())
    }
}

impl std::fmt::Display for ProcessIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} (started at tick {})", self.pid, self.start_time)
    }
}

/// Reads and parses `/proc/<pid>/stat`.
pub(crate) fn read_stat(pid: i32) -> io::Result<Stat> {
    if pid <= 0 {
        return Err(io::Error::new(io::ErrorKind::NotFound, "not a process id"));
    }
    let raw = fs::read(format!("/proc/{pid}/stat"))?;
    parse_stat(&raw).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unparsable /proc/{pid}/stat"),
        )
    })
}

/// Parses a `stat` line. The command name (field 2) is in parentheses and may itself
/// hold spaces and parentheses, so the fixed fields start after the *last* `)`.
pub(crate) fn parse_stat(raw: &[u8]) -> Option<Stat> {
    let close = raw.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&raw[close + 1..]).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // `fields[0]` is field 3 (state), so field N is `fields[N - 3]`.
    Some(Stat {
        state: *fields.first()?.as_bytes().first()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// Live (non-zombie) members of process group `pgid`, found by scanning `/proc`.
pub(crate) fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| matches!(read_stat(pid), Ok(s) if s.pgrp == pgid && !s.is_dead()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_hostile_command_names() {
        let line = b"4242 (we ird) (x) S) R 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.state, b'R');
        assert_eq!(s.pgrp, 4242);
        assert_eq!(s.start_time, 987654);
    }

    #[test]
    fn truncated_stat_is_rejected() {
        assert_eq!(parse_stat(b"1 (init) S 0 1"), None);
        assert_eq!(parse_stat(b"garbage"), None);
    }

    #[test]
    fn own_identity_is_alive_and_a_wrong_start_time_is_not() {
        let me = ProcessIdentity::of(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        let impostor = ProcessIdentity {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!impostor.is_alive());
        assert!(ProcessIdentity::of(0).is_err());
    }
}
