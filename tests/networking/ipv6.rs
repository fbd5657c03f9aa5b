//! `localhost` in URLs: many clients resolve it to `::1` first, so an endpoint's proxy
//! answers on both loopback addresses — and beyond loopback only when `external`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use crate::*;

/// A one-replica HTTP service (python's http.server on its target port) behind a proxy.
fn web(app: &App, name: &str, external: bool) -> u16 {
    let own_port = format!("{{{name}.endpoints.http.targetPort}}");
    app.apply_exe(
        name,
        json!({
            "command": python3(),
            "args": ["-m", "http.server", own_port, "--bind", "127.0.0.1"],
            "workingDir": app.path(""),
            "endpoints": [{"name": "http", "scheme": "http", "external": external}],
            "healthChecks": [{"http": {"endpoint": "http", "path": "/"}, "periodSeconds": 1}],
        }),
    );
    let ready = app.wait(name, "Ready", |e| is_true(e, "Ready"));
    endpoint_port(&ready, "http")
}

fn has_ipv6_loopback() -> bool {
    std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

/// An address of this host that is not loopback, if it has one.
fn non_loopback_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn the_url_works_whichever_address_localhost_resolves_to() {
    if !has_ipv6_loopback() {
        eprintln!("note: this host has no ::1; skipping the IPv6 half");
    }
    let app = App::start();
    let port = web(&app, "web", false);
    let url = app.get("exe", "web")["status"]["endpoints"][0]["url"].clone();
    assert_eq!(url, format!("http://localhost:{port}").as_str());
    // Every address `localhost` resolves to here, each tried on its own.
    let resolved: Vec<SocketAddr> = ("localhost", port).to_socket_addrs().unwrap().collect();
    for addr in resolved.iter().chain(&[v4(port)]) {
        if addr.is_ipv6() && !has_ipv6_loopback() {
            continue;
        }
        http_get(*addr, "/").unwrap_or_else(|e| panic!("GET via {addr}: {e}"));
    }
    if has_ipv6_loopback() {
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
        http_get(v6, "/").unwrap_or_else(|e| panic!("GET via {v6}: {e}"));
    }
    if let Some(ip) = non_loopback_ip() {
        let outside = SocketAddr::new(ip, port);
        assert!(
            std::net::TcpStream::connect_timeout(&outside, WAIT).is_err(),
            "a non-external endpoint accepted a connection on {outside}"
        );
    }
}

#[test]
fn an_external_endpoint_answers_on_every_interface_of_both_families() {
    let app = App::start();
    let port = web(&app, "public", true);
    let mut addrs = vec![v4(port)];
    if has_ipv6_loopback() {
        addrs.push(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
    }
    addrs.extend(non_loopback_ip().map(|ip| SocketAddr::new(ip, port)));
    for addr in addrs {
        http_get(addr, "/").unwrap_or_else(|e| panic!("GET via {addr}: {e}"));
    }
}
