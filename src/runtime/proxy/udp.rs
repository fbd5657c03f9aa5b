//! UDP: one session per client address, each with its own connected socket to one
//! replica, so replies find their way back to the right client.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

use super::{Backend, Gauge, Shared};

/// Largest UDP payload; datagrams are never split, so buffers must hold any of them.
const MAX_DATAGRAM: usize = 65536;

/// Most concurrent sessions; datagrams from further clients are dropped until idle
/// sessions close, so a flood of source addresses cannot exhaust file descriptors.
const MAX_SESSIONS: usize = 4096;

/// Spawns the receive loop of `socket` (bound, non-blocking).
pub(super) fn start(
    socket: std::net::UdpSocket,
    shared: Arc<Shared>,
    stop: CancellationToken,
) -> io::Result<JoinHandle<()>> {
    let socket = Arc::new(UdpSocket::from_std(socket)?);
    Ok(tokio::spawn(receive_loop(socket, shared, stop)))
}

/// A client's session, owned by the receive loop; dropping it ends its reply task.
struct Session {
    backend: Backend,
    upstream: Arc<UdpSocket>,
    /// Tells an ended task's notice apart from the session that replaced it.
    serial: u64,
    /// Milliseconds since the loop started at the last datagram either way.
    last_seen: Arc<AtomicU64>,
    /// Cancels the reply task when the session is dropped.
    task: CancellationToken,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.cancel();
    }
}

/// What every session of one proxy shares: where replies go and how sessions end.
struct Context {
    shared: Arc<Shared>,
    /// The listening socket; replies leave through it so clients see the proxy's address.
    listen: Arc<UdpSocket>,
    epoch: Instant,
    stop: CancellationToken,
    /// Reply tasks report `(client, serial)` here when they end on their own.
    ended: mpsc::UnboundedSender<(SocketAddr, u64)>,
}

async fn receive_loop(listen: Arc<UdpSocket>, shared: Arc<Shared>, stop: CancellationToken) {
    let mut backends = shared.backends.subscribe();
    let (ended, mut ended_rx) = mpsc::unbounded_channel();
    let context = Context {
        shared,
        listen,
        epoch: Instant::now(),
        stop,
        ended,
    };
    let mut sessions: HashMap<SocketAddr, Session> = HashMap::new();
    let mut serial = 0;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, client) = tokio::select! {
            _ = context.stop.cancelled() => return,
            Some((client, ended)) = ended_rx.recv() => {
                if sessions.get(&client).is_some_and(|s| s.serial == ended) {
                    sessions.remove(&client);
                }
                continue;
            }
            received = context.listen.recv_from(&mut buf) => match received {
                Ok(received) => received,
                Err(error) => {
                    tracing::debug!(%error, "proxy udp receive failed");
                    continue;
                }
            },
        };
        if backends.has_changed().unwrap_or(false) {
            // A replica that is gone (not merely unready) takes its sessions with it, so
            // their clients move to a live one instead of talking into the void.
            let current = backends.borrow_and_update().clone();
            sessions.retain(|_, session| {
                let kept = session.backend;
                current
                    .iter()
                    .any(|b| b.id == kept.id && b.addr == kept.addr)
            });
        }
        let full = sessions.len() >= MAX_SESSIONS;
        let session = match sessions.entry(client) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(_) if full => continue,
            Entry::Vacant(entry) => {
                serial += 1;
                let snapshot = backends.borrow().clone();
                match context.open(&snapshot, client, serial).await {
                    Some(session) => entry.insert(session),
                    None => continue,
                }
            }
        };
        session
            .last_seen
            .store(millis(context.epoch), Ordering::Relaxed);
        if session.upstream.send(&buf[..len]).await.is_err() {
            // The replica's port is closed (an ICMP error surfaced); the next datagram
            // from this client opens a session to another replica.
            sessions.remove(&client);
        }
    }
}

impl Context {
    /// Connects a socket to the next ready replica that accepts one and starts the task
    /// that carries its replies back to `client`.
    async fn open(&self, snapshot: &[Backend], client: SocketAddr, serial: u64) -> Option<Session> {
        for backend in self.shared.dial_order(snapshot) {
            let any: SocketAddr = match backend.addr {
                SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            let Ok(upstream) = UdpSocket::bind(any).await else {
                continue;
            };
            if upstream.connect(backend.addr).await.is_err() {
                continue;
            }
            self.shared.count_dispatch(backend.id);
            let session = Session {
                backend,
                upstream: Arc::new(upstream),
                serial,
                last_seen: Arc::new(AtomicU64::new(millis(self.epoch))),
                task: self.stop.child_token(),
            };
            tokio::spawn(self.replies(&session, client));
            return Some(session);
        }
        None
    }

    /// Carries a session's replies to its client until it has been idle too long, its
    /// replica's port closed, or the session was dropped.
    fn replies(&self, session: &Session, client: SocketAddr) -> impl Future<Output = ()> + use<> {
        let shared = self.shared.clone();
        let listen = self.listen.clone();
        let ended = self.ended.clone();
        let epoch = self.epoch;
        let upstream = session.upstream.clone();
        let last_seen = session.last_seen.clone();
        let cancel = session.task.clone();
        let serial = session.serial;
        async move {
            let _active = Gauge::enter(&shared.active);
            let idle = shared.options.udp_idle_timeout;
            let mut buf = vec![0u8; MAX_DATAGRAM];
            loop {
                let idle_for = millis(epoch).saturating_sub(last_seen.load(Ordering::Relaxed));
                let Some(left) = idle.checked_sub(Duration::from_millis(idle_for)) else {
                    break;
                };
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    received = timeout(left, upstream.recv(&mut buf)) => match received {
                        Ok(Ok(len)) => {
                            last_seen.store(millis(epoch), Ordering::Relaxed);
                            let _ = listen.send_to(&buf[..len], client).await;
                        }
                        Ok(Err(_)) => break,
                        // Re-checked at the top: client datagrams may have kept it alive.
                        Err(_) => {}
                    },
                }
            }
            let _ = ended.send((client, serial));
        }
    }
}

fn millis(epoch: Instant) -> u64 {
    epoch.elapsed().as_millis() as u64
}
