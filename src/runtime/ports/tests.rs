use std::collections::HashSet;
use std::net::{TcpListener, UdpSocket};
use std::process::Command;

use super::*;

#[test]
fn concurrent_allocations_never_share_a_port() {
    let leases: Vec<PortLease> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| (0..25).map(|_| allocate().unwrap()).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect()
    });
    let ports: HashSet<u16> = leases.iter().map(PortLease::port).collect();
    assert_eq!(ports.len(), 200);
    assert!(ports.iter().all(|&port| port >= 1024));
}

#[test]
fn allocated_port_is_bindable_for_tcp_and_udp() {
    let lease = allocate().unwrap();
    TcpListener::bind(("127.0.0.1", lease.port())).unwrap();
    UdpSocket::bind(("127.0.0.1", lease.port())).unwrap();
}

#[test]
fn leased_port_is_refused_until_the_lease_is_dropped() {
    let lease = allocate().unwrap();
    let port = lease.port();
    let error = reserve(port).unwrap_err();
    assert!(matches!(error, PortError::Leased { port: p } if p == port));
    assert!(error.to_string().contains("another kaspire resource"));
    drop(lease);
    let again = reserve(port).unwrap();
    assert_eq!(again.port(), port);
}

#[test]
fn port_used_by_another_program_is_refused_with_a_clear_message() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let error = reserve(port).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "port {port} is already in use by another program; choose another `port` or free it"
        )
    );
    // The refused attempt must not leave a lease behind.
    drop(listener);
    reserve(port).unwrap();
}

#[test]
fn udp_reservation_ignores_a_tcp_listener_on_the_same_port() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    reserve_for(port, Protocol::Udp).unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_port = socket.local_addr().unwrap().port();
    assert!(matches!(
        reserve_for(udp_port, Protocol::Udp),
        Err(PortError::InUse { .. })
    ));
}

#[test]
fn reclaim_takes_a_port_our_adopted_process_still_listens_on() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let lease = reclaim(port).unwrap();
    assert!(matches!(reclaim(port), Err(PortError::Leased { .. })));
    drop(lease);
}

#[test]
fn lease_is_visible_to_other_processes_and_gone_after_drop() {
    let lease = allocate().unwrap();
    let path = lease_dir().unwrap().join(format!("{}.lease", lease.port()));
    // flock(1) stands in for a second kaspire instance on the same machine.
    let other = |path: &Path| {
        Command::new("flock")
            .args(["--nonblock", "--conflict-exit-code", "7"])
            .arg(path)
            .arg("true")
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(other(&path), Some(7));
    drop(lease);
    assert!(!path.exists());
}

#[test]
fn port_zero_cannot_be_reserved() {
    assert!(matches!(reserve(0), Err(PortError::Zero)));
}

#[test]
fn port_held_on_ipv6_loopback_only_is_refused() {
    // A proxy listens on ::1 too, so a lease must not hand out a port someone holds there.
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("note: this host has no ::1; nothing to check");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    assert!(matches!(reserve(port), Err(PortError::InUse { .. })));
}
