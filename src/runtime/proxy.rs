//! The in-process L4 proxy in front of a proxied endpoint's replicas (product.md §5).
//!
//! One [`Proxy`] listens on an endpoint's `port` and spreads clients round-robin over the
//! replicas that are currently ready. The controller feeds it with
//! [`Proxy::set_backends`] on every readiness change; that call only swaps a snapshot,
//! so it is cheap. Established TCP connections and UDP sessions stay with their
//! replica when it leaves readiness; only new ones go elsewhere.
//!
//! A proxy listens on both address families — `127.0.0.1` and `::1`, or every interface
//! of both for an `external` endpoint ([`Proxy::listen`]) — because URLs say
//! `localhost` and many clients try `::1` first.
//!
//! TCP: a connection that arrives while no replica is ready is held — up to
//! [`ProxyOptions::hold_limit`] connections for [`ProxyOptions::hold_timeout`] — and
//! dispatched as soon as one turns ready; a dial that fails moves on to the next ready
//! replica. UDP: each client address gets a session with its own socket to
//! one replica, closed after [`ProxyOptions::udp_idle_timeout`] without traffic.
//! Datagrams that arrive while no replica is ready are dropped, as UDP allows.

mod bind;
mod tcp;
mod udp;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use super::ports::Protocol;
pub use bind::listen_addrs;

/// One replica behind the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Backend {
    /// The replica index; counters are kept per id across [`Proxy::set_backends`] calls.
    pub id: usize,
    /// Where the replica listens (its target port).
    pub addr: SocketAddr,
    /// Whether the replica passes readiness; only ready ones get new clients.
    pub ready: bool,
}

/// Limits of a proxy; [`Default`] is what the control plane uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyOptions {
    /// Most TCP connections held at once while no replica is ready; more are closed.
    pub hold_limit: usize,
    /// Longest a TCP connection is held before it is closed.
    pub hold_timeout: Duration,
    /// Longest a dial to one replica may take before the next one is tried.
    pub dial_timeout: Duration,
    /// A UDP session without traffic either way for this long is closed.
    pub udp_idle_timeout: Duration,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self {
            hold_limit: 1024,
            hold_timeout: Duration::from_secs(30),
            dial_timeout: Duration::from_secs(5),
            udp_idle_timeout: Duration::from_secs(60),
        }
    }
}

/// What a proxy did so far, for tests and the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// TCP connections (or UDP sessions) handed to each backend id, ever.
    pub dispatched: BTreeMap<usize, u64>,
    /// TCP connections waiting for a ready replica right now.
    pub held: usize,
    /// TCP connections (or UDP sessions) open to a replica right now.
    pub active: usize,
    /// TCP connections closed without a replica (hold limit or timeout, or the proxy stopped).
    pub dropped: u64,
}

/// A running proxy; it stops when dropped or by [`Proxy::shutdown`].
#[derive(Debug)]
pub struct Proxy {
    shared: Arc<Shared>,
    /// Every address listened on, IPv4 first.
    local_addrs: Vec<SocketAddr>,
    /// Cancelled on stop; every task of this proxy watches it.
    stop: CancellationToken,
    /// The accept (TCP) or receive (UDP) loop of each listening socket, awaited by
    /// [`Proxy::shutdown`].
    tasks: Vec<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on `port` of both loopback addresses (`127.0.0.1` and, when the host has
    /// it, `::1`), or of both unspecified addresses when the endpoint is `external`, and
    /// starts proxying with no backends yet. Port 0 picks one port for both. Needs a
    /// Tokio runtime.
    pub fn listen(port: u16, external: bool, protocol: Protocol) -> io::Result<Proxy> {
        Self::listen_with(port, external, protocol, ProxyOptions::default())
    }

    /// [`Proxy::listen`] with explicit limits.
    pub fn listen_with(
        port: u16,
        external: bool,
        protocol: Protocol,
        options: ProxyOptions,
    ) -> io::Result<Proxy> {
        Self::serve(bind::both(port, external, protocol)?, options)
    }

    /// Listens on the single address `listen` only (benchmarks and tests; endpoints use
    /// [`Proxy::listen`]). Needs a Tokio runtime.
    pub fn start(listen: SocketAddr, protocol: Protocol) -> io::Result<Proxy> {
        Self::start_with(listen, protocol, ProxyOptions::default())
    }

    /// [`Proxy::start`] with explicit limits.
    pub fn start_with(
        listen: SocketAddr,
        protocol: Protocol,
        options: ProxyOptions,
    ) -> io::Result<Proxy> {
        Self::serve(vec![bind::one(listen, protocol)?], options)
    }

    fn serve(sockets: Vec<bind::Bound>, options: ProxyOptions) -> io::Result<Proxy> {
        let shared = Arc::new(Shared::new(options));
        let stop = CancellationToken::new();
        let mut local_addrs = Vec::new();
        let mut tasks = Vec::new();
        for socket in sockets {
            local_addrs.push(socket.local_addr()?);
            let task = match socket {
                bind::Bound::Tcp(listener) => tcp::start(listener, shared.clone(), stop.clone()),
                bind::Bound::Udp(socket) => udp::start(socket, shared.clone(), stop.clone()),
            };
            match task {
                Ok(task) => tasks.push(task),
                Err(error) => {
                    stop.cancel();
                    return Err(error);
                }
            }
        }
        Ok(Proxy {
            shared,
            local_addrs,
            stop,
            tasks,
        })
    }

    /// The (first, IPv4) address the proxy listens on; useful after binding port 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addrs[0]
    }

    /// Every address the proxy listens on, IPv4 first.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Replaces the backend list; new clients see it at once and held ones are woken.
    pub fn set_backends(&self, backends: Vec<Backend>) {
        self.shared.backends.send_replace(backends.into());
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ProxyStats {
        ProxyStats {
            dispatched: self.shared.dispatched.lock().expect("poisoned").clone(),
            held: self.shared.held.load(Ordering::Relaxed),
            active: self.shared.active.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed) as u64,
        }
    }

    /// Stops listening, closes every connection and session, and returns once the
    /// listening socket is closed, so the port can be bound again.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// State the proxy's tasks share.
#[derive(Debug)]
struct Shared {
    options: ProxyOptions,
    /// The current backend list; tasks waiting for a ready one watch it.
    backends: watch::Sender<Arc<[Backend]>>,
    /// Round-robin position, advanced once per new client.
    next: AtomicUsize,
    dispatched: Mutex<BTreeMap<usize, u64>>,
    held: AtomicUsize,
    active: AtomicUsize,
    dropped: AtomicUsize,
}

impl Shared {
    fn new(options: ProxyOptions) -> Self {
        Self {
            options,
            backends: watch::Sender::new(Arc::from(Vec::new())),
            next: AtomicUsize::new(0),
            dispatched: Mutex::new(BTreeMap::new()),
            held: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
        }
    }

    /// The ready backends of `snapshot` in the order a new client tries them: starting at
    /// the round-robin position, then the rest in turn (for dial fall-through).
    fn dial_order(&self, snapshot: &[Backend]) -> Vec<Backend> {
        let ready: Vec<Backend> = snapshot.iter().filter(|b| b.ready).copied().collect();
        if ready.is_empty() {
            return ready;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % ready.len();
        ready[start..]
            .iter()
            .chain(&ready[..start])
            .copied()
            .collect()
    }

    fn count_dispatch(&self, id: usize) {
        *self
            .dispatched
            .lock()
            .expect("poisoned")
            .entry(id)
            .or_default() += 1;
    }
}

/// Decrements a gauge when dropped, so every exit path of a task keeps it right.
struct Gauge<'a>(&'a AtomicUsize);

impl<'a> Gauge<'a> {
    fn enter(gauge: &'a AtomicUsize) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Gauge(gauge)
    }

    /// Enters unless the gauge already reads `limit`.
    fn try_enter(gauge: &'a AtomicUsize, limit: usize) -> Option<Self> {
        gauge
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                (now < limit).then_some(now + 1)
            })
            .ok()
            .map(|_| Gauge(gauge))
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
