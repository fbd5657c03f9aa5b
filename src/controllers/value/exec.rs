//! Running `onParentReady`: for an Executable parent a process started like the parent
//! (its working directory, env file and environment), for a Container parent a command
//! inside its container ([`super::container_exec`]). Output goes into the Value's log.
//!
//! A run is a background task that only records how it ended here and wakes the Value;
//! the reconcile alone decides what that means. The task abandons the command (stopping
//! its process group) as soon as the Value is deleted or the parent run it is for ends,
//! so no cascade leaves a process behind. The process carries kaspire's tags (the Value's
//! uid, lifetime Session), so the watchdog and the next control plane find it too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::ValueContext;
use super::container_exec::exec_in_parent_container;
use super::decide::{ExecOutcome, ExecState, command_line};
use super::parent::{self, ParentRun};
use crate::api::{Container, Executable, Lifetime, ResourceState, Value};
use crate::controllers::context::Context;
use crate::controllers::executable::spawn::{LogSink, base_dir};
use crate::controllers::workload::resolve;
use crate::controllers::workload::runs::lock;
use crate::expr::Location;
use crate::runtime::logs::ResourceRef;
use crate::runtime::process::{self, OutputMode, OutputSink, ProcessSpec, Signal, Stream, Tags};

/// How often a running command checks that it is still wanted.
const CHECK_EVERY: Duration = Duration::from_millis(200);
/// Grace period of an abandoned command after SIGTERM, before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long an ended command's output may take to reach the log.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// Longest piece of output quoted in a message.
const MAX_QUOTED: usize = 200;

/// The `onParentReady` runs of every Value, by the Value's uid.
#[derive(Default)]
pub struct Execs {
    runs: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    run: ParentRun,
    ended: Option<ExecOutcome>,
}

impl Execs {
    /// What the run of Value `uid` knows.
    pub fn state(&self, uid: &str) -> ExecState {
        match lock(&self.runs).get(uid) {
            None => ExecState::Idle,
            Some(Entry { run, ended: None }) => ExecState::Running(run.clone()),
            Some(Entry {
                run,
                ended: Some(outcome),
            }) => ExecState::Ended(run.clone(), outcome.clone()),
        }
    }

    /// Drops an ended run once the status holds it (a newer run stays).
    pub fn forget_ended(&self, uid: &str) {
        let mut runs = lock(&self.runs);
        if runs.get(uid).is_some_and(|e| e.ended.is_some()) {
            runs.remove(uid);
        }
    }

    fn end(&self, uid: &str, run: &ParentRun, outcome: ExecOutcome) {
        if let Some(entry) = lock(&self.runs).get_mut(uid).filter(|e| e.run == *run) {
            entry.ended = Some(outcome);
        }
    }
}

/// Where the command runs.
enum Target {
    Process(ProcessSpec),
    Container(Arc<Container>),
}

/// Starts `command` inside parent `parent_name` for its run `run`; `Err` says why it
/// cannot start (the parent vanished from the directory meanwhile).
pub fn start(
    vc: &Arc<ValueContext>,
    value: &Value,
    parent_name: &str,
    run: ParentRun,
    command: &[String],
) -> Result<(), String> {
    let ctx = &vc.ctx;
    let namespace = value.namespace().unwrap_or_default();
    let target = if let Some(exe) = ctx
        .directory
        .executables
        .get(&ObjectRef::new(parent_name).within(&namespace))
    {
        Target::Process(process_for(ctx, &exe, value, command))
    } else if let Some(ctr) = ctx
        .directory
        .containers
        .get(&ObjectRef::new(parent_name).within(&namespace))
    {
        Target::Container(ctr)
    } else {
        return Err(format!("parent {parent_name} is gone"));
    };
    let resource = ResourceRef::new(&namespace, "Value", &value.name_any());
    let log = LogSink::open(&ctx.logs, &resource, 0)
        .map_err(|e| format!("cannot open the log of {}: {e}", value.name_any()))?;
    let output = Arc::new(Output {
        log,
        last: Mutex::default(),
    });
    let uid = value.uid().unwrap_or_default();
    lock(&vc.execs.runs).insert(
        uid.clone(),
        Entry {
            run: run.clone(),
            ended: None,
        },
    );
    let task = Task {
        vc: vc.clone(),
        value: ObjectRef::from_obj(value),
        uid,
        parent: parent_name.to_owned(),
        run,
        command: command.to_vec(),
    };
    tokio::spawn(task.run(target, output));
    Ok(())
}

/// One run of the command, from start to the wake-up of its Value.
struct Task {
    vc: Arc<ValueContext>,
    value: ObjectRef<Value>,
    uid: String,
    parent: String,
    run: ParentRun,
    command: Vec<String>,
}

impl Task {
    async fn run(self, target: Target, output: Arc<Output>) {
        let ctx = &self.vc.ctx;
        let abandoned = self.abandoned();
        let outcome = match target {
            Target::Process(spec) => run_process(&spec, output.clone(), abandoned).await,
            Target::Container(ctr) => {
                let sink: Arc<dyn OutputSink> = output.clone();
                tokio::select! {
                    result = exec_in_parent_container(ctx, &ctr, &self.command, sink) => match result {
                        Ok(exit) => ExecOutcome::Exited {
                            code: exit.code,
                            how: exit.to_string(),
                            last_line: output.last(),
                        },
                        Err(why) => ExecOutcome::NotRun(why),
                    },
                    why = abandoned => ExecOutcome::Cancelled(why),
                }
            }
        };
        let line = command_line(&self.command);
        let said = match &outcome {
            ExecOutcome::Exited { how, .. } => format!("onParentReady `{line}` {how}"),
            ExecOutcome::NotRun(why) => format!("onParentReady `{line}` could not run: {why}"),
            ExecOutcome::Cancelled(why) => format!("onParentReady `{line}` abandoned: {why}"),
        };
        if let Some(value) = ctx.directory.values.get(&self.value) {
            ctx.system_log(&*value, 0, &said);
        }
        self.vc.execs.end(&self.uid, &self.run, outcome);
        let _ = self.vc.wake.send(self.value.clone());
    }

    /// Resolves (with the reason) once the command is no longer wanted: the Value was
    /// deleted, or the parent run it is for was stopped, restarted or recreated.
    fn abandoned(&self) -> impl Future<Output = String> + use<> {
        let ctx = self.vc.ctx.clone();
        let (value, uid, name, run) = (
            self.value.clone(),
            self.uid.clone(),
            self.parent.clone(),
            self.run.clone(),
        );
        async move {
            loop {
                tokio::time::sleep(CHECK_EVERY).await;
                let namespace = value.namespace.clone().unwrap_or_default();
                if ctx
                    .directory
                    .values
                    .get(&value)
                    .is_none_or(|v| v.uid().as_deref() != Some(uid.as_str()))
                {
                    return format!("value {} was deleted", value.name);
                }
                match parent::find(&ctx.directory, &namespace, &name) {
                    None => return format!("parent {name} was deleted"),
                    Some(p) if p.run() != run => return format!("parent {name} was restarted"),
                    Some(p)
                        if p.state.is_terminal()
                            || p.state == ResourceState::Stopping
                            || p.deleting =>
                    {
                        return format!("parent {name} is {}", p.state);
                    }
                    Some(_) => {}
                }
            }
        }
    }
}

/// Runs `spec` to its end, or stops its process group once `abandoned` resolves.
async fn run_process(
    spec: &ProcessSpec,
    output: Arc<Output>,
    abandoned: impl Future<Output = String>,
) -> ExecOutcome {
    let running = match process::spawn(spec, output.clone()) {
        Ok(running) => running,
        Err(e) => return ExecOutcome::NotRun(e.to_string()),
    };
    tokio::select! {
        exit = running.wait() => {
            let _ = tokio::time::timeout(DRAIN_GRACE, running.output_drained()).await;
            // Whatever it forked and left behind goes with it.
            running.stop(Signal::KILL, Duration::from_secs(1)).await;
            ExecOutcome::Exited {
                code: exit.code,
                how: exit.to_string(),
                last_line: output.last(),
            }
        }
        why = abandoned => {
            running.stop(Signal::TERM, STOP_GRACE).await;
            ExecOutcome::Cancelled(why)
        }
    }
}

/// The command as a process started like the parent's replica 0: the parent's working
/// directory, env file and environment (its expressions resolved as the parent sees
/// them), plus kaspire's tags naming the Value.
fn process_for(
    ctx: &Context,
    parent: &Executable,
    value: &Value,
    command: &[String],
) -> ProcessSpec {
    let base = base_dir(parent, &ctx.cwd);
    let working_dir = parent
        .spec
        .working_dir
        .as_deref()
        .map(|dir| base.join(dir))
        .unwrap_or_else(|| base.clone());
    let tags = Tags {
        instance: ctx.instance.clone(),
        resource: value.uid(),
        replica_index: None,
        lifetime: Some(Lifetime::Session),
        lifecycle_key: None,
    };
    let mut env = tags.env();
    let status = parent.status.as_ref();
    if let Some(replica) = status.and_then(|s| s.replicas.iter().find(|r| r.index == 0)) {
        for endpoint in &parent.spec.run.endpoints {
            if let (Some(var), Some(port)) =
                (&endpoint.env, replica.target_ports.get(&endpoint.name))
            {
                env.push((var.clone(), port.to_string()));
            }
        }
    }
    let own = resolve::run_entry(&parent.spec.run, status, Location::Host);
    // The parent's own variables, when they resolve (they did when it started).
    if let Ok(inputs) = resolve::inputs(parent, ctx, own) {
        env.extend(inputs.env);
    }
    let (program, args) = command.split_first().expect("checked non-empty");
    ProcessSpec {
        command: program.clone(),
        args: args.to_vec(),
        env,
        working_dir: Some(working_dir),
        env_file: parent.spec.env_file.as_deref().map(|file| base.join(file)),
        output: OutputMode::Pipes,
    }
}

/// The Value's log, remembering the last line for the failure message.
struct Output {
    log: LogSink,
    last: Mutex<Option<String>>,
}

impl Output {
    fn last(&self) -> Option<String> {
        lock(&self.last).clone()
    }
}

impl OutputSink for Output {
    fn line(&self, stream: Stream, line: &[u8]) {
        self.log.line(stream, line);
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if !text.is_empty() {
            let mut cut: String = text.chars().take(MAX_QUOTED).collect();
            if cut.len() < text.len() {
                cut.push('…');
            }
            *lock(&self.last) = Some(cut);
        }
    }

    fn dropped(&self, stream: Stream, lines: u64, bytes: u64) {
        self.log.dropped(stream, lines, bytes);
    }
}
