//! `onParentReady` for a Container parent: the command runs inside the parent's
//! container (`docker exec`). The Docker runtime (`src/runtime/docker/`) wires this in;
//! until then it reports that it cannot run, and the Value retries with backoff.

use std::sync::Arc;

use kube::ResourceExt;

use crate::api::Container;
use crate::controllers::context::Context;
use crate::runtime::process::{Exit, OutputSink};

/// Runs `command` (program and arguments, no shell) inside the running container of
/// `container` (replica 0), as `docker exec` would, with stdout and stderr line by line
/// into `output`. `Ok` with how the command ended once it ran (a non-zero exit is not an
/// error here); `Err` with a message naming the container when it could not run at all
/// (Docker unreachable, the container not running, the program missing).
///
/// The future is dropped when the command is no longer wanted (the Value was deleted,
/// the parent restarted): an implementation should stop the exec then.
pub async fn exec_in_parent_container(
    _ctx: &Context,
    container: &Container,
    _command: &[String],
    _output: Arc<dyn OutputSink>,
) -> Result<Exit, String> {
    Err(format!(
        "running commands inside Container {} is not supported yet (docker exec comes with \
         the Docker runtime)",
        container.name_any()
    ))
}
