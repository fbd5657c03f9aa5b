//! TCP: accept, pick a ready replica (holding the client while there is none), dial
//! with fall-through, then copy both ways until either side is done.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_util::sync::CancellationToken;

use super::{Gauge, Shared};

/// Spawns the accept loop of `listener` (bound and listening, non-blocking).
pub(super) fn start(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    stop: CancellationToken,
) -> io::Result<JoinHandle<()>> {
    let listener = TcpListener::from_std(listener)?;
    Ok(tokio::spawn(accept_loop(listener, shared, stop)))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((client, _)) => {
                tokio::spawn(serve(client, shared.clone(), stop.clone()));
            }
            Err(error) => {
                // Out of file descriptors and the like: pause instead of spinning; the
                // listener itself stays usable.
                tracing::warn!(%error, "proxy accept failed");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        }
    }
}

/// One client connection from accept to close.
async fn serve(mut client: TcpStream, shared: Arc<Shared>, stop: CancellationToken) {
    let _ = client.set_nodelay(true);
    let connected = tokio::select! {
        _ = stop.cancelled() => None,
        connected = connect(&shared) => connected,
    };
    let Some((id, mut upstream)) = connected else {
        shared.dropped.fetch_add(1, Ordering::Relaxed);
        return;
    };
    shared.count_dispatch(id);
    let _active = Gauge::enter(&shared.active);
    tokio::select! {
        _ = stop.cancelled() => {}
        // One read and one write per message: a short read clears readiness, so no extra
        // EAGAIN read. Profiled under `cargo bench --bench proxy`: > 90 % of the proxy's CPU
        // is the kernel's (loopback TCP, netfilter, wakeups), ≈ 5 syscalls per request;
        // splice(2) through a pipe was slower for request/response traffic (two splices and
        // an EAGAIN per message) and 64 KiB buffers changed nothing for small messages.
        // Errors are resets by either peer; closing both sides is all there is to do.
        _ = copy_bidirectional(&mut client, &mut upstream) => {}
    }
}

/// Dials the next ready replica, falling through to the others on failure; while none
/// is ready (or all refuse) it waits for the next backend change, within the hold
/// limits. `None` when the hold limit or timeout is hit.
async fn connect(shared: &Shared) -> Option<(usize, TcpStream)> {
    let options = shared.options;
    let mut backends = shared.backends.subscribe();
    // Taken on the first wait only: the gauge counts held clients, the deadline bounds
    // the whole wait however many backend changes come and go.
    let mut hold: Option<(Gauge<'_>, Instant)> = None;
    loop {
        let snapshot = backends.borrow_and_update().clone();
        for backend in shared.dial_order(&snapshot) {
            match timeout(options.dial_timeout, TcpStream::connect(backend.addr)).await {
                Ok(Ok(upstream)) => {
                    let _ = upstream.set_nodelay(true);
                    return Some((backend.id, upstream));
                }
                Ok(Err(error)) => {
                    tracing::debug!(%error, addr = %backend.addr, "proxy dial failed");
                }
                Err(_) => tracing::debug!(addr = %backend.addr, "proxy dial timed out"),
            }
        }
        let deadline = match &hold {
            Some((_, deadline)) => *deadline,
            None => {
                let gauge = Gauge::try_enter(&shared.held, options.hold_limit)?;
                let deadline = Instant::now() + options.hold_timeout;
                hold = Some((gauge, deadline));
                deadline
            }
        };
        match timeout_at(deadline, backends.changed()).await {
            Ok(Ok(())) => continue,
            _ => return None,
        }
    }
}
