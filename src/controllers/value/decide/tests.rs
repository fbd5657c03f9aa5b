use super::*;

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + second).unwrap()
}

fn parent(state: ResourceState, ready: bool, started: i64) -> ParentView {
    ParentView {
        kind: ParentKind::Executable,
        uid: "pg-1".into(),
        state,
        ready,
        started_at: Some(Time(at(started))),
        message: None,
        exit_code: None,
        deleting: false,
    }
}

fn psql() -> Vec<String> {
    ["psql", "-c", "CREATE DATABASE appdata"]
        .map(String::from)
        .to_vec()
}

/// A reconcile of value `appdata` (parent `pg`, owned by `pg-1`) at second 100.
struct Case {
    command: Option<Vec<String>>,
    parent: Option<ParentView>,
    owners: Vec<String>,
    old: ValueStatus,
    exec: ExecState,
    now: Timestamp,
}

impl Case {
    fn new(parent_view: Option<ParentView>) -> Case {
        Case {
            command: None,
            parent: parent_view,
            owners: vec!["pg-1".into()],
            old: ValueStatus::default(),
            exec: ExecState::Idle,
            now: at(100),
        }
    }

    fn with_exec(mut self) -> Case {
        self.command = Some(psql());
        self
    }

    fn decide(&self) -> Decision {
        decide(&Input {
            parent_name: Some("pg"),
            command: self.command.as_deref(),
            owners: &self.owners,
            parent: self.parent.as_ref(),
            old: &self.old,
            exec: &self.exec,
            generation: Some(1),
            now: self.now,
        })
    }
}

fn ready(status: &ValueStatus) -> bool {
    conditions::is_true(&status.conditions, READY)
}

fn ready_reason(status: &ValueStatus) -> &str {
    &conditions::find(&status.conditions, READY).unwrap().reason
}

#[test]
fn without_a_parent_a_value_is_running_and_ready() {
    let d = decide(&Input {
        parent_name: None,
        command: None,
        owners: &[],
        parent: None,
        old: &ValueStatus::default(),
        exec: &ExecState::Idle,
        generation: Some(1),
        now: at(0),
    });
    assert_eq!(d.status.state, ResourceState::Running);
    assert!(ready(&d.status));
}

#[test]
fn on_parent_ready_without_a_parent_is_a_spec_error() {
    let command = psql();
    let d = decide(&Input {
        parent_name: None,
        command: Some(&command),
        owners: &[],
        parent: None,
        old: &ValueStatus::default(),
        exec: &ExecState::Idle,
        generation: Some(1),
        now: at(0),
    });
    assert_eq!(d.status.state, ResourceState::FailedToStart);
    assert!(d.status.message.unwrap().contains("spec.parent"));
}

#[test]
fn a_missing_parent_is_waited_for() {
    let d = Case::new(None).decide();
    assert_eq!(d.status.state, ResourceState::Waiting);
    assert_eq!(ready_reason(&d.status), reason::WAITING_FOR_PARENT);
    assert!(d.status.message.unwrap().contains("parent pg"));
}

#[test]
fn the_parent_is_made_owner_before_anything_else() {
    let mut case = Case::new(Some(parent(ResourceState::Running, true, 0)));
    case.owners.clear();
    let d = case.decide();
    assert!(d.adopt);
    assert_eq!(d.status, ValueStatus::default());
}

#[test]
fn the_state_mirrors_the_parent() {
    let d = Case::new(Some(parent(ResourceState::Starting, false, 0))).decide();
    assert_eq!(d.status.state, ResourceState::Starting);
    assert!(!ready(&d.status));
    assert_eq!(d.status.parent_uid.as_deref(), Some("pg-1"));

    let d = Case::new(Some(parent(ResourceState::Running, true, 0))).decide();
    assert_eq!(d.status.state, ResourceState::Running);
    assert!(ready(&d.status));
}

#[test]
fn a_failed_parent_is_named_with_its_exit_code() {
    let mut failed = parent(ResourceState::Exited, false, 0);
    failed.exit_code = Some(3);
    let d = Case::new(Some(failed)).decide();
    assert_eq!(d.status.state, ResourceState::Exited);
    assert_eq!(ready_reason(&d.status), reason::PARENT_STOPPED);
    assert_eq!(
        d.status.message.as_deref(),
        Some("parent pg is Exited (exit code 3)")
    );
}

#[test]
fn on_parent_ready_waits_for_the_parent_to_be_ready_then_runs_once() {
    let case = Case::new(Some(parent(ResourceState::Running, false, 0))).with_exec();
    assert_eq!(case.decide().exec, None);

    let mut case = Case::new(Some(parent(ResourceState::Running, true, 0))).with_exec();
    let d = case.decide();
    let run = d.exec.clone().expect("runs once the parent is Ready");
    assert_eq!(run.uid, "pg-1");
    assert!(!ready(&d.status));
    assert_eq!(ready_reason(&d.status), reason::ON_PARENT_READY_PENDING);

    case.old = d.status;
    case.exec = ExecState::Running(run.clone());
    let d = case.decide();
    assert_eq!(d.exec, None, "never a second run while one runs");
    assert!(
        d.status
            .message
            .as_deref()
            .unwrap()
            .contains("psql -c 'CREATE DATABASE appdata'")
    );

    case.old = d.status;
    case.exec = ExecState::Ended(
        run,
        ExecOutcome::Exited {
            code: Some(0),
            how: "exited with code 0".into(),
            last_line: None,
        },
    );
    let d = case.decide();
    assert!(ready(&d.status));
    assert!(d.forget_exec);
    assert!(d.status.on_parent_ready.as_ref().unwrap().succeeded);
    assert_eq!(d.notes[0].reason, "OnParentReadySucceeded");

    case.old = d.status;
    case.exec = ExecState::Idle;
    let d = case.decide();
    assert_eq!(d.exec, None, "done for this parent run");
    assert!(ready(&d.status));
}

#[test]
fn a_failure_names_command_and_exit_code_and_is_retried_with_backoff() {
    let mut case = Case::new(Some(parent(ResourceState::Running, true, 0))).with_exec();
    let run = case.decide().exec.unwrap();
    let failed = |run: &ParentRun| {
        ExecState::Ended(
            run.clone(),
            ExecOutcome::Exited {
                code: Some(1),
                how: "exited with code 1".into(),
                last_line: Some("ERROR: permission denied".into()),
            },
        )
    };
    case.exec = failed(&run);
    let d = case.decide();
    let message = d.status.message.clone().unwrap();
    assert!(
        message.contains("`psql -c 'CREATE DATABASE appdata'`")
            && message.contains("exited with code 1")
            && message.contains("permission denied")
            && message.contains("retrying in 1 s"),
        "{message}"
    );
    assert!(!ready(&d.status));
    assert_eq!(d.requeue, Some(Duration::from_secs(1)));
    assert_eq!(d.exec, None);
    assert!(d.notes[0].warning);

    // Not yet due: nothing runs.
    case.old = d.status;
    case.exec = ExecState::Idle;
    assert_eq!(case.decide().exec, None);
    // Due: it runs again, and a second failure waits twice as long.
    case.now = at(102);
    assert_eq!(case.decide().exec, Some(run.clone()));
    case.exec = failed(&run);
    let d = case.decide();
    assert_eq!(d.status.on_parent_ready.as_ref().unwrap().failures, 2);
    assert_eq!(d.requeue, Some(Duration::from_secs(2)));
}

#[test]
fn a_recreated_or_restarted_parent_runs_it_again() {
    let mut case = Case::new(Some(parent(ResourceState::Running, true, 0))).with_exec();
    case.old.on_parent_ready = Some(OnParentReadyStatus {
        parent_uid: "pg-1".into(),
        parent_started_at: Some(Time(at(0))),
        succeeded: true,
        exit_code: Some(0),
        ..OnParentReadyStatus::default()
    });
    assert_eq!(case.decide().exec, None);

    case.parent = Some(parent(ResourceState::Running, true, 50));
    assert!(case.decide().exec.is_some(), "a restarted parent");

    let mut recreated = parent(ResourceState::Running, true, 0);
    recreated.uid = "pg-2".into();
    case.parent = Some(recreated);
    case.owners = vec!["pg-2".into()];
    assert_eq!(case.decide().exec.unwrap().uid, "pg-2");
}

#[test]
fn an_orphaned_value_keeps_its_state() {
    let mut case = Case::new(None);
    case.owners.clear();
    case.old = Case::new(Some(parent(ResourceState::Running, true, 0)))
        .decide()
        .status;
    let d = case.decide();
    assert_eq!(d.status.state, ResourceState::Running);
    assert!(ready(&d.status));
    assert!(d.status.message.unwrap().contains("orphan"));
}

#[test]
fn a_deleted_owner_stops_the_value() {
    let mut case = Case::new(None);
    case.old = Case::new(Some(parent(ResourceState::Running, true, 0)))
        .decide()
        .status;
    let d = case.decide();
    assert_eq!(d.status.state, ResourceState::Exited);
    assert_eq!(ready_reason(&d.status), reason::PARENT_STOPPED);
}

#[test]
fn a_parent_being_deleted_changes_nothing_yet() {
    let old = Case::new(Some(parent(ResourceState::Running, true, 0)))
        .decide()
        .status;
    let mut deleting = parent(ResourceState::Running, true, 0);
    deleting.deleting = true;
    let mut case = Case::new(Some(deleting));
    case.old = old.clone();
    assert_eq!(case.decide().status, old);
}

#[test]
fn parameters_cannot_be_parents_and_values_cannot_run_commands() {
    let mut param = parent(ResourceState::Unknown, false, 0);
    param.kind = ParentKind::Parameter;
    let d = Case::new(Some(param)).decide();
    assert_eq!(d.status.state, ResourceState::FailedToStart);

    let mut value = parent(ResourceState::Running, true, 0);
    value.kind = ParentKind::Value;
    let d = Case::new(Some(value)).with_exec().decide();
    assert_eq!(d.exec, None);
    assert_eq!(ready_reason(&d.status), reason::FAILED_TO_START);
}

#[test]
fn commands_are_quoted_as_a_shell_user_writes_them() {
    assert_eq!(command_line(&psql()), "psql -c 'CREATE DATABASE appdata'");
}
