//! The tiny program the bench's Executables run: this bench binary itself, re-executed
//! with `KASPIRE_BENCH_HELPER` set. It is a small native program, so what the bench
//! measures is kaspire, not an interpreter's start (a python3 start costs ~30 ms).
//!
//! - `stamp`: writes the realtime clock to `$STAMP_FILE` as its first action, then
//!   sleeps until killed.
//! - `listen`: sleeps `$DELAY_MS`, binds `127.0.0.1:$PORT` and listens, writes the
//!   realtime clock to `$STAMP_FILE` right after `listen()`, and the moment of the
//!   first accepted connection (the first probe that passed) to `$ACCEPT_FILE`. Every
//!   connection gets `200 ok` if it sent an HTTP request, so tcp and http checks pass.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The environment variable that turns the bench binary into the helper.
pub const MODE_VAR: &str = "KASPIRE_BENCH_HELPER";

/// Runs the helper if this process is one; returns only if it is not.
pub fn run_if_helper() {
    let Ok(mode) = std::env::var(MODE_VAR) else {
        return;
    };
    let code = match mode.as_str() {
        "stamp" => {
            stamp_to("STAMP_FILE");
            sleep_forever()
        }
        "listen" => listen(),
        other => {
            eprintln!("unknown {MODE_VAR} mode {other:?}");
            2
        }
    };
    std::process::exit(code);
}

fn stamp_to(var: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    if let Ok(path) = std::env::var(var) {
        let _ = std::fs::write(
            path,
            format!("{}.{:09}\n", now.as_secs(), now.subsec_nanos()),
        );
    }
}

fn sleep_forever() -> i32 {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn listen() -> i32 {
    let delay: u64 = std::env::var("DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let Some(port) = std::env::var("PORT")
        .ok()
        .and_then(|v| v.parse::<u16>().ok())
    else {
        eprintln!("PORT is not set");
        return 2;
    };
    std::thread::sleep(Duration::from_millis(delay));
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {port}: {e}");
            return 1;
        }
    };
    stamp_to("STAMP_FILE");
    let mut first = true;
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        if first {
            stamp_to("ACCEPT_FILE");
            first = false;
        }
        let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
        let mut buf = [0u8; 1024];
        let mut seen = Vec::new();
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
                break;
            }
        }
    }
    0
}
