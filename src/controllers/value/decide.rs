//! One Value reconcile as a pure function: from the spec, the parent as the directory
//! sees it, the last status and what the in-memory `onParentReady` run knows, the next
//! status and what to do (own the parent, run the command). No I/O, so every rule is
//! unit-tested here.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::parent::{ParentKind, ParentRun, ParentView};
use crate::api::conditions::{self, READY, reason};
use crate::api::{Condition, OnParentReadyStatus, ResourceState, RestartBackoff, ValueStatus};
use crate::controllers::backoff;

/// What the in-memory `onParentReady` run of this Value knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ExecState {
    /// Nothing runs and nothing ended since the last status write.
    #[default]
    Idle,
    /// The command runs against this parent run.
    Running(ParentRun),
    /// The command against this parent run ended; not yet in the status.
    Ended(ParentRun, ExecOutcome),
}

/// How one run of the command ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecOutcome {
    /// It ran: its exit code (`None` when a signal killed it), how it ended
    /// (`exited with code 1`) and its last line of output.
    Exited {
        code: Option<i32>,
        how: String,
        last_line: Option<String>,
    },
    /// It could not run at all (command not found, container not running).
    NotRun(String),
    /// Abandoned because the parent run ended or the value went away: nothing to record.
    Cancelled(String),
}

/// Everything the decision depends on.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub parent_name: Option<&'a str>,
    /// `spec.onParentReady.exec.command`, when set.
    pub command: Option<&'a [String]>,
    /// The uids of `metadata.ownerReferences`.
    pub owners: &'a [String],
    pub parent: Option<&'a ParentView>,
    pub old: &'a ValueStatus,
    pub exec: &'a ExecState,
    pub generation: Option<i64>,
    pub now: Timestamp,
}

/// An Event to record, beyond the transitions derived from the old and new status.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub text: String,
}

/// The outcome of one reconcile.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    /// State, message, Ready, parentUid and onParentReady; the caller adds the rest.
    pub status: ValueStatus,
    /// The parent does not own the value yet: add the ownerReference first.
    pub adopt: bool,
    /// Start `onParentReady` against this parent run.
    pub exec: Option<ParentRun>,
    /// The ended run is in `status` now (or was dropped): forget it once written.
    pub forget_exec: bool,
    pub requeue: Option<Duration>,
    pub notes: Vec<Note>,
}

/// The delays between attempts of a failing `onParentReady` (1 s doubling to 60 s).
const RETRY: RestartBackoff = RestartBackoff {
    initial_seconds: 1,
    max_seconds: 60,
};

pub fn decide(input: &Input) -> Decision {
    let mut d = Decision {
        status: input.old.clone(),
        ..Decision::default()
    };
    if let ExecState::Ended(run, outcome) = input.exec {
        d.forget_exec = true;
        fold(&mut d, input, run, outcome);
    }
    let Some(name) = input.parent_name else {
        d.status.parent_uid = None;
        return match input.command {
            Some(_) => d.settle(
                input,
                ResourceState::FailedToStart,
                false,
                reason::FAILED_TO_START,
                "spec.onParentReady needs spec.parent: the command runs inside the parent; \
                 set spec.parent.name or remove spec.onParentReady"
                    .to_owned(),
            ),
            None => d.settle(input, ResourceState::Running, true, reason::RUNNING, None),
        };
    };
    let attached = input.old.parent_uid.as_deref();
    let owned_by = |uid: &str| input.owners.iter().any(|o| o == uid);
    match input.parent {
        None => match attached {
            Some(uid) if !owned_by(uid) => d.orphaned(name),
            Some(_) => d.settle(
                input,
                ResourceState::Exited,
                false,
                reason::PARENT_STOPPED,
                format!("parent {name} was deleted"),
            ),
            None => d.settle(
                input,
                ResourceState::Waiting,
                false,
                reason::WAITING_FOR_PARENT,
                format!("waiting for parent {name}, which does not exist yet"),
            ),
        },
        // Being deleted: with Background or Foreground propagation this value goes too;
        // with Orphan its ownerReference is about to be dropped. Either way, change
        // nothing until that is clear (an orphan keeps the state it had).
        Some(p) if p.deleting => {
            if attached == Some(p.uid.as_str()) && !owned_by(&p.uid) {
                d.orphaned(name)
            } else {
                d
            }
        }
        Some(p) if p.kind == ParentKind::Parameter => d.settle(
            input,
            ResourceState::FailedToStart,
            false,
            reason::FAILED_TO_START,
            format!(
                "spec.parent: {name} is a Parameter, which has no lifecycle; a parent must be \
                 an Executable, Container or Value"
            ),
        ),
        Some(p) if !owned_by(&p.uid) => {
            d.adopt = true;
            d
        }
        Some(p) => d.mirror(input, name, p),
    }
}

impl Decision {
    /// Sets state, message and the Ready condition.
    fn settle(
        mut self,
        input: &Input,
        state: ResourceState,
        ready: bool,
        why: &str,
        message: impl Into<Option<String>>,
    ) -> Decision {
        self.status.state = state;
        self.status.message = message.into();
        conditions::set(
            &mut self.status.conditions,
            Condition::new(
                READY,
                ready,
                why,
                self.status.message.clone(),
                Time(input.now),
            )
            .with_observed_generation(input.generation),
        );
        self
    }

    /// The parent was deleted with propagation Orphan: the value stays as it was.
    fn orphaned(mut self, name: &str) -> Decision {
        self.status.message = Some(format!(
            "parent {name} was deleted with --cascade=orphan; this value is left as it was"
        ));
        self
    }

    /// The parent exists and owns the value: mirror it, and run `onParentReady` once
    /// per parent run after the parent is Ready.
    fn mirror(mut self, input: &Input, name: &str, p: &ParentView) -> Decision {
        self.status.parent_uid = Some(p.uid.clone());
        let state = p.state;
        if !p.ready {
            let stopped = state.is_terminal()
                || matches!(
                    state,
                    ResourceState::Stopping | ResourceState::RuntimeUnhealthy
                );
            return if stopped {
                let message = format!("parent {name} is {state}{}", p.detail());
                self.settle(input, state, false, reason::PARENT_STOPPED, message)
            } else {
                let message = format!("waiting for parent {name} to become Ready (it is {state})");
                self.settle(input, state, false, reason::WAITING_FOR_PARENT, message)
            };
        }
        let Some(command) = input.command else {
            return self.settle(input, state, true, reason::RUNNING, None);
        };
        let line = command_line(command);
        if p.kind == ParentKind::Value {
            let message = format!(
                "spec.onParentReady: parent {name} is a Value, which has no process to run \
                 `{line}` in; make the Executable or Container that holds it the parent"
            );
            return self.settle(input, state, false, reason::FAILED_TO_START, message);
        }
        let run = p.run();
        let record = self
            .status
            .on_parent_ready
            .clone()
            .filter(|r| r.parent_uid == run.uid && r.parent_started_at == run.started_at);
        if record.as_ref().is_some_and(|r| r.succeeded) {
            return self.settle(input, state, true, reason::RUNNING, None);
        }
        let pending = reason::ON_PARENT_READY_PENDING;
        if let ExecState::Running(running) = input.exec {
            let message = if *running == run {
                format!("running onParentReady in {name}: `{line}`")
            } else {
                format!("stopping the onParentReady run for an earlier run of {name}")
            };
            return self.settle(input, state, false, pending, message);
        }
        let retry_at = record.as_ref().and_then(|r| r.next_retry_at.as_ref());
        if let Some(at) = retry_at.filter(|at| at.0 > input.now) {
            let wait = Duration::try_from(at.0.duration_since(input.now)).unwrap_or_default();
            self.requeue = Some(wait);
            let message = self.status.message.clone();
            return self.settle(input, state, false, pending, message);
        }
        self.exec = Some(run);
        let message = format!("running onParentReady in {name}: `{line}`");
        self.settle(input, state, false, pending, message)
    }
}

/// Records an ended run in `status.onParentReady`, with the message and Event it deserves.
fn fold(d: &mut Decision, input: &Input, run: &ParentRun, outcome: &ExecOutcome) {
    let (succeeded, code, how) = match outcome {
        ExecOutcome::Cancelled(_) => return,
        ExecOutcome::Exited {
            code,
            how,
            last_line,
        } => (
            *code == Some(0),
            *code,
            format!(
                "{how}{}",
                last_line
                    .as_ref()
                    .map(|l| format!(": {l}"))
                    .unwrap_or_default()
            ),
        ),
        ExecOutcome::NotRun(why) => (false, None, format!("could not run: {why}")),
    };
    let line = input.command.map(command_line).unwrap_or_default();
    let parent = input.parent_name.unwrap_or_default();
    let earlier_failures = d
        .status
        .on_parent_ready
        .as_ref()
        .filter(|r| r.parent_uid == run.uid && r.parent_started_at == run.started_at)
        .filter(|r| !r.succeeded)
        .map_or(0, |r| r.failures);
    let failures = if succeeded { 0 } else { earlier_failures + 1 };
    let delay = (!succeeded).then(|| backoff::delay(&RETRY, (failures - 1).max(0) as u32));
    d.status.on_parent_ready = Some(OnParentReadyStatus {
        parent_uid: run.uid.clone(),
        parent_started_at: run.started_at.clone(),
        succeeded,
        exit_code: code,
        failures,
        finished_at: Some(Time(input.now)),
        next_retry_at: delay.map(|delay| {
            Time(input.now + jiff::SignedDuration::try_from(delay).unwrap_or_default())
        }),
    });
    if succeeded {
        d.notes.push(Note {
            warning: false,
            reason: "OnParentReadySucceeded",
            text: format!("onParentReady `{line}` succeeded in {parent}"),
        });
    } else {
        let message = format!(
            "onParentReady `{line}` in {parent} {how}; retrying in {} s (attempt {})",
            delay.unwrap_or_default().as_secs(),
            failures + 1
        );
        d.status.message = Some(message.clone());
        d.notes.push(Note {
            warning: true,
            reason: "OnParentReadyFailed",
            text: message,
        });
    }
}

/// The command as a shell user would write it, for messages: `psql -c 'CREATE DATABASE x'`.
pub fn command_line(command: &[String]) -> String {
    command
        .iter()
        .map(|word| {
            if !word.is_empty() && !word.contains(|c: char| c.is_whitespace() || c == '\'') {
                word.clone()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
