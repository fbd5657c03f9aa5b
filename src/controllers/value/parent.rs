//! What a Value knows about its parent, whatever the parent's kind: enough to mirror its
//! state, to tell one run of it from the next, and to see it being deleted.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use crate::api::conditions::{self, READY};
use crate::api::{ResourceState, RunStatus};
use crate::controllers::directory::Directory;

/// The kind of the parent, which decides where `onParentReady` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentKind {
    Executable,
    Container,
    Value,
    /// Not a valid parent (it has no lifecycle); reported as a spec error.
    Parameter,
}

impl ParentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ParentKind::Executable => "Executable",
            ParentKind::Container => "Container",
            ParentKind::Value => "Value",
            ParentKind::Parameter => "Parameter",
        }
    }
}

/// The parent as the directory sees it now.
#[derive(Debug, Clone, PartialEq)]
pub struct ParentView {
    pub kind: ParentKind,
    pub uid: String,
    pub state: ResourceState,
    pub ready: bool,
    /// `status.startedAt` of Executables and Containers: a new value is a new run.
    pub started_at: Option<Time>,
    pub message: Option<String>,
    pub exit_code: Option<i32>,
    /// It has a deletionTimestamp.
    pub deleting: bool,
}

impl ParentView {
    /// The run of the parent `onParentReady` is for: its uid and when it started.
    pub fn run(&self) -> ParentRun {
        ParentRun {
            uid: self.uid.clone(),
            started_at: self.started_at.clone(),
        }
    }

    /// ` (exit code 3)` or `: its message`, for messages about a stopped parent.
    pub fn detail(&self) -> String {
        match (&self.message, self.exit_code) {
            (Some(m), _) if !m.is_empty() => format!(": {m}"),
            (_, Some(code)) => format!(" (exit code {code})"),
            _ => String::new(),
        }
    }
}

/// One run of a parent: recreated (another uid) or restarted (another `startedAt`) is
/// another run, and `onParentReady` runs again for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentRun {
    pub uid: String,
    pub started_at: Option<Time>,
}

/// The parent `name` in `namespace`, if the directory holds it.
pub fn find(directory: &Directory, namespace: &str, name: &str) -> Option<ParentView> {
    if let Some(exe) = directory
        .executables
        .get(&ObjectRef::new(name).within(namespace))
    {
        return Some(from_run(
            ParentKind::Executable,
            exe.uid(),
            exe.metadata.deletion_timestamp.is_some(),
            exe.status.as_ref(),
        ));
    }
    if let Some(ctr) = directory
        .containers
        .get(&ObjectRef::new(name).within(namespace))
    {
        return Some(from_run(
            ParentKind::Container,
            ctr.uid(),
            ctr.metadata.deletion_timestamp.is_some(),
            ctr.status.as_ref().map(|s| &s.run),
        ));
    }
    if let Some(value) = directory
        .values
        .get(&ObjectRef::new(name).within(namespace))
    {
        let status = value.status.clone().unwrap_or_default();
        return Some(ParentView {
            kind: ParentKind::Value,
            uid: value.uid().unwrap_or_default(),
            state: status.state,
            ready: conditions::is_true(&status.conditions, READY),
            started_at: None,
            message: status.message,
            exit_code: None,
            deleting: value.metadata.deletion_timestamp.is_some(),
        });
    }
    let param = directory
        .parameters
        .get(&ObjectRef::new(name).within(namespace))?;
    Some(ParentView {
        kind: ParentKind::Parameter,
        uid: param.uid().unwrap_or_default(),
        state: ResourceState::Unknown,
        ready: false,
        started_at: None,
        message: None,
        exit_code: None,
        deleting: param.metadata.deletion_timestamp.is_some(),
    })
}

fn from_run(
    kind: ParentKind,
    uid: Option<String>,
    deleting: bool,
    status: Option<&RunStatus>,
) -> ParentView {
    let status = status.cloned().unwrap_or_default();
    ParentView {
        kind,
        uid: uid.unwrap_or_default(),
        state: status.state,
        ready: conditions::is_true(&status.conditions, READY),
        started_at: status.started_at,
        message: status.message,
        exit_code: status.exit_code,
        deleting,
    }
}
