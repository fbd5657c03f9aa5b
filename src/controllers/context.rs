//! What every controller shares: the in-process client, the log store, the directory
//! of all objects, the event recorder, and how to wake a reconcile.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use tokio::sync::mpsc::UnboundedSender;

use super::container::network::HostBridges;
use super::directory::Directory;
use super::workload::runs::Runs;
use crate::api::{Container, Executable};
use crate::runtime::docker::Runtime as Docker;
use crate::runtime::logs::{LogStore, ResourceRef, Source};
use crate::runtime::process::ProcessIdentity;

/// Shared by every reconcile of every kind.
pub struct Context {
    pub client: kube::Client,
    pub logs: Arc<LogStore>,
    pub directory: Directory,
    /// Names this state dir's processes (`KASPIRE_INSTANCE`).
    pub instance: String,
    /// Where Persistent processes write their output files.
    pub run_dir: PathBuf,
    /// The control plane's working directory: relative paths in specs applied without a
    /// `kaspire.dev/source-dir` annotation are relative to it.
    pub cwd: PathBuf,
    pub recorder: Recorder,
    /// Live replica processes of every Executable, by object uid.
    pub runs: Runs,
    /// Live replica containers of every Container, by object uid.
    pub containers: Runs,
    /// Processes of ours found running when the control plane started, by object uid;
    /// each reconcile takes its own once (adopt or stop).
    pub leftovers: Mutex<HashMap<String, Vec<Leftover>>>,
    pub wake_executable: UnboundedSender<ObjectRef<Executable>>,
    pub wake_container: UnboundedSender<ObjectRef<Container>>,
    /// The Docker Engine, connected on first use (apps without Containers never do).
    pub docker: Docker,
    /// Forwarders that let containers reach host processes on loopback.
    pub host_bridges: HostBridges,
    /// Uids of the Executables and Containers reconciled at least once by this control
    /// plane: until then, a status is what an earlier control plane wrote.
    pub reconciled: Mutex<std::collections::HashSet<String>>,
}

/// A process of ours that was running when the control plane started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub identity: ProcessIdentity,
    /// `KASPIRE_REPLICA_INDEX`.
    pub replica: u32,
    /// `KASPIRE_LIFECYCLE_KEY`: the spec it was started from.
    pub lifecycle_key: String,
}

/// Reporting controller name on Events.
pub const REPORTER: &str = "kaspire";

impl Context {
    /// Records that `uid` was reconciled by this control plane.
    pub fn mark_reconciled(&self, uid: &str) {
        let mut seen = self.reconciled.lock().unwrap_or_else(|p| p.into_inner());
        if !seen.contains(uid) {
            seen.insert(uid.to_owned());
        }
    }

    /// Whether every Executable and Container in the directory was reconciled by this
    /// control plane (their statuses describe what runs now).
    pub fn caught_up(&self) -> bool {
        let seen = self.reconciled.lock().unwrap_or_else(|p| p.into_inner());
        let uids = self
            .directory
            .executables
            .state()
            .iter()
            .filter_map(|e| e.metadata.uid.clone())
            .chain(
                self.directory
                    .containers
                    .state()
                    .iter()
                    .filter_map(|c| c.metadata.uid.clone()),
            )
            .collect::<Vec<_>>();
        uids.iter().all(|uid| seen.contains(uid))
    }

    pub fn recorder(client: &kube::Client) -> Recorder {
        Recorder::new(
            client.clone(),
            Reporter {
                controller: REPORTER.into(),
                instance: None,
            },
        )
    }

    /// Records an Event on `object` without delaying the reconcile.
    pub fn event<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        let reference = object.object_ref(&());
        let recorder = self.recorder.clone();
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(truncate(note, 1000)),
            action: reason.into(),
            secondary: None,
        };
        tokio::spawn(async move {
            if let Err(e) = recorder.publish(&event, &reference).await {
                tracing::debug!("cannot record event: {e}");
            }
        });
    }

    /// Writes one line to the resource's `system` log (the controller's own account).
    pub fn system_log<K: Resource<DynamicType = ()>>(&self, object: &K, replica: u32, line: &str) {
        let resource = ResourceRef::new(
            &object.namespace().unwrap_or_default(),
            &K::kind(&()),
            &object.name_any(),
        );
        if let Ok(writer) = self.logs.writer(&resource, replica, Source::System) {
            writer.line(line.as_bytes());
        }
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
