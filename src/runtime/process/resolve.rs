//! Finding the program to run before spawning it, so failures say what to fix
//! instead of a bare "No such file or directory".

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::{Access, access};

/// Why a process could not be started. Messages name the spec field and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// `command` is empty.
    #[error("command is empty: set spec.command to a program name or path")]
    EmptyCommand,
    /// A bare name was not found in any `PATH` directory.
    #[error(
        "command {command:?} not found on PATH (searched {}): install it, fix spec.command, or give an absolute path",
        display_dirs(searched)
    )]
    CommandNotFound {
        /// The command as given.
        command: String,
        /// The `PATH` directories searched, in order.
        searched: Vec<PathBuf>,
    },
    /// A command given as a path does not exist.
    #[error("command {} does not exist: fix spec.command (relative paths are resolved against spec.workingDir)", path.display())]
    CommandMissing {
        /// The resolved path.
        path: PathBuf,
    },
    /// The program exists but may not be executed by us.
    #[error("command {} is not executable: chmod +x it or fix spec.command", path.display())]
    NotExecutable {
        /// The resolved path.
        path: PathBuf,
    },
    /// The kernel refused to execute the file (no `#!` line, wrong architecture, a
    /// missing script interpreter, …).
    #[error("command {} could not be executed ({source}): check its #! line and that its interpreter is installed", path.display())]
    BadExecutable {
        /// The resolved path.
        path: PathBuf,
        /// The error from `exec`.
        source: io::Error,
    },
    /// `workingDir` does not exist or is not a directory.
    #[error("working directory {} {problem}: create it or fix spec.workingDir", path.display())]
    WorkingDir {
        /// The directory as given.
        path: PathBuf,
        /// "does not exist", "is not a directory", …
        problem: String,
    },
    /// `envFile` could not be read.
    #[error("env file {} cannot be read ({source}): create it or fix spec.envFile", path.display())]
    EnvFileUnreadable {
        /// The file as given.
        path: PathBuf,
        /// The read error.
        source: io::Error,
    },
    /// `envFile` holds a line that is not `KEY=VALUE`.
    #[error("env file {}, line {line}: {reason}", path.display())]
    EnvFileMalformed {
        /// The file as given.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// An output file (or its directory) of a Persistent process cannot be opened.
    #[error("cannot open output file {} ({source}): check the state directory's permissions and free space", path.display())]
    OutputFile {
        /// The file.
        path: PathBuf,
        /// The open error.
        source: io::Error,
    },
    /// Any other failure of `fork`/`exec` (out of processes, file descriptors, …).
    #[error("cannot start {}: {source}", path.display())]
    Io {
        /// The resolved path.
        path: PathBuf,
        /// The spawn error.
        source: io::Error,
    },
}

fn display_dirs(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "no directories: PATH is empty".to_owned();
    }
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// Checks the working directory the process will start in.
pub(crate) fn check_working_dir(dir: &Path) -> Result<(), SpawnError> {
    let problem = match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => "is not a directory".to_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => "does not exist".to_owned(),
        Err(e) => format!("cannot be accessed ({e})"),
    };
    Err(SpawnError::WorkingDir {
        path: dir.to_owned(),
        problem,
    })
}

/// Resolves `command` to the file to execute: a name containing `/` is a path
/// (relative to `working_dir` when given), anything else is looked up in `path_var`
/// (the child's `PATH`) like a shell does.
pub(crate) fn resolve_command(
    command: &str,
    path_var: Option<&OsStr>,
    working_dir: Option<&Path>,
) -> Result<PathBuf, SpawnError> {
    if command.is_empty() {
        return Err(SpawnError::EmptyCommand);
    }
    if command.contains('/') {
        let path = match working_dir {
            Some(dir) if Path::new(command).is_relative() => dir.join(command),
            _ => PathBuf::from(command),
        };
        return match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && access(&path, Access::EXEC_OK).is_ok() => Ok(path),
            Ok(_) => Err(SpawnError::NotExecutable { path }),
            Err(_) => Err(SpawnError::CommandMissing { path }),
        };
    }
    let searched: Vec<PathBuf> = path_var
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    let mut not_executable = None;
    for dir in &searched {
        // An empty PATH entry means the current directory, as in POSIX shells.
        let dir = if dir.as_os_str().is_empty() {
            working_dir.unwrap_or(Path::new("."))
        } else {
            dir.as_path()
        };
        let candidate = dir.join(command);
        match std::fs::metadata(&candidate) {
            Ok(m) if m.is_file() => {
                if access(&candidate, Access::EXEC_OK).is_ok() {
                    return Ok(candidate);
                }
                not_executable.get_or_insert(candidate);
            }
            _ => {}
        }
    }
    Err(match not_executable {
        Some(path) => SpawnError::NotExecutable { path },
        None => SpawnError::CommandNotFound {
            command: command.to_owned(),
            searched,
        },
    })
}
