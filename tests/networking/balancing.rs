//! A 3-replica HTTP Executable behind its endpoint's proxy: connections spread evenly
//! over ready replicas only, a replica leaving readiness stops getting new connections
//! and gets them again when ready, clients that arrive while none is ready are held
//! and then served, and killing a replica loses no connection that had not reached it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::*;

/// The replicas' service: answers `GET /` with `replica=<KASPIRE_REPLICA_INDEX>` and
/// `GET /health` with 503 while the flag file `unready-<index>` (or `unready-all`)
/// exists in the directory given as its argument, else 200.
const SERVICE: &str = r#"
import http.server, os, sys
index = os.environ["KASPIRE_REPLICA_INDEX"]
port = int(os.environ["PORT"])
flags = sys.argv[1]

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            unready = any(os.path.exists(os.path.join(flags, f))
                          for f in ("unready-" + index, "unready-all"))
            self.send_response(503 if unready else 200)
            self.end_headers()
            return
        body = ("replica=%s port=%d\n" % (index, port)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#;

/// The 3-replica service `web` with an http readiness check on `/health`.
struct Web<'a> {
    app: &'a App,
    flags: String,
}

impl<'a> Web<'a> {
    /// Applies `web`; `unready_at_first` creates `unready-all` before it starts.
    fn apply(app: &'a App, unready_at_first: bool) -> Web<'a> {
        let script = app.write("service.py", SERVICE);
        let flags = app.path("");
        let web = Web { app, flags };
        if unready_at_first {
            web.set_unready("all", true);
        }
        app.apply_exe(
            "web",
            json!({
                "command": python3(), "args": [script, web.flags],
                "replicas": 3,
                "endpoints": [{"name": "http", "scheme": "http", "env": "PORT"}],
                "healthChecks": [{
                    "http": {"endpoint": "http", "path": "/health"},
                    "periodSeconds": 1, "timeoutSeconds": 10, "failureThreshold": 1,
                }],
            }),
        );
        web
    }

    fn set_unready(&self, which: &str, unready: bool) {
        let flag = Path::new(&self.flags).join(format!("unready-{which}"));
        if unready {
            std::fs::write(flag, "").unwrap();
        } else {
            let _ = std::fs::remove_file(flag);
        }
    }

    /// Waits until all three replicas run and pass readiness; returns the object.
    fn wait_ready(&self) -> Value {
        self.app.wait("web", "Ready with 3 replicas", |e| {
            is_true(e, "Ready") && (0..3).all(|i| pid(e, i).is_some())
        })
    }

    /// The proxy's address (the endpoint's `port`).
    fn proxy(&self) -> SocketAddr {
        let web = self.app.wait("web", "given a port", |e| {
            e["status"]["endpoints"][0]["port"].is_u64()
        });
        v4(endpoint_port(&web, "http"))
    }
}

/// The replica index a `GET /` answer names.
fn replica(body: &str) -> u32 {
    body.split_whitespace()
        .find_map(|w| w.strip_prefix("replica="))
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("not a replica's answer: {body:?}"))
}

/// `n` sequential connections through `proxy`: how many each replica served.
fn spread(proxy: SocketAddr, n: usize) -> BTreeMap<u32, usize> {
    let mut seen = BTreeMap::new();
    for i in 0..n {
        let body = http_get(proxy, "/").unwrap_or_else(|e| panic!("request {i}: {e}"));
        *seen.entry(replica(&body)).or_default() += 1;
    }
    seen
}

fn counts(pairs: &[(u32, usize)]) -> BTreeMap<u32, usize> {
    pairs.iter().copied().collect()
}

#[test]
fn connections_spread_evenly_and_only_over_ready_replicas() {
    let app = App::start();
    let web = Web::apply(&app, false);
    let proxy = web.proxy();
    web.wait_ready();
    // Round robin: with nothing else connecting, 30 connections are exactly 10 each.
    assert_eq!(spread(proxy, 30), counts(&[(0, 10), (1, 10), (2, 10)]));

    // Replica 1 fails readiness: once status says so, it gets no new connection.
    web.set_unready("1", true);
    let unready = app.wait("web", "not Ready because of replica 1", |e| {
        !is_true(e, "Ready") && message(e).contains("replica 1")
    });
    assert_eq!(state(&unready), "Running", "{:#}", unready["status"]);
    assert_eq!(spread(proxy, 20), counts(&[(0, 10), (2, 10)]));

    // Ready again: back in the rotation.
    web.set_unready("1", false);
    web.wait_ready();
    assert_eq!(spread(proxy, 30), counts(&[(0, 10), (1, 10), (2, 10)]));
}

#[test]
fn clients_arriving_before_any_replica_is_ready_are_held_then_served() {
    let app = App::start();
    let web = Web::apply(&app, true);
    let proxy = web.proxy();
    app.wait("web", "running 3 replicas, none ready", |e| {
        state(e) == "Running" && (0..3).all(|i| pid(e, i).is_some()) && !is_true(e, "Ready")
    });
    let clients: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || http_get(proxy, "/")))
        .collect();
    // Held, not refused: nobody is answered while no replica is ready.
    app.stays("web", "not Ready", Duration::from_secs(2), |e| {
        !is_true(e, "Ready")
    });
    assert!(
        clients.iter().all(|c| !c.is_finished()),
        "a client was answered (or refused) while no replica was ready"
    );

    web.set_unready("all", false);
    let mut served = BTreeMap::new();
    for client in clients {
        let body = client.join().unwrap().expect("a held client was served");
        *served.entry(replica(&body)).or_insert(0usize) += 1;
    }
    assert_eq!(served.values().sum::<usize>(), 6, "{served:?}");
}

#[test]
fn killing_a_replica_loses_no_connection_that_had_not_reached_it() {
    let app = App::start();
    let web = Web::apply(&app, false);
    let proxy = web.proxy();
    let before = web.wait_ready();
    let victim = pid(&before, 1).unwrap();

    // Killed with no request in flight: connections the proxy still routes to replica 1
    // (before the controller notices) find its port closed and go to another replica.
    kill(victim, false);
    // Its sockets are closed once it is dead (a zombie at most); from then on nothing can
    // accept on its port.
    assert!(eventually(WAIT, || (!alive(victim)).then_some(())).is_some());
    let seen = spread(proxy, 30);
    assert_eq!(seen.get(&1), None, "the dead replica answered: {seen:?}");
    assert_eq!(seen.values().sum::<usize>(), 30);
    let after = app.wait("web", "aware that replica 1 died", |e| {
        pid(e, 1) != Some(victim)
    });
    assert!(!is_true(&after, "Ready"), "{:#}", after["status"]);
    // The survivors share the traffic evenly.
    assert_eq!(spread(proxy, 20), counts(&[(0, 10), (2, 10)]));
}

#[test]
fn held_clients_survive_a_replica_killed_while_they_wait() {
    let app = App::start();
    let web = Web::apply(&app, true);
    let proxy = web.proxy();
    let running = app.wait("web", "running 3 replicas, none ready", |e| {
        state(e) == "Running" && (0..3).all(|i| pid(e, i).is_some()) && !is_true(e, "Ready")
    });
    let clients: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || http_get(proxy, "/")))
        .collect();
    let victim = pid(&running, 0).unwrap();
    kill(victim, false);
    app.wait("web", "aware that replica 0 died", |e| {
        pid(e, 0) != Some(victim)
    });
    web.set_unready("all", false);
    let mut served = BTreeMap::new();
    for client in clients {
        let body = client.join().unwrap().expect("a held client was served");
        *served.entry(replica(&body)).or_insert(0usize) += 1;
    }
    assert_eq!(served.get(&0), None, "{served:?}");
    assert_eq!(served.values().sum::<usize>(), 6, "{served:?}");
}
