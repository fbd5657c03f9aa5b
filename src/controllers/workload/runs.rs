//! The live side of Executables and Containers: for each object (by uid) the replicas
//! this control plane runs or adopted, what ended and why, and the pending restarts.
//! Background tasks (exit watchers, stoppers, probes) only record facts here and wake
//! the object's reconcile, which alone decides what happens next.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc::UnboundedSender;

use super::health::Checks;
use super::ports::PortPlan;
use crate::api::RunStatus;
use crate::runtime::docker::ContainerProcess;
use crate::runtime::process::{Adopted, Running, Signal};

/// A replica's process: our child, one adopted after a control-plane restart, or a
/// container.
#[derive(Clone, Debug)]
pub enum Process {
    Child(Running),
    Adopted(Adopted),
    Container(ContainerProcess),
}

impl Process {
    /// The process id on the host (a container's main process; 0 when unknown).
    pub fn pid(&self) -> i32 {
        match self {
            Process::Child(p) => p.identity().pid,
            Process::Adopted(p) => p.identity().pid,
            Process::Container(c) => c.pid,
        }
    }

    /// The runtime's id of a container replica.
    pub fn container_id(&self) -> Option<&str> {
        match self {
            Process::Container(c) => Some(&c.id),
            _ => None,
        }
    }

    /// Whether `other` is this very process (not a replacement started since).
    pub fn same_as(&self, other: &Process) -> bool {
        match (self, other) {
            (Process::Container(a), Process::Container(b)) => a.id == b.id,
            (Process::Container(_), _) | (_, Process::Container(_)) => false,
            _ => self.pid() == other.pid(),
        }
    }

    /// Waits for the process to end: its exit code and signal when it was our child.
    pub async fn wait(&self) -> Ended {
        match self {
            Process::Child(p) => {
                let exit = p.wait().await;
                Ended {
                    code: exit.code,
                    signal: exit.signal,
                }
            }
            Process::Adopted(p) => {
                p.wait().await;
                Ended::default()
            }
            Process::Container(c) => Ended {
                code: c.wait().await,
                signal: None,
            },
        }
    }

    /// Stops the whole process group: `signal`, then SIGKILL after `timeout`.
    pub async fn stop(&self, signal: Signal, timeout: Duration) {
        match self {
            Process::Child(p) => {
                p.stop(signal, timeout).await;
            }
            Process::Adopted(p) => {
                p.stop(signal, timeout).await;
            }
            Process::Container(c) => c.stop(signal, timeout).await,
        }
    }
}

/// How a replica ended; both `None` when it was adopted (nobody can learn its code).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ended {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl Ended {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(sig)) => format!("killed by {}", crate::runtime::process::signal_name(sig)),
            (None, None) => "ended (exit code unknown: it was adopted)".into(),
        }
    }
}

/// Why the controller is stopping a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// `spec.stopped`, a restart request, a spec change or the end of the session.
    Requested,
    /// Its liveness check failed: counts as a crash for the restart policy.
    Liveness,
    /// `replicas` was lowered.
    ScaledDown,
}

/// One replica process and what is known about it.
pub struct Replica {
    pub process: Process,
    pub started_at: Timestamp,
    pub started: Instant,
    pub ended: Option<Ended>,
    pub stopping: Option<StopCause>,
    pub checks: Checks,
    pub target_ports: BTreeMap<String, u16>,
    /// Followers of the replica's output kept apart from its process (an adopted
    /// Persistent process's files, a container's log stream); dropping stops them.
    pub followers: Vec<Follower>,
    /// The image a container replica runs, as the engine resolved it.
    pub image: Option<String>,
}

impl Replica {
    /// A replica whose process started (or was found) just now.
    pub fn new(
        process: Process,
        checks: Checks,
        target_ports: BTreeMap<String, u16>,
        followers: Vec<Follower>,
    ) -> Replica {
        Replica {
            process,
            started_at: Timestamp::now(),
            started: Instant::now(),
            ended: None,
            stopping: None,
            checks,
            target_ports,
            followers,
            image: None,
        }
    }
}

/// Something that follows a replica's output while it is kept.
pub type Follower = Box<dyn Send + Sync>;

/// Adds `replica` to the run as replica `index` and watches its process.
pub fn track<K: kube::Resource + Send + 'static>(
    run: &RunHandle,
    index: u32,
    replica: Replica,
    wake: UnboundedSender<ObjectRef<K>>,
    key: ObjectRef<K>,
) where
    K::DynamicType: Send,
{
    let process = replica.process.clone();
    lock(run).replicas.insert(index, replica);
    watch_exit(run, index, process, wake, key);
}

/// Everything running for one Executable or Container.
pub struct Run {
    /// Hash of the spec fields the processes were started from; a different hash means
    /// the spec changed and the replicas must be replaced.
    pub spec_hash: String,
    pub replicas: BTreeMap<u32, Replica>,
    /// Replicas that ended and will be started again at the given time.
    pub restart_due: BTreeMap<u32, Instant>,
    /// Set when every replica is being stopped on purpose.
    pub ending: bool,
    pub started_at: Timestamp,
    /// Ports of every endpoint and replica.
    pub ports: PortPlan,
}

impl Run {
    pub fn new(spec_hash: String) -> Run {
        Run {
            spec_hash,
            replicas: BTreeMap::new(),
            restart_due: BTreeMap::new(),
            ending: false,
            started_at: Timestamp::now(),
            ports: PortPlan::default(),
        }
    }

    /// Replicas whose process has not ended.
    pub fn alive(&self) -> usize {
        self.replicas.values().filter(|r| r.ended.is_none()).count()
    }
}

/// A status as written: resourceVersion, shared part, the whole status.
type Written = (u64, RunStatus, serde_json::Value);

/// A shared handle on one object's [`Run`].
pub type RunHandle = Arc<Mutex<Run>>;

/// All runs, by object uid.
#[derive(Default)]
pub struct Runs {
    runs: Mutex<HashMap<String, RunHandle>>,
    /// Consecutive restarts per uid since the last reset (the backoff exponent); kept
    /// apart from the run, which ends while a restart of its only replica is pending.
    attempts: Mutex<HashMap<String, u32>>,
    /// The status last written per uid (its shared part and all of it as written), with
    /// the resourceVersion it produced.
    written: Mutex<HashMap<String, Written>>,
}

impl Runs {
    pub fn get(&self, uid: &str) -> Option<RunHandle> {
        lock(&self.runs).get(uid).cloned()
    }

    pub fn insert(&self, uid: &str, run: Run) -> RunHandle {
        let handle = Arc::new(Mutex::new(run));
        lock(&self.runs).insert(uid.to_owned(), handle.clone());
        handle
    }

    pub fn remove(&self, uid: &str) -> Option<RunHandle> {
        lock(&self.runs).remove(uid)
    }

    /// The backoff step of the next restart of `uid`, counting it; `reset` (after a
    /// long clean run) starts again at the first step.
    pub fn next_attempt(&self, uid: &str, reset: bool) -> u32 {
        let mut attempts = lock(&self.attempts);
        let attempt = attempts.entry(uid.to_owned()).or_default();
        if reset {
            *attempt = 0;
        }
        *attempt += 1;
        *attempt - 1
    }

    /// Forgets the backoff and written status of a deleted object.
    pub fn forget(&self, uid: &str) {
        lock(&self.attempts).remove(uid);
        lock(&self.written).remove(uid);
    }

    /// Remembers the status written for `uid`, producing `updated`.
    pub fn remember_status<K: kube::Resource>(
        &self,
        uid: &str,
        updated: &K,
        status: RunStatus,
        json: serde_json::Value,
    ) {
        if let Some(rv) = resource_version(updated) {
            lock(&self.written).insert(uid.to_owned(), (rv, status, json));
        }
    }

    /// The status this controller wrote for `uid`, when `seen` is older than that write.
    /// (Resource versions of the embedded server are increasing integers.)
    pub fn fresher_status<K: kube::Resource>(
        &self,
        uid: &str,
        seen: &K,
    ) -> Option<(RunStatus, serde_json::Value)> {
        let seen = resource_version(seen)?;
        let written = lock(&self.written);
        let (rv, status, json) = written.get(uid)?;
        (*rv > seen).then(|| (status.clone(), json.clone()))
    }

    /// Every run, for the end of the session.
    pub fn all(&self) -> Vec<RunHandle> {
        lock(&self.runs).values().cloned().collect()
    }
}

fn resource_version<K: kube::Resource>(object: &K) -> Option<u64> {
    object.meta().resource_version.as_deref()?.parse().ok()
}

/// Locks a mutex, recovering from a panic elsewhere (the data stays consistent: every
/// critical section only assigns fields).
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Watches a replica's process: records how it ended, then wakes the object.
pub fn watch_exit<K: kube::Resource + Send + 'static>(
    run: &RunHandle,
    index: u32,
    process: Process,
    wake: UnboundedSender<ObjectRef<K>>,
    key: ObjectRef<K>,
) where
    K::DynamicType: Send,
{
    let run = Arc::downgrade(run);
    tokio::spawn(async move {
        let ended = process.wait().await;
        let Some(run) = run.upgrade() else { return };
        {
            let mut run = lock(&run);
            // The pid check ignores a late report about a replica already replaced.
            if let Some(replica) = run.replicas.get_mut(&index)
                && replica.process.same_as(&process)
            {
                replica.ended = Some(ended);
                replica.checks.stop();
            }
        }
        let _ = wake.send(key);
    });
}

/// Stops a replica in the background and wakes the object when it is gone.
pub fn stop_replica<K: kube::Resource + Send + 'static>(
    run: &RunHandle,
    index: u32,
    cause: StopCause,
    signal: Signal,
    timeout: Duration,
    wake: UnboundedSender<ObjectRef<K>>,
    key: ObjectRef<K>,
) where
    K::DynamicType: Send,
{
    let process = {
        let mut run = lock(run);
        let Some(replica) = run.replicas.get_mut(&index) else {
            return;
        };
        if replica.stopping.is_some() || replica.ended.is_some() {
            return;
        }
        replica.stopping = Some(cause);
        replica.process.clone()
    };
    tokio::spawn(async move {
        process.stop(signal, timeout).await;
        let _ = wake.send(key);
    });
}
