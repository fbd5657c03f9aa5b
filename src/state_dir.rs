//! The state directory (default `./.kaspire`, or `--state-dir`, or `KASPIRE_STATE_DIR`):
//! the persisted store, TLS material, the bearer token, the kubeconfig and logs.
//! Everything secret in it is created with mode 0600, the directory itself 0700.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Paths inside one state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Uses (and creates, mode 0700) the directory at `root`.
    pub fn create(root: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root)
            .with_context(|| format!("cannot create the state directory {}", root.display()))?;
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict the permissions of {}", root.display()))?;
        Ok(StateDir { root })
    }

    /// The directory, without creating it (for commands that only read).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        StateDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn store(&self) -> PathBuf {
        self.root.join("store.redb")
    }

    pub fn tls(&self) -> PathBuf {
        self.root.join("tls")
    }

    pub fn token(&self) -> PathBuf {
        self.root.join("token")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.root.join("kubeconfig")
    }

    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Holds the pid of the running control plane (`kaspire up` or `kaspire serve`);
    /// `kaspire down` signals it.
    pub fn pid_file(&self) -> PathBuf {
        self.root.join("control-plane.pid")
    }

    /// Raw output files of Persistent processes, which must outlive the control plane's pipes.
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// A random id naming this state directory's processes (`KASPIRE_INSTANCE` in their
    /// environment), created on first use; two kaspire instances never touch each
    /// other's processes.
    pub fn instance_id(&self) -> anyhow::Result<String> {
        let path = self.root.join("instance-id");
        if let Ok(id) = fs::read_to_string(&path) {
            let id = id.trim();
            if !id.is_empty() {
                return Ok(id.to_owned());
            }
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        write_private(&path, id.as_bytes())?;
        Ok(id)
    }
}

/// Writes `contents` to `path` with mode 0600, atomically (write + rename), so a reader
/// never sees a half-written kubeconfig and a crash never leaves one.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
