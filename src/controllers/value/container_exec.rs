//! `onParentReady` for a Container parent: the command runs inside the parent's
//! container (`docker exec`), its output line by line into the Value's log.

use std::sync::Arc;

use kube::ResourceExt;

use crate::api::Container;
use crate::controllers::context::Context;
use crate::runtime::docker::{ContainerRef, exec_lines};
use crate::runtime::process::{Exit, OutputSink};

/// Runs `command` (program and arguments, no shell) inside the running container of
/// `container` (replica 0), as `docker exec` would, with stdout and stderr line by line
/// into `output`. `Ok` with how the command ended once it ran (a non-zero exit is not an
/// error here); `Err` with a message naming the container when it could not run at all
/// (Docker unreachable, the container not running, the program missing).
///
/// Dropping the future stops following the command; the engine has no API to kill an
/// exec, so a command still running inside the container ends with the container.
pub async fn exec_in_parent_container(
    ctx: &Context,
    container: &Container,
    command: &[String],
    output: Arc<dyn OutputSink>,
) -> Result<Exit, String> {
    let name = container.name_any();
    let Some(id) = container
        .status
        .as_ref()
        .and_then(|s| s.container_id.clone())
    else {
        return Err(format!("Container {name} has no running container yet"));
    };
    let docker = ctx.docker.client().await?;
    let target = ContainerRef { docker, id };
    let code = exec_lines(&target, command, &*output)
        .await
        .map_err(|e| format!("Container {name}: {e}"))?;
    Ok(Exit {
        code: Some(code as i32),
        signal: None,
    })
}
