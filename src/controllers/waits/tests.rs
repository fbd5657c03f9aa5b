use super::*;
use std::collections::HashMap;

fn dep(state: ResourceState) -> Dependency {
    Dependency {
        kind: "Executable",
        state,
        ..Dependency::default()
    }
}

fn wait(name: &str, condition: WaitCondition, behavior: WaitBehavior) -> WaitFor {
    WaitFor {
        name: name.into(),
        condition,
        exit_code: 0,
        wait_behavior: behavior,
    }
}

fn judge(waits: &Waits<'_>, world: &HashMap<&str, Dependency>) -> Verdict {
    waits.judge(|name| world.get(name).cloned())
}

#[test]
fn missing_dependency_is_waited_for_with_a_message() {
    let list = [wait(
        "db",
        WaitCondition::Ready,
        WaitBehavior::StopOnResourceUnavailable,
    )];
    let waits = Waits {
        wait_for: &list,
        ..Waits::default()
    };
    assert_eq!(
        judge(&waits, &HashMap::new()),
        Verdict::Wait("waiting for db, which does not exist yet".into())
    );
}

#[test]
fn ready_wait_is_met_only_when_ready() {
    let list = [wait(
        "db",
        WaitCondition::Ready,
        WaitBehavior::StopOnResourceUnavailable,
    )];
    let waits = Waits {
        wait_for: &list,
        ..Waits::default()
    };
    let mut world = HashMap::from([("db", dep(ResourceState::Running))]);
    assert!(matches!(judge(&waits, &world), Verdict::Wait(m) if m.contains("become Ready")));
    world.get_mut("db").unwrap().ready = true;
    assert_eq!(judge(&waits, &world), Verdict::Go);
}

#[test]
fn waiter_fails_when_dependency_crashes_before_ready() {
    let list = [wait(
        "db",
        WaitCondition::Ready,
        WaitBehavior::StopOnResourceUnavailable,
    )];
    let waits = Waits {
        wait_for: &list,
        ..Waits::default()
    };
    let mut crashed = dep(ResourceState::Exited);
    crashed.exit_code = Some(1);
    let world = HashMap::from([("db", crashed)]);
    assert_eq!(
        judge(&waits, &world),
        Verdict::Fail("dependency failed: db is Exited (exit code 1)".into())
    );
}

#[test]
fn wait_on_unavailable_keeps_waiting_and_says_why() {
    let list = [wait(
        "db",
        WaitCondition::Ready,
        WaitBehavior::WaitOnResourceUnavailable,
    )];
    let waits = Waits {
        wait_for: &list,
        ..Waits::default()
    };
    let world = HashMap::from([("db", dep(ResourceState::FailedToStart))]);
    assert!(matches!(judge(&waits, &world), Verdict::Wait(m) if m.contains("until it is fixed")));
}

#[test]
fn completion_needs_the_expected_exit_code() {
    let mut list = [wait(
        "migrate",
        WaitCondition::Completed,
        WaitBehavior::StopOnResourceUnavailable,
    )];
    let mut finished = dep(ResourceState::Exited);
    finished.exit_code = Some(3);
    let world = HashMap::from([("migrate", finished)]);
    {
        let waits = Waits {
            wait_for: &list,
            ..Waits::default()
        };
        assert_eq!(
            judge(&waits, &world),
            Verdict::Fail("dependency failed: migrate exited with code 3, expected 0".into())
        );
    }
    list[0].exit_code = 3;
    let waits = Waits {
        wait_for: &list,
        ..Waits::default()
    };
    assert_eq!(judge(&waits, &world), Verdict::Go);
}

#[test]
fn completion_is_not_judged_while_the_dependency_restarts() {
    let list = [wait(
        "job",
        WaitCondition::Completed,
        WaitBehavior::StopOnResourceUnavailable,
    )];
    let waits = Waits {
        wait_for: &list,
        ..Waits::default()
    };
    let mut restarting = dep(ResourceState::Exited);
    restarting.exit_code = Some(1);
    restarting.restarting = true;
    let world = HashMap::from([("job", restarting)]);
    assert!(matches!(judge(&waits, &world), Verdict::Wait(m) if m.contains("restarting")));
}

#[test]
fn started_accepts_running_and_finished() {
    let list = [wait(
        "svc",
        WaitCondition::Started,
        WaitBehavior::StopOnResourceUnavailable,
    )];
    let waits = Waits {
        wait_for: &list,
        ..Waits::default()
    };
    for state in [ResourceState::Running, ResourceState::Finished] {
        let world = HashMap::from([("svc", dep(state))]);
        assert_eq!(judge(&waits, &world), Verdict::Go, "{state}");
    }
}

#[test]
fn child_starts_after_parent_started_and_stops_with_it() {
    let waits = Waits {
        parent: Some("pg"),
        ..Waits::default()
    };
    let mut world = HashMap::from([("pg", dep(ResourceState::Waiting))]);
    assert!(matches!(judge(&waits, &world), Verdict::Wait(m) if m.contains("parent pg")));
    world.insert("pg", dep(ResourceState::Running));
    assert_eq!(judge(&waits, &world), Verdict::Go);
    world.insert("pg", dep(ResourceState::Exited));
    assert!(
        matches!(judge(&waits, &world), Verdict::ParentStopped(m) if m.contains("parent pg is Exited"))
    );
}

#[test]
fn waiting_on_a_child_waits_on_its_parent() {
    let list = [wait(
        "appdata",
        WaitCondition::Ready,
        WaitBehavior::StopOnResourceUnavailable,
    )];
    let waits = Waits {
        wait_for: &list,
        ..Waits::default()
    };
    let mut child = dep(ResourceState::Running);
    child.ready = true;
    child.parent = Some("pg".into());
    let world = HashMap::from([("appdata", child), ("pg", dep(ResourceState::Waiting))]);
    assert!(matches!(judge(&waits, &world), Verdict::Wait(m) if m.contains("pg")));
}

#[test]
fn parameters_are_waited_for_with_their_message() {
    let waits = Waits {
        parameters: vec!["api-key".into()],
        ..Waits::default()
    };
    let mut param = dep(ResourceState::Waiting);
    param.message = Some("set the environment variable API_KEY".into());
    let world = HashMap::from([("api-key", param)]);
    assert_eq!(
        judge(&waits, &world),
        Verdict::Wait("waiting for parameter api-key: set the environment variable API_KEY".into())
    );
}
