//! Real sockets on loopback: backends that name themselves, clients through the proxy.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::{Instant, sleep, timeout};

use super::*;

const LOOPBACK: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// A TCP backend that greets every connection with `<id>\n`, then echoes.
async fn tcp_backend(id: usize) -> Backend {
    let listener = TcpListener::bind(LOOPBACK).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                stream.write_all(format!("{id}\n").as_bytes()).await?;
                let (mut read, mut write) = stream.split();
                tokio::io::copy(&mut read, &mut write).await
            });
        }
    });
    Backend {
        id,
        addr,
        ready: true,
    }
}

/// An address nothing listens on, reserved while the returned socket lives: it is bound
/// but not listening, so connections are refused and no other test's listener can take
/// the port (a dropped listener's port could be handed to a parallel test's backend).
fn dead_addr() -> (SocketAddr, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(LOOPBACK).unwrap();
    (socket.local_addr().unwrap(), socket)
}

/// Connects through `addr` and returns the greeting backend's id and the open stream.
async fn greet(addr: SocketAddr) -> (usize, BufReader<TcpStream>) {
    let mut stream = BufReader::new(TcpStream::connect(addr).await.unwrap());
    let mut line = String::new();
    timeout(Duration::from_secs(5), stream.read_line(&mut line))
        .await
        .expect("no greeting")
        .unwrap();
    (line.trim().parse().expect("greeting"), stream)
}

async fn who(addr: SocketAddr) -> usize {
    greet(addr).await.0
}

async fn echo(stream: &mut BufReader<TcpStream>, text: &str) -> String {
    stream.get_mut().write_all(text.as_bytes()).await.unwrap();
    let mut buf = vec![0; text.len()];
    stream.read_exact(&mut buf).await.unwrap();
    String::from_utf8(buf).unwrap()
}

fn tcp_proxy() -> Proxy {
    let proxy = Proxy::listen(0, false, Protocol::Tcp).unwrap();
    assert!(proxy.local_addrs().iter().all(|a| a.ip().is_loopback()));
    proxy
}

fn counts(pairs: &[(usize, u64)]) -> BTreeMap<usize, u64> {
    pairs.iter().copied().collect()
}

#[tokio::test]
async fn connections_spread_evenly_over_three_ready_backends() {
    let proxy = tcp_proxy();
    let backends = vec![
        tcp_backend(0).await,
        tcp_backend(1).await,
        tcp_backend(2).await,
    ];
    proxy.set_backends(backends);
    let mut seen = BTreeMap::new();
    for _ in 0..30 {
        *seen.entry(who(proxy.local_addr()).await).or_insert(0u64) += 1;
    }
    assert_eq!(seen, counts(&[(0, 10), (1, 10), (2, 10)]));
    assert_eq!(proxy.stats().dispatched, seen);
}

#[tokio::test]
async fn unready_backend_gets_no_new_connections_until_it_is_ready_again() {
    let proxy = tcp_proxy();
    let mut backends = vec![
        tcp_backend(0).await,
        tcp_backend(1).await,
        tcp_backend(2).await,
    ];
    backends[1].ready = false;
    proxy.set_backends(backends.clone());
    for _ in 0..10 {
        assert_ne!(who(proxy.local_addr()).await, 1);
    }
    backends[1].ready = true;
    proxy.set_backends(backends);
    let mut ids: Vec<usize> = Vec::new();
    for _ in 0..3 {
        ids.push(who(proxy.local_addr()).await);
    }
    ids.sort();
    assert_eq!(ids, [0, 1, 2]);
}

#[tokio::test]
async fn established_connection_keeps_flowing_when_its_backend_leaves_readiness() {
    let proxy = tcp_proxy();
    let mut backend = tcp_backend(0).await;
    proxy.set_backends(vec![backend]);
    let (_, mut stream) = greet(proxy.local_addr()).await;
    backend.ready = false;
    proxy.set_backends(vec![backend]);
    assert_eq!(echo(&mut stream, "still here").await, "still here");
    assert_eq!(proxy.stats().active, 1);
}

#[tokio::test]
async fn connection_arriving_with_no_ready_backend_is_held_then_served() {
    let proxy = tcp_proxy();
    let mut stream = TcpStream::connect(proxy.local_addr()).await.unwrap();
    // Sent while held: must reach the backend once one is ready.
    stream.write_all(b"early").await.unwrap();
    let mut stream = BufReader::new(stream);
    wait_for(|| proxy.stats().held == 1).await;
    proxy.set_backends(vec![tcp_backend(7).await]);
    let mut line = String::new();
    stream.read_line(&mut line).await.unwrap();
    assert_eq!(line, "7\n");
    let mut early = [0; 5];
    stream.read_exact(&mut early).await.unwrap();
    assert_eq!(&early, b"early");
    assert_eq!(proxy.stats().held, 0);
}

#[tokio::test]
async fn held_connections_are_bounded_in_count_and_time() {
    let options = ProxyOptions {
        hold_limit: 1,
        hold_timeout: Duration::from_millis(300),
        ..ProxyOptions::default()
    };
    let proxy = Proxy::start_with(LOOPBACK, Protocol::Tcp, options).unwrap();
    let mut first = TcpStream::connect(proxy.local_addr()).await.unwrap();
    wait_for(|| proxy.stats().held == 1).await;
    let started = Instant::now();
    let mut second = TcpStream::connect(proxy.local_addr()).await.unwrap();
    assert_eq!(second.read(&mut [0; 1]).await.unwrap(), 0, "over the limit");
    assert!(started.elapsed() < Duration::from_millis(250));
    assert_eq!(
        first.read(&mut [0; 1]).await.unwrap(),
        0,
        "after the timeout"
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(proxy.stats().dropped, 2);
}

#[tokio::test]
async fn failed_dial_falls_through_to_the_next_ready_backend() {
    let proxy = tcp_proxy();
    let (addr, _reserved) = dead_addr();
    let dead = Backend {
        id: 0,
        addr,
        ready: true,
    };
    proxy.set_backends(vec![dead, tcp_backend(1).await]);
    for _ in 0..4 {
        assert_eq!(who(proxy.local_addr()).await, 1);
    }
    assert_eq!(proxy.stats().dispatched, counts(&[(1, 4)]));
}

#[tokio::test]
async fn connection_is_held_while_every_ready_backend_refuses() {
    let proxy = tcp_proxy();
    let (addr, _reserved) = dead_addr();
    let dead = Backend {
        id: 0,
        addr,
        ready: true,
    };
    proxy.set_backends(vec![dead]);
    let addr = proxy.local_addr();
    let client = tokio::spawn(who(addr));
    wait_for(|| proxy.stats().held == 1).await;
    proxy.set_backends(vec![dead, tcp_backend(1).await]);
    assert_eq!(client.await.unwrap(), 1);
}

#[tokio::test]
async fn shutdown_closes_connections_and_frees_the_port() {
    let proxy = tcp_proxy();
    let addr = proxy.local_addr();
    proxy.set_backends(vec![tcp_backend(0).await]);
    let (_, mut stream) = greet(addr).await;
    proxy.shutdown().await;
    let closed = timeout(Duration::from_secs(5), stream.read(&mut [0; 1])).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))));
    std::net::TcpListener::bind(addr).unwrap();
}

/// A UDP backend that answers every datagram with `<id>:<datagram>`.
async fn udp_backend(id: usize) -> Backend {
    let socket = UdpSocket::bind(LOOPBACK).await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0; 1500];
        loop {
            let (len, from) = socket.recv_from(&mut buf).await.unwrap();
            let mut reply = format!("{id}:").into_bytes();
            reply.extend_from_slice(&buf[..len]);
            socket.send_to(&reply, from).await.unwrap();
        }
    });
    Backend {
        id,
        addr,
        ready: true,
    }
}

async fn udp_ask(socket: &UdpSocket, to: SocketAddr, text: &str) -> String {
    socket.send_to(text.as_bytes(), to).await.unwrap();
    let mut buf = [0; 1500];
    let (len, _) = timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
        .await
        .expect("no udp reply")
        .unwrap();
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

#[tokio::test]
async fn udp_sessions_round_trip_and_stick_to_their_backend() {
    let proxy = Proxy::start(LOOPBACK, Protocol::Udp).unwrap();
    proxy.set_backends(vec![udp_backend(0).await, udp_backend(1).await]);
    let to = proxy.local_addr();
    let first = UdpSocket::bind(LOOPBACK).await.unwrap();
    let second = UdpSocket::bind(LOOPBACK).await.unwrap();
    assert_eq!(udp_ask(&first, to, "a").await, "0:a");
    assert_eq!(udp_ask(&second, to, "b").await, "1:b");
    assert_eq!(udp_ask(&first, to, "c").await, "0:c");
    assert_eq!(proxy.stats().dispatched, counts(&[(0, 1), (1, 1)]));
    assert_eq!(proxy.stats().active, 2);
}

#[tokio::test]
async fn idle_udp_session_is_closed_and_the_client_moves_on() {
    let options = ProxyOptions {
        udp_idle_timeout: Duration::from_millis(200),
        ..ProxyOptions::default()
    };
    let proxy = Proxy::start_with(LOOPBACK, Protocol::Udp, options).unwrap();
    proxy.set_backends(vec![udp_backend(0).await, udp_backend(1).await]);
    let client = UdpSocket::bind(LOOPBACK).await.unwrap();
    assert_eq!(udp_ask(&client, proxy.local_addr(), "a").await, "0:a");
    wait_for(|| proxy.stats().active == 0).await;
    assert_eq!(udp_ask(&client, proxy.local_addr(), "b").await, "1:b");
}

/// Whether this host can bind `::1` (containers without IPv6 cannot).
fn host_has_ipv6_loopback() -> bool {
    std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

#[tokio::test]
async fn proxy_listens_on_both_loopback_addresses_with_one_port() {
    let proxy = tcp_proxy();
    proxy.set_backends(vec![tcp_backend(4).await]);
    let port = proxy.local_addr().port();
    let mut expected = vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))];
    if host_has_ipv6_loopback() {
        expected.push(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
    } else {
        eprintln!("note: this host has no ::1; only the IPv4 listener is checked");
    }
    assert_eq!(proxy.local_addrs(), expected);
    // What a client that resolves `localhost` does: whichever family it picks works.
    for addr in expected {
        assert_eq!(who(addr).await, 4, "through {addr}");
    }
}

#[tokio::test]
async fn external_proxy_listens_on_every_interface_of_both_families() {
    let proxy = Proxy::listen(0, true, Protocol::Tcp).unwrap();
    proxy.set_backends(vec![tcp_backend(5).await]);
    let port = proxy.local_addr().port();
    assert_eq!(
        proxy.local_addr(),
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))
    );
    if host_has_ipv6_loopback() {
        assert_eq!(
            proxy.local_addrs()[1],
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))
        );
        assert_eq!(who(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await, 5);
    }
    assert_eq!(who(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await, 5);
    if let Some(ip) = non_loopback_ip() {
        assert_eq!(who(SocketAddr::new(ip, port)).await, 5, "through {ip}");
    }
}

#[tokio::test]
async fn loopback_proxy_is_not_reachable_from_other_interfaces() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("note: this host has no non-loopback address; nothing to check");
        return;
    };
    let proxy = tcp_proxy();
    proxy.set_backends(vec![tcp_backend(6).await]);
    let outside = SocketAddr::new(ip, proxy.local_addr().port());
    let refused = timeout(Duration::from_secs(5), TcpStream::connect(outside))
        .await
        .expect("connect timed out");
    assert!(refused.is_err(), "{outside} accepted a connection");
}

#[tokio::test]
async fn a_port_taken_on_ipv6_loopback_only_is_an_error_not_a_half_proxy() {
    let Ok(holder) = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)) else {
        eprintln!("note: this host has no ::1; nothing to check");
        return;
    };
    let port = holder.local_addr().unwrap().port();
    let error = Proxy::listen(port, false, Protocol::Tcp).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse, "{error}");
    // Nothing half-bound is left behind on IPv4.
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
}

#[tokio::test]
async fn udp_proxy_answers_on_both_loopback_addresses() {
    let proxy = Proxy::listen(0, false, Protocol::Udp).unwrap();
    proxy.set_backends(vec![udp_backend(0).await]);
    for addr in proxy.local_addrs().to_vec() {
        let client = UdpSocket::bind(SocketAddr::new(addr.ip(), 0))
            .await
            .unwrap();
        assert_eq!(udp_ask(&client, addr, "hi").await, "0:hi", "through {addr}");
    }
}

/// An address of this host that is not loopback (the one a default route leaves from),
/// if it has one. Connecting a UDP socket sends nothing.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// Polls `done` for up to five seconds.
async fn wait_for(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "condition not reached in time");
        sleep(Duration::from_millis(10)).await;
    }
}
