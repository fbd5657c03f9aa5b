//! The `http` probe: one HTTP/1.1 `GET` on a fresh connection; healthy iff the
//! response status is the expected one. The body is never read.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, HOST, USER_AGENT};
use http_body_util::Empty;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::tcp::{authority, connect_error};
use super::{ProbeOutcome, human};

/// `GET http://host:port/path`, compared against `expected`.
pub(super) async fn probe(
    host: &str,
    port: u16,
    path: &str,
    expected: u16,
    timeout: Duration,
) -> ProbeOutcome {
    let authority = authority(host, port);
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    let what = format!("GET http://{authority}{path}");
    match tokio::time::timeout(timeout, get(host, port, &authority, &path)).await {
        Ok(Ok(status)) if status == expected => {
            ProbeOutcome::healthy(format!("{what} returned {status}"))
        }
        Ok(Ok(status)) => {
            ProbeOutcome::unhealthy(format!("{what} returned {status}, expected {expected}"))
        }
        Ok(Err(reason)) => ProbeOutcome::unhealthy(format!("{what}: {reason}")),
        Err(_) => ProbeOutcome::unhealthy(format!("{what} timed out after {}", human(timeout))),
    }
}

/// The response status, or why there was none.
async fn get(host: &str, port: u16, authority: &str, path: &str) -> Result<u16, String> {
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| connect_error(&e))?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let request = http::Request::get(path)
        .header(HOST, authority)
        .header(USER_AGENT, "kaspire-probe")
        // One request per probe: let the server close instead of keeping an idle socket.
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("invalid request ({e}): fix the health check's path"))?;
    // The connection is driven here rather than in a spawned task, so a timeout
    // (which drops this future) closes the socket too.
    let response = sender.send_request(request);
    tokio::pin!(response, conn);
    let response = tokio::select! {
        biased;
        response = &mut response => response,
        // The server may close right after answering: the response is still there.
        closed = &mut conn => match closed {
            Ok(()) => response.await,
            Err(e) => Err(e),
        },
    };
    response
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}
