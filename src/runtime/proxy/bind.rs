//! The listening sockets of a proxy: one per address family, so clients that resolve
//! `localhost` to `::1` first (most of them, on a host with IPv6) reach the proxy as
//! well as those that pick `127.0.0.1`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Socket, Type};

use super::Protocol;

/// Pending connections the kernel queues for us; bursts of clients (a benchmark, a
/// dependent fanning out) should not see refusals while the accept loop catches up.
const BACKLOG: i32 = 1024;

/// How often port 0 is retried when the port the kernel gave the IPv4 socket turns
/// out to be taken on IPv6.
const PORT_ZERO_ATTEMPTS: usize = 20;

/// Where a proxied endpoint listens: the IPv4 and IPv6 loopback addresses, or — only
/// for an `external` endpoint — the unspecified address of each family (product.md §5).
pub fn listen_addrs(port: u16, external: bool) -> [SocketAddr; 2] {
    let (v4, v6) = if external {
        (Ipv4Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED)
    } else {
        (Ipv4Addr::LOCALHOST, Ipv6Addr::LOCALHOST)
    };
    [
        SocketAddr::new(IpAddr::V4(v4), port),
        SocketAddr::new(IpAddr::V6(v6), port),
    ]
}

/// A bound (and for TCP listening) socket, ready for Tokio.
pub(super) enum Bound {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
}

impl Bound {
    pub(super) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Bound::Tcp(listener) => listener.local_addr(),
            Bound::Udp(socket) => socket.local_addr(),
        }
    }
}

/// Binds `port` on both families per [`listen_addrs`]. The IPv6 socket is left out
/// when the host has no IPv6 loopback (or no IPv6 at all); any other failure of either
/// family is an error, since a client of that family would reach someone else. Port 0
/// gives both sockets the same port.
pub(super) fn both(port: u16, external: bool, protocol: Protocol) -> io::Result<Vec<Bound>> {
    let attempts = if port == 0 { PORT_ZERO_ATTEMPTS } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        let [v4, v6] = listen_addrs(port, external);
        let first = one(v4, protocol)?;
        let v6 = SocketAddr::new(v6.ip(), first.local_addr()?.port());
        match one(v6, protocol) {
            Ok(second) => return Ok(vec![first, second]),
            Err(error) if no_ipv6(&error) => return Ok(vec![first]),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no port bound")))
}

/// Binds one address. IPv6 sockets are IPv6-only, so the unspecified addresses of both
/// families can be bound side by side whatever `net.ipv6.bindv6only` says.
pub(super) fn one(addr: SocketAddr, protocol: Protocol) -> io::Result<Bound> {
    let domain = Domain::for_address(addr);
    let socket = match protocol {
        Protocol::Tcp => Socket::new(domain, Type::STREAM, None)?,
        Protocol::Udp => Socket::new(domain, Type::DGRAM, None)?,
    };
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if protocol == Protocol::Tcp {
        // Lets a restarted control plane bind again while old connections sit in TIME_WAIT.
        socket.set_reuse_address(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(match protocol {
        Protocol::Tcp => {
            socket.listen(BACKLOG)?;
            Bound::Tcp(socket.into())
        }
        Protocol::Udp => Bound::Udp(socket.into()),
    })
}

/// Whether binding an IPv6 address failed because the host has no such address or no
/// IPv6 at all, rather than because the port is taken.
fn no_ipv6(error: &io::Error) -> bool {
    use rustix::io::Errno;
    [
        Errno::ADDRNOTAVAIL,
        Errno::AFNOSUPPORT,
        Errno::PROTONOSUPPORT,
    ]
    .iter()
    .any(|errno| error.raw_os_error() == Some(errno.raw_os_error()))
}
