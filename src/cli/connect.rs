//! Reaching the control plane that runs for a state dir from another process: the pid
//! in `control-plane.pid` must be a live kaspire process and the kubeconfig must answer.

use std::path::Path;
use std::time::Duration;

use crate::state_dir::StateDir;

/// Why a command could not reach a running control plane.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "no control plane is running for state dir {dir}; start one with `kaspire up -f app.yaml`"
    )]
    NotRunning { dir: String },
    #[error(
        "the control plane of state dir {dir} (pid {pid}) does not answer at its kubeconfig ({reason}); \
         wait a moment, or end it with `kaspire down` and start it again with `kaspire up -f app.yaml`"
    )]
    Unreachable {
        dir: String,
        pid: i32,
        reason: String,
    },
}

/// A client for the running control plane of `state`, checked to answer.
pub async fn connect(state: &StateDir) -> Result<kube::Client, ConnectError> {
    let dir = state.root().display().to_string();
    let Some(pid) = running_pid(state) else {
        return Err(ConnectError::NotRunning { dir });
    };
    let unreachable = |reason: String| ConnectError::Unreachable {
        dir: dir.clone(),
        pid,
        reason,
    };
    let client = client_from_kubeconfig(&state.kubeconfig())
        .await
        .map_err(|e| unreachable(format!("{e:#}")))?;
    match tokio::time::timeout(Duration::from_secs(5), client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable("no answer within 5 s".into())),
    }
}

/// Where a control plane started in the background (`kaspire up --detach`) writes its output.
pub fn log_file(state: &StateDir) -> std::path::PathBuf {
    state.root().join("control-plane.log")
}

/// A client from a kubeconfig file written by the control plane.
pub async fn client_from_kubeconfig(path: &Path) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(path)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// The pid of the live control plane of `state`, if its pid file names a running kaspire
/// process (a stale file left by a crash, or a pid the system reused, gives None).
pub fn running_pid(state: &StateDir) -> Option<i32> {
    let text = std::fs::read_to_string(state.pid_file()).ok()?;
    let pid: i32 = text.trim().parse().ok()?;
    is_live_kaspire(pid).then_some(pid)
}

/// True while `pid` is a process (not a zombie) whose program is kaspire.
pub fn is_live_kaspire(pid: i32) -> bool {
    is_alive(pid) && program_name(pid).is_some_and(|name| name.contains("kaspire"))
}

/// True while `pid` exists and has not exited (a zombie waiting to be reaped has exited).
pub fn is_alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state letter follows the parenthesised command name, which may hold spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, None | Some('Z') | Some('X'))
}

fn program_name(pid: i32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv0 = cmdline.split(|b| *b == 0).next()?;
    let name = Path::new(std::str::from_utf8(argv0).ok()?).file_name()?;
    Some(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_pid_file_means_nothing_runs() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(running_pid(&StateDir::at(tmp.path())), None);
    }

    #[test]
    fn a_pid_that_is_not_kaspire_is_stale() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::at(tmp.path());
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(state.pid_file(), format!("{}\n", sleeper.id())).unwrap();
        assert!(is_alive(sleeper.id() as i32));
        assert_eq!(running_pid(&state), None);
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
        assert!(!is_alive(sleeper.id() as i32));
    }

    #[test]
    fn a_zombie_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        std::thread::sleep(Duration::from_millis(200));
        assert!(!is_alive(pid), "an exited, unreaped child is a zombie");
        child.wait().unwrap();
    }
}
