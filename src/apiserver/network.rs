//! Serving the API over the network: HTTPS on 127.0.0.1 only, HTTP/2 and HTTP/1.1
//! (ALPN), every request authenticated with the bearer token.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::auth::{Token, require_token};

/// Binds 127.0.0.1:`port` — or, when `port` is 0, the `preferred` port if it is free
/// (so kubeconfigs stay valid across restarts) and else any free port.
pub async fn bind(port: u16, preferred: Option<u16>) -> anyhow::Result<TcpListener> {
    if port != 0 {
        return TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {e} (choose another --port, or 0 for any free port)"));
    }
    if let Some(preferred) = preferred {
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", preferred)).await {
            return Ok(listener);
        }
    }
    Ok(TcpListener::bind(("127.0.0.1", 0)).await?)
}

/// Accepts TLS connections until `shutdown` flips, serving `router` behind the token check.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    token: Token,
    router: Router,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let app = router.layer(axum::middleware::from_fn_with_state(token, require_token));
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(serve_connection(tcp, peer, acceptor.clone(), app.clone()));
    }
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
) {
    let tls = match acceptor.accept(tcp).await {
        Ok(tls) => tls,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
    };
    let service = TowerToHyperService::new(app);
    let builder = auto::Builder::new(TokioExecutor::new());
    if let Err(e) = builder
        .serve_connection_with_upgrades(TokioIo::new(tls), service)
        .await
    {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
