//! Port allocation that never hands one port to two holders on one machine.
//!
//! Every port kaspire gives out (an endpoint's `port` or a replica's `targetPort`) is
//! backed by a [`PortLease`]: an exclusively `flock`ed file `<port>.lease` in a
//! machine-wide directory per user (`$XDG_RUNTIME_DIR/kaspire-ports`, else
//! `/tmp/kaspire-ports-<uid>`). A lock belongs to an open file, so it is held exactly
//! as long as the lease lives and the kernel drops it when the holder dies, whichever
//! kaspire instance (or resource within one) that is. On top of the lease a bind test
//! skips ports some other program already uses.
//!
//! The control plane keeps a resource's leases while the resource owns the ports and
//! drops them when it lets go. After a control-plane restart it takes them again from
//! status: [`reserve`] for ports nothing listens on any more (the old proxies died with
//! the old control plane) and [`reclaim`] for target ports an adopted Persistent
//! process still listens on.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rand::Rng;
use rustix::fs::{FlockOperation, flock};

/// How many random candidates [`allocate`] tries before giving up.
const ATTEMPTS: usize = 200;

/// Lowest port [`allocate`] hands out: above the usual fixed dev ports (3000, 5000,
/// 5432, 6379, 8080, …) that users write into their YAML.
const ALLOCATE_FROM: u16 = 20000;

/// Why a port could not be leased. Messages are written for the user of the resource.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Something outside kaspire listens on the port.
    #[error("port {port} is already in use by another program; choose another `port` or free it")]
    InUse { port: u16 },
    /// Another kaspire resource (of this or another kaspire instance) holds the port.
    #[error(
        "port {port} is already taken by another kaspire resource (in this or another kaspire \
         instance); choose another `port`"
    )]
    Leased { port: u16 },
    /// Binding the port needs privileges the control plane lacks.
    #[error("port {port} needs privileges to bind; choose a `port` above 1023")]
    Privileged { port: u16 },
    /// Port 0 means "any port", which is [`allocate`]'s job.
    #[error("port 0 cannot be reserved; leave `port` out to have one allocated")]
    Zero,
    /// Every candidate was taken; the machine is almost out of ports.
    #[error("no free port found after {ATTEMPTS} attempts")]
    Exhausted,
    /// The lease directory or a lease file could not be used.
    #[error("cannot use the port lease file {path}: {source}")]
    LeaseFile { path: PathBuf, source: io::Error },
}

/// Transport a port is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// A port held for one owner until dropped. Dropping it releases the lock and removes
/// the lease file.
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    /// The locked lease file; closing it is what releases the lease.
    file: File,
    path: PathBuf,
}

impl PortLease {
    /// The leased port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        // Unlink while still locked: a competitor that opened the old file and locks it
        // after we close sees (in `lock`) that the path no longer names its file.
        let _ = fs::remove_file(&self.path);
        let _ = flock(&self.file, FlockOperation::Unlock);
    }
}

/// A free port (free for TCP and UDP alike), leased until the lease is dropped.
/// Candidates come from below the kernel's ephemeral range so that outgoing
/// connections never sit on them.
pub fn allocate() -> Result<PortLease, PortError> {
    let dir = lease_dir()?;
    let (low, high) = candidate_range();
    let mut rng = rand::rng();
    for _ in 0..ATTEMPTS {
        let port = rng.random_range(low..=high);
        let Some(lease) = lock(&dir, port)? else {
            continue;
        };
        if bind_test(port, Protocol::Tcp).is_ok() && bind_test(port, Protocol::Udp).is_ok() {
            return Ok(lease);
        }
    }
    Err(PortError::Exhausted)
}

/// Leases a fixed TCP port (an endpoint's `port` written in YAML, or one recorded in
/// status), failing when another kaspire resource holds it or a program listens on it.
pub fn reserve(port: u16) -> Result<PortLease, PortError> {
    reserve_for(port, Protocol::Tcp)
}

/// [`reserve`] for a given transport: a UDP endpoint is only blocked by UDP sockets.
pub fn reserve_for(port: u16, protocol: Protocol) -> Result<PortLease, PortError> {
    let lease = reclaim(port)?;
    bind_test(port, protocol)?;
    Ok(lease)
}

/// Leases a port without the bind test: for a target port recorded in status that an
/// adopted Persistent process still listens on after a control-plane restart.
pub fn reclaim(port: u16) -> Result<PortLease, PortError> {
    if port == 0 {
        return Err(PortError::Zero);
    }
    lock(&lease_dir()?, port)?.ok_or(PortError::Leased { port })
}

/// The machine-wide lease directory for this user, created private on first use.
pub fn lease_dir() -> Result<PathBuf, PortError> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(runtime) if !runtime.is_empty() => PathBuf::from(runtime).join("kaspire-ports"),
        _ => std::env::temp_dir().join(format!(
            "kaspire-ports-{}",
            rustix::process::getuid().as_raw()
        )),
    };
    let failed = |source| PortError::LeaseFile {
        path: dir.clone(),
        source,
    };
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(failed(error)),
    }
    // In a shared /tmp another user could have created the name first; their
    // directory must not decide which ports we may use.
    let meta = fs::symlink_metadata(&dir).map_err(failed)?;
    if !meta.is_dir() || meta.uid() != rustix::process::getuid().as_raw() {
        return Err(failed(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "not a directory owned by this user",
        )));
    }
    Ok(dir)
}

/// Locks `<dir>/<port>.lease`; `None` when someone else holds it.
fn lock(dir: &Path, port: u16) -> Result<Option<PortLease>, PortError> {
    let path = dir.join(format!("{port}.lease"));
    let failed = |source| PortError::LeaseFile {
        path: path.clone(),
        source,
    };
    loop {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(failed)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
            Err(errno) => return Err(failed(errno.into())),
        }
        // The previous holder may have unlinked the file between our open and our lock;
        // a lock on an unlinked file guards nothing, so start over with a fresh file.
        let opened = file.metadata().map_err(failed)?;
        match fs::metadata(&path) {
            Ok(now) if now.ino() == opened.ino() && now.dev() == opened.dev() => {}
            Ok(_) => continue,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(failed(error)),
        }
        let mut lease = PortLease { port, file, path };
        // The holder's pid, for a human looking at the directory; the lock is what counts.
        let _ = lease.file.set_len(0);
        let _ = writeln!(lease.file, "{}", std::process::id());
        return Ok(Some(lease));
    }
}

/// Fails when a socket of `protocol` is bound to `port` on any IPv4 or IPv6 address.
/// A wildcard bind conflicts with every specific address, so two binds cover them all.
fn bind_test(port: u16, protocol: Protocol) -> Result<(), PortError> {
    let addrs = [
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
    ];
    for addr in addrs {
        let result = match protocol {
            Protocol::Tcp => TcpListener::bind(addr).map(drop),
            Protocol::Udp => UdpSocket::bind(addr).map(drop),
        };
        match result {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => {
                return Err(PortError::InUse { port });
            }
            Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
                return Err(PortError::Privileged { port });
            }
            // No IPv6 on this machine: nothing can hold the port there either.
            Err(_) if addr.is_ipv6() => {}
            Err(_) => return Err(PortError::InUse { port }),
        }
    }
    Ok(())
}

/// Ports [`allocate`] draws from: [`ALLOCATE_FROM`] up to the ephemeral range, or the
/// whole unprivileged range when the ephemeral range leaves too little below it.
fn candidate_range() -> (u16, u16) {
    let ephemeral_low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    if ephemeral_low > ALLOCATE_FROM + 1000 {
        (ALLOCATE_FROM, ephemeral_low - 1)
    } else {
        (1024, u16::MAX)
    }
}

#[cfg(test)]
mod tests;
