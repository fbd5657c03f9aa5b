//! Deciding whether a resource may start: its `waitFor` entries, its parent, and the
//! Parameters its expressions use, judged against what the [`super::directory`] knows
//! about each dependency. Pure logic, shared by every kind that runs something.

use crate::api::{ResourceState, WaitBehavior, WaitCondition, WaitFor};

/// What a waiter needs to know about one dependency.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dependency {
    /// Its kind, for messages (`Executable`, `Parameter`, …).
    pub kind: &'static str,
    pub state: ResourceState,
    /// Condition Ready is True (on every desired replica).
    pub ready: bool,
    pub exit_code: Option<i32>,
    /// It ended but its restart policy will run it again (`status.nextRestartAt`).
    pub restarting: bool,
    /// `status.message`, quoted when it explains a failure.
    pub message: Option<String>,
    /// Its `spec.parent`, so waiting on a child also waits on the parent.
    pub parent: Option<String>,
}

/// The verdict on all of a resource's waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every wait is met: start now.
    Go,
    /// Something is not there yet; the message says what.
    Wait(String),
    /// A dependency failed and the wait says to give up: FailedToStart with this message.
    Fail(String),
    /// The parent stopped or failed: the child is stopped, naming the parent.
    ParentStopped(String),
}

/// Everything a resource waits on before it starts.
#[derive(Debug, Clone, Default)]
pub struct Waits<'a> {
    pub wait_for: &'a [WaitFor],
    pub parent: Option<&'a str>,
    /// Parameters named by its expressions or `references`: waited for until Ready.
    pub parameters: Vec<String>,
}

impl Waits<'_> {
    /// Judges every wait against `lookup` (a dependency by name in the same namespace).
    /// The first unmet wait decides the message; a failure beats a wait.
    pub fn judge(&self, lookup: impl Fn(&str) -> Option<Dependency>) -> Verdict {
        let mut pending: Option<String> = None;
        if let Some(parent) = self.parent {
            match lookup(parent) {
                None => {
                    pending = Some(format!(
                        "waiting for parent {parent}, which does not exist yet"
                    ))
                }
                Some(dep) if dep.state == ResourceState::Running => {}
                Some(dep) if has_ended(&dep) && !dep.restarting => {
                    return Verdict::ParentStopped(format!(
                        "parent {parent} is {}{}",
                        dep.state,
                        detail(&dep)
                    ));
                }
                Some(dep) => {
                    pending = Some(format!(
                        "waiting for parent {parent} to start (it is {})",
                        dep.state
                    ))
                }
            }
        }
        let implied = self.wait_for.iter().filter_map(|w| {
            // Waiting on a child implies waiting on its parent having started.
            let dep = lookup(&w.name)?;
            let parent = dep.parent?;
            Some(WaitFor {
                name: parent,
                condition: WaitCondition::Started,
                exit_code: 0,
                wait_behavior: w.wait_behavior,
            })
        });
        let waits: Vec<WaitFor> = self.wait_for.iter().cloned().chain(implied).collect();
        for wait in &waits {
            match judge_one(wait, lookup(&wait.name)) {
                Verdict::Go => {}
                Verdict::Wait(message) => {
                    pending.get_or_insert(message);
                }
                failed => return failed,
            }
        }
        for name in &self.parameters {
            match lookup(name) {
                Some(dep) if dep.ready => {}
                Some(dep) => {
                    pending.get_or_insert(format!(
                        "waiting for parameter {name}{}",
                        dep.message.map(|m| format!(": {m}")).unwrap_or_default()
                    ));
                }
                None => {
                    pending.get_or_insert(format!("waiting for {name}, which does not exist yet"));
                }
            }
        }
        pending.map_or(Verdict::Go, Verdict::Wait)
    }
}

fn judge_one(wait: &WaitFor, dep: Option<Dependency>) -> Verdict {
    let name = &wait.name;
    let Some(dep) = dep else {
        return Verdict::Wait(format!("waiting for {name}, which does not exist yet"));
    };
    let wanted = match wait.condition {
        WaitCondition::Ready => "become Ready",
        WaitCondition::Started => "start",
        WaitCondition::Completed => "complete",
    };
    let met = match wait.condition {
        WaitCondition::Ready => dep.ready,
        WaitCondition::Started => {
            matches!(dep.state, ResourceState::Running | ResourceState::Finished)
        }
        WaitCondition::Completed => {
            dep.state.is_terminal()
                && dep.state != ResourceState::FailedToStart
                && !dep.restarting
                && dep.exit_code == Some(wait.exit_code)
        }
    };
    if met {
        return Verdict::Go;
    }
    let unavailable = !dep.restarting
        && match wait.condition {
            // A run that ended can no longer become Ready or start.
            WaitCondition::Ready | WaitCondition::Started => {
                has_ended(&dep)
                    && !(wait.condition == WaitCondition::Started
                        && dep.state == ResourceState::Finished)
            }
            WaitCondition::Completed => has_ended(&dep),
        };
    let why = if dep.state.is_terminal()
        && wait.condition == WaitCondition::Completed
        && dep.exit_code.is_some()
    {
        format!(
            "{name} exited with code {}, expected {}",
            dep.exit_code.unwrap_or_default(),
            wait.exit_code
        )
    } else {
        format!("{name} is {}{}", dep.state, detail(&dep))
    };
    match (unavailable, wait.wait_behavior) {
        (true, WaitBehavior::StopOnResourceUnavailable) => {
            Verdict::Fail(format!("dependency failed: {why}"))
        }
        (true, WaitBehavior::WaitOnResourceUnavailable) => Verdict::Wait(format!(
            "waiting for {name} to {wanted}: {why}; waiting until it is fixed and restarted"
        )),
        (false, _) if dep.restarting => {
            Verdict::Wait(format!("waiting for {name} to {wanted}: it is restarting"))
        }
        (false, _) => Verdict::Wait(format!(
            "waiting for {name} to {wanted} (it is {})",
            dep.state
        )),
    }
}

fn has_ended(dep: &Dependency) -> bool {
    matches!(
        dep.state,
        ResourceState::Finished
            | ResourceState::Exited
            | ResourceState::FailedToStart
            | ResourceState::RuntimeUnhealthy
    )
}

fn detail(dep: &Dependency) -> String {
    match (&dep.exit_code, &dep.message) {
        (_, Some(m)) if !m.is_empty() => format!(": {m}"),
        (Some(code), _) => format!(" (exit code {code})"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests;
