//! Environment tags that make kaspire's processes findable in `/proc` without
//! trusting any recorded pid: every process kaspire spawns carries them, and so
//! does everything it forks (the environment is inherited).
//!
//! [`find_tagged`] scans `/proc` for one instance's processes; [`stop_tagged`] stops
//! them without ever signalling a process that merely reuses a pid.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags, openat};

use super::ProcessIdentity;
use super::identity::parse_stat;
use crate::api::Lifetime;

/// The state directory's instance id ([`crate::state_dir::StateDir::instance_id`]).
pub const INSTANCE: &str = "KASPIRE_INSTANCE";
/// The uid of the Executable or Container the process runs for.
pub const RESOURCE: &str = "KASPIRE_RESOURCE";
/// The replica index within the resource.
pub const REPLICA_INDEX: &str = "KASPIRE_REPLICA_INDEX";
/// `Session` or `Persistent`: whether the process dies with the control plane.
pub const LIFETIME: &str = "KASPIRE_LIFETIME";
/// A hash of what the process was started from, to tell a stale Persistent process.
pub const LIFECYCLE_KEY: &str = "KASPIRE_LIFECYCLE_KEY";

/// The tags of one process, as set in its environment when it was started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    /// `KASPIRE_INSTANCE`.
    pub instance: String,
    /// `KASPIRE_RESOURCE`, the owning object's uid.
    pub resource: Option<String>,
    /// `KASPIRE_REPLICA_INDEX`.
    pub replica_index: Option<u32>,
    /// `KASPIRE_LIFETIME`; `None` when absent or not a known lifetime.
    pub lifetime: Option<Lifetime>,
    /// `KASPIRE_LIFECYCLE_KEY`.
    pub lifecycle_key: Option<String>,
}

impl Tags {
    /// The environment variables to add to a spawned process's `env`.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![(INSTANCE.to_owned(), self.instance.clone())];
        let mut push = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                env.push((key.to_owned(), value));
            }
        };
        push(RESOURCE, self.resource.clone());
        push(REPLICA_INDEX, self.replica_index.map(|i| i.to_string()));
        push(LIFETIME, self.lifetime.map(|l| lifetime_name(l).to_owned()));
        push(LIFECYCLE_KEY, self.lifecycle_key.clone());
        env
    }

    /// Parses a `/proc/<pid>/environ` block (`KEY=VALUE` entries separated by NUL);
    /// `None` unless it has `KASPIRE_INSTANCE`.
    pub fn parse(environ: &[u8]) -> Option<Tags> {
        let mut tags = Tags::default();
        let mut has_instance = false;
        for entry in environ.split(|&b| b == 0) {
            // Cheap reject: every tag starts with `KASPIRE_`.
            if !entry.starts_with(b"KASPIRE_") {
                continue;
            }
            let Some(eq) = entry.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (Ok(key), Ok(value)) = (
                std::str::from_utf8(&entry[..eq]),
                std::str::from_utf8(&entry[eq + 1..]),
            ) else {
                continue;
            };
            match key {
                INSTANCE => {
                    tags.instance = value.to_owned();
                    has_instance = true;
                }
                RESOURCE => tags.resource = Some(value.to_owned()),
                REPLICA_INDEX => tags.replica_index = value.parse().ok(),
                LIFETIME => tags.lifetime = parse_lifetime(value),
                LIFECYCLE_KEY => tags.lifecycle_key = Some(value.to_owned()),
                _ => {}
            }
        }
        has_instance.then_some(tags)
    }
}

/// The tag value for `lifetime`.
pub fn lifetime_name(lifetime: Lifetime) -> &'static str {
    match lifetime {
        Lifetime::Session => "Session",
        Lifetime::Persistent => "Persistent",
    }
}

fn parse_lifetime(value: &str) -> Option<Lifetime> {
    match value {
        "Session" => Some(Lifetime::Session),
        "Persistent" => Some(Lifetime::Persistent),
        _ => None,
    }
}

/// A live process carrying one instance's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedProcess {
    /// Pid and start time, read from the same `/proc` entry as the tags.
    pub identity: ProcessIdentity,
    /// Its process group.
    pub pgid: i32,
    /// It leads its process group (true for every process kaspire spawns; false
    /// for what those processes forked, unless they made their own group).
    pub leads_group: bool,
    /// Its tags.
    pub tags: Tags,
}

/// Every live process of our user tagged `KASPIRE_INSTANCE=instance`, except this
/// process itself. Processes that vanish mid-scan, zombies and processes we may
/// not read are skipped.
pub fn find_tagged(instance: &str) -> Vec<TaggedProcess> {
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    let uid = rustix::process::geteuid().as_raw();
    let mut buf = Vec::with_capacity(16 << 10);
    proc_dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter_map(|pid| read_tagged(pid, uid, instance, &mut buf).ok().flatten())
        .collect()
}

/// Reads one process's tags and stat through a directory fd of `/proc/<pid>`: the
/// fd keeps naming that process even if the pid is reused mid-read (reads then
/// fail with `ESRCH`), so tags and identity always belong to the same process.
fn read_tagged(
    pid: i32,
    uid: u32,
    instance: &str,
    buf: &mut Vec<u8>,
) -> io::Result<Option<TaggedProcess>> {
    let dir = openat(
        rustix::fs::CWD,
        format!("/proc/{pid}"),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    if rustix::fs::fstat(&dir)?.st_uid != uid {
        return Ok(None);
    }
    read_at(&dir, "environ", buf)?;
    let Some(tags) = Tags::parse(buf).filter(|t| t.instance == instance) else {
        return Ok(None);
    };
    read_at(&dir, "stat", buf)?;
    let Some(stat) = parse_stat(buf).filter(|s| !s.is_dead()) else {
        return Ok(None);
    };
    Ok(Some(TaggedProcess {
        identity: ProcessIdentity {
            pid,
            start_time: stat.start_time,
        },
        pgid: stat.pgrp,
        leads_group: stat.pgrp == pid,
        tags,
    }))
}

fn read_at(dir: &OwnedFd, name: &str, buf: &mut Vec<u8>) -> io::Result<()> {
    let fd = openat(
        dir.as_fd(),
        name,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    buf.clear();
    File::from(fd).read_to_end(buf)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_through_an_environ_block() {
        let tags = Tags {
            instance: "abc".into(),
            resource: Some("uid-1".into()),
            replica_index: Some(2),
            lifetime: Some(Lifetime::Persistent),
            lifecycle_key: Some("k".into()),
        };
        let mut environ = b"PATH=/bin\0KASPIRE_OTHER=x\0".to_vec();
        for (k, v) in tags.env() {
            environ.extend_from_slice(format!("{k}={v}\0").as_bytes());
        }
        assert_eq!(Tags::parse(&environ), Some(tags));
        assert_eq!(Tags::parse(b"PATH=/bin\0KASPIRE_RESOURCE=x\0"), None);
    }

    #[test]
    fn our_own_process_is_never_reported() {
        // The test process is untagged, but even if it were, it must not list itself.
        assert!(find_tagged("no-such-instance").is_empty());
    }
}
