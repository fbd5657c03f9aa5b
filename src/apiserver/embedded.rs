//! Starting an API server in this process: open the store, serve the built-in and
//! stored CRD types, ensure the standard namespaces and kaspire's CRDs, run the garbage
//! collector, listen on HTTPS and write the kubeconfig.

use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};

use super::auth::Token;
use super::builtin::CRDS_STORAGE;
use super::resource::StorageId;
use super::server::{ApiServer, router};
use super::store::Store;
use super::{crds, gc, network, tls};
use crate::state_dir::{StateDir, write_private};

/// The field manager the server uses for what it installs itself.
pub const MANAGER: &str = "kaspire";

/// A running embedded API server.
pub struct Embedded {
    pub server: Arc<ApiServer>,
    /// A client that talks to the server in-process (no socket, no TLS, no token).
    pub client: kube::Client,
    pub port: u16,
    pub kubeconfig: PathBuf,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Embedded {
    /// Starts the server on 127.0.0.1:`port` (0: the previous port if free, else any).
    pub async fn start(state: &StateDir, port: u16) -> anyhow::Result<Embedded> {
        let store = Store::open(&state.store())?;
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let server = ApiServer::new(store, shutdown_rx.clone());
        let (stored_crds, _) = server
            .store
            .list(&StorageId(CRDS_STORAGE.into()), None, None);
        for crd in stored_crds.iter() {
            crds::register(&server.registry, crd);
        }
        crate::admission::install(&server);
        let app = router(server.clone());
        let client = kube::Client::new(app.clone(), "default");
        install_defaults(&client).await?;
        gc::spawn(server.clone());

        let tls = tls::load_or_create(&state.tls())?;
        let token = Token::load_or_create(&state.token())?;
        let listener = network::bind(port, previous_port(state)).await?;
        let port = listener.local_addr()?.port();
        tokio::spawn(network::serve(
            listener,
            tls.server_config.clone(),
            token.clone(),
            app,
            shutdown_rx,
        ));
        let kubeconfig = state.kubeconfig();
        write_private(
            &kubeconfig,
            kubeconfig_yaml(port, &tls.ca_pem, token.as_str()).as_bytes(),
        )?;
        Ok(Embedded {
            server,
            client,
            port,
            kubeconfig,
            shutdown,
        })
    }

    /// Ends watches and stops accepting connections.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// Namespaces every client expects, and kaspire's own CRDs (updated in place when the
/// binary's types changed).
async fn install_defaults(client: &kube::Client) -> anyhow::Result<()> {
    let params = PatchParams::apply(MANAGER).force();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in ["default", "kube-system", "kube-public"] {
        let ns = serde_json::json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name } });
        namespaces.patch(name, &params, &Patch::Apply(ns)).await?;
    }
    let definitions: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crate::api::crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        definitions
            .patch(&name, &params, &Patch::Apply(crd))
            .await?;
    }
    Ok(())
}

fn previous_port(state: &StateDir) -> Option<u16> {
    let text = std::fs::read_to_string(state.kubeconfig()).ok()?;
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("server: https://127.0.0.1:"))?;
    line.rsplit(':').next()?.trim().parse().ok()
}

fn kubeconfig_yaml(port: u16, ca_pem: &str, token: &str) -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kaspire\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority-data: {ca}\nusers:\n- name: kaspire\n  user:\n    token: {token}\ncontexts:\n- name: kaspire\n  context:\n    cluster: kaspire\n    user: kaspire\n    namespace: default\ncurrent-context: kaspire\n"
    )
}
