//! Output files for processes that must outlive the control plane
//! ([`OutputMode::Files`](super::OutputMode::Files)).

use std::fs::{DirBuilder, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::process::Stdio;

use super::SpawnError;

/// Opens (creating them and their directories) the stdout and stderr files; the
/// same path for both yields one open file shared by the two streams, so their
/// lines interleave as written.
pub(crate) fn open(stdout: &Path, stderr: &Path) -> Result<(Stdio, Stdio), SpawnError> {
    let out = open_one(stdout)?;
    let err = if stderr == stdout {
        out.try_clone().map_err(|source| SpawnError::OutputFile {
            path: stderr.to_owned(),
            source,
        })?
    } else {
        open_one(stderr)?
    };
    Ok((out.into(), err.into()))
}

/// `O_APPEND` so a tailer may truncate the file under the writer: each write goes
/// to the current end, wherever that is.
fn open_one(path: &Path) -> Result<File, SpawnError> {
    let error = |source| SpawnError::OutputFile {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(error)?;
    }
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(error)
}
