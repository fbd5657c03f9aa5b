//! Turning an Executable's spec into the process of one replica: command, arguments
//! and environment (with kaspire's tags), working directory and env file resolved
//! against the directory the app file came from, output into the resource's log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kube::ResourceExt;

use crate::api::{Executable, Lifetime};
use crate::runtime::logs::{LogStore, LogWriter, ResourceRef, Source};
use crate::runtime::process::{OutputMode, OutputSink, ProcessSpec, Stream, Tags};

/// Annotation `kaspire up` sets to the directory of the file an object came from, so
/// `workingDir: services` means `services/` beside `app.yaml`, wherever kaspire runs.
pub const SOURCE_DIR_ANNOTATION: &str = "kaspire.dev/source-dir";

/// Everything decided for one replica before it is spawned.
pub struct ReplicaPlan<'a> {
    pub exe: &'a Executable,
    pub index: u32,
    pub instance: &'a str,
    pub lifecycle_key: &'a str,
    /// `(name, value)` pairs from `env`, `references` and endpoint `env`, resolved.
    pub env: Vec<(String, String)>,
    /// Resolved `args`.
    pub args: Vec<String>,
    pub target_ports: &'a BTreeMap<String, u16>,
    /// The control plane's working directory (fallback base for relative paths).
    pub cwd: &'a Path,
    /// Where Persistent processes write their output.
    pub run_dir: &'a Path,
}

impl ReplicaPlan<'_> {
    /// The process to spawn.
    pub fn process_spec(&self) -> ProcessSpec {
        let spec = &self.exe.spec;
        let base = base_dir(self.exe, self.cwd);
        let working_dir = spec
            .working_dir
            .as_deref()
            .map(|dir| base.join(dir))
            .unwrap_or_else(|| base.clone());
        let tags = Tags {
            instance: self.instance.to_owned(),
            resource: self.exe.uid(),
            replica_index: Some(self.index),
            lifetime: Some(spec.run.lifetime),
            lifecycle_key: Some(self.lifecycle_key.to_owned()),
        };
        let mut env = tags.env();
        for endpoint in &spec.run.endpoints {
            if let (Some(var), Some(port)) = (&endpoint.env, self.target_ports.get(&endpoint.name))
            {
                env.push((var.clone(), port.to_string()));
            }
        }
        env.extend(self.env.iter().cloned());
        ProcessSpec {
            command: spec.command.clone(),
            args: self.args.clone(),
            env,
            working_dir: Some(working_dir),
            env_file: spec.env_file.as_deref().map(|file| base.join(file)),
            output: match spec.run.lifetime {
                Lifetime::Session => OutputMode::Pipes,
                // A Persistent process outlives the control plane, so it must not write
                // into pipes that end with it: files, followed into the log.
                Lifetime::Persistent => {
                    let (stdout, stderr) = output_files(self.run_dir, self.exe, self.index);
                    OutputMode::Files { stdout, stderr }
                }
            },
        }
    }
}

/// The output files of a Persistent replica.
pub fn output_files(run_dir: &Path, exe: &Executable, index: u32) -> (PathBuf, PathBuf) {
    let dir = run_dir.join(exe.uid().unwrap_or_default());
    (
        dir.join(format!("{index}.stdout")),
        dir.join(format!("{index}.stderr")),
    )
}

/// The directory relative paths in the spec are relative to.
pub fn base_dir(exe: &Executable, cwd: &Path) -> PathBuf {
    exe.annotations()
        .get(SOURCE_DIR_ANNOTATION)
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .unwrap_or_else(|| cwd.to_path_buf())
}

/// A replica's stdout and stderr, written into the resource's log.
pub struct LogSink {
    stdout: LogWriter,
    stderr: LogWriter,
}

impl LogSink {
    pub fn open(logs: &LogStore, resource: &ResourceRef, replica: u32) -> std::io::Result<LogSink> {
        Ok(LogSink {
            stdout: logs.writer(resource, replica, Source::Stdout)?,
            stderr: logs.writer(resource, replica, Source::Stderr)?,
        })
    }
}

impl OutputSink for LogSink {
    fn line(&self, stream: Stream, line: &[u8]) {
        match stream {
            Stream::Stdout => self.stdout.line(line),
            Stream::Stderr => self.stderr.line(line),
        }
    }

    fn dropped(&self, stream: Stream, lines: u64, bytes: u64) {
        let note = format!(
            "[kaspire: {lines} lines ({bytes} bytes) dropped: output came faster than it could be stored]"
        );
        match stream {
            Stream::Stdout => self.stdout.line(note.as_bytes()),
            Stream::Stderr => self.stderr.line(note.as_bytes()),
        }
    }
}

/// The lifecycle key: `spec.lifecycleKey`, or a hash of what the processes are started
/// from (command, args, env, working dir, env file, endpoints). Volatile parts — replica
/// count, waits, health checks, requests — are left out so they never force a restart.
pub fn lifecycle_key(exe: &Executable) -> String {
    use sha2::{Digest, Sha256};
    if let Some(key) = &exe.spec.run.lifecycle_key {
        return key.clone();
    }
    let spec = &exe.spec;
    let material = serde_json::json!({
        "command": spec.command,
        "args": spec.run.args,
        "env": spec.run.env,
        "workingDir": spec.working_dir,
        "envFile": spec.env_file,
        "endpoints": spec.run.endpoints,
        "sourceDir": exe.annotations().get(SOURCE_DIR_ANNOTATION),
    });
    let digest = Sha256::digest(material.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
