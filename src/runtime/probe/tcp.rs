//! The `tcp` probe: healthy iff a connection is accepted.

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;

use super::{ProbeOutcome, human};

/// Connects to `host:port` and closes the connection at once.
pub(super) async fn probe(host: &str, port: u16, timeout: Duration) -> ProbeOutcome {
    let addr = authority(host, port);
    match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Ok(Ok(_stream)) => ProbeOutcome::healthy(format!("connected to {addr}")),
        Ok(Err(e)) => ProbeOutcome::unhealthy(format!("{} on {addr}", connect_error(&e))),
        Err(_) => ProbeOutcome::unhealthy(format!(
            "connecting to {addr} timed out after {}",
            human(timeout)
        )),
    }
}

/// `host:port`, with an IPv6 address in brackets.
pub(super) fn authority(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A connect error in the words users know ("connection refused"), else the OS's.
pub(super) fn connect_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
        _ => format!("cannot connect ({e})"),
    }
}
