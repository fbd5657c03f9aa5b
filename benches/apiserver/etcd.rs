//! The peer reference: etcd's durable puts through its JSON gateway, at the same
//! concurrency as kaspire's writes, when `etcd` is on PATH (Debian: `etcd-server`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;

use crate::common::{Samples, free_port, ms, size};
use crate::phases::CONCURRENCY;

/// etcd's put throughput (median of rounds) and latencies.
pub struct EtcdFigures {
    pub rate: f64,
    pub latency: Samples,
    pub version: String,
}

pub fn binary() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("etcd"))
            .find(|p| p.is_file())
    })
}

/// Starts etcd on loopback in `dir`, measures, stops it.
pub async fn measure(etcd: &Path, dir: &Path) -> anyhow::Result<EtcdFigures> {
    eprintln!("[etcd] durable puts, {CONCURRENCY} in flight");
    let version = Command::new(etcd)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim_start_matches("etcd Version: ").to_owned())
        })
        .unwrap_or_default();
    let (port, peer) = (free_port()?, free_port()?);
    let client_url = format!("http://127.0.0.1:{port}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let child = Command::new(etcd)
        .args(["--data-dir", dir.to_str().expect("utf-8")])
        .args(["--listen-client-urls", &client_url])
        .args(["--advertise-client-urls", &client_url])
        .args(["--listen-peer-urls", &peer_url])
        .args(["--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("default={peer_url}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let etcd = Running(child);
    let (rates, latency) = puts(port).await?;
    drop(etcd);
    Ok(EtcdFigures {
        rate: Samples::new(rates).median(),
        latency: Samples::new(latency),
        version,
    })
}

/// Killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Rounds of puts over `CONCURRENCY` keep-alive connections; the first is a warm-up.
async fn puts(port: u16) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let b64 = &base64::engine::general_purpose::STANDARD;
    let mut conns = Vec::new();
    for _ in 0..CONCURRENCY {
        conns.push(connect(port).await?);
    }
    let value = b64.encode(vec![b'x'; 600]);
    let per_conn = size(2000, 200) / CONCURRENCY;
    let (mut rates, mut lat) = (Vec::new(), Vec::new());
    for round in 0..size(6, 2) {
        let started = Instant::now();
        let results =
            futures::future::try_join_all(conns.iter_mut().enumerate().map(|(c, conn)| {
                let value = value.clone();
                async move {
                    let mut lat = Vec::new();
                    for i in 0..per_conn {
                        let key = b64.encode(format!("/bench/{round}/{c}/{i}"));
                        let body = format!("{{\"key\":\"{key}\",\"value\":\"{value}\"}}");
                        let t = Instant::now();
                        put(conn, body).await?;
                        lat.push(ms(t.elapsed()));
                    }
                    Ok::<_, anyhow::Error>(lat)
                }
            }))
            .await?;
        if round > 0 {
            let n: usize = results.iter().map(Vec::len).sum();
            rates.push(n as f64 / started.elapsed().as_secs_f64());
            lat.extend(results.into_iter().flatten());
        }
    }
    Ok((rates, lat))
}

/// An HTTP/1.1 keep-alive connection to etcd's gateway, once it accepts connections.
async fn connect(port: u16) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let tcp = loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(tcp) => break tcp,
            Err(e) if Instant::now() > deadline => anyhow::bail!("etcd did not start: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    tcp.set_nodelay(true)?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn put(conn: &mut SendRequest<Full<Bytes>>, body: String) -> anyhow::Result<()> {
    conn.ready().await?;
    let request = http::Request::post("/v3/kv/put")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let response = conn.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    anyhow::ensure!(
        status.is_success(),
        "etcd answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(())
}
