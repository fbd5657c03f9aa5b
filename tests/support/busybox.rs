//! A statically linked busybox for the Container tests' `FROM scratch` images (see
//! `docker.rs`): found on the machine, or extracted from Debian's package without root.
//! Also included by `benches/containers.rs` (through `#[path]`).

use std::path::{Path, PathBuf};

/// The Debian package that holds it (`/bin/busybox`).
const BUSYBOX_PACKAGE: &str = "busybox-static";

/// A statically linked busybox: `KASPIRE_TEST_BUSYBOX`, Debian's `busybox-static`
/// (`/bin/busybox`), or the one extracted before into `target/busybox-static/` — which
/// is done here (`apt-get download busybox-static`, `dpkg-deb -x`; no root needed) when
/// none is found.
pub fn busybox() -> Result<PathBuf, String> {
    if let Some(found) = busybox_candidates().into_iter().find(|p| is_static_elf(p)) {
        return Ok(found);
    }
    let dir = extract_dir();
    extract_busybox(&dir).map_err(|e| {
        format!(
            "no statically linked busybox for the test images ({e}): install Debian's \
             busybox-static (`apt-get install busybox-static`; .ci/run does) or set \
             KASPIRE_TEST_BUSYBOX to one"
        )
    })?;
    let path = dir.join("bin/busybox");
    if is_static_elf(&path) {
        Ok(path)
    } else {
        Err(format!("{} is not a static ELF binary", path.display()))
    }
}

fn busybox_candidates() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::env::var_os("KASPIRE_TEST_BUSYBOX")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    found.extend(["/bin/busybox", "/usr/bin/busybox"].map(PathBuf::from));
    found.push(extract_dir().join("bin/busybox"));
    found
}

fn extract_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join(BUSYBOX_PACKAGE)
}

fn extract_busybox(into: &Path) -> Result<(), String> {
    let download = tempfile::tempdir().map_err(|e| e.to_string())?;
    let run = |cmd: &mut std::process::Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    run(std::process::Command::new("apt-get")
        .args(["download", BUSYBOX_PACKAGE])
        .current_dir(download.path()))?;
    let deb = std::fs::read_dir(download.path())
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or("apt-get download left no .deb")?;
    run(std::process::Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(into))
}

/// An ELF executable without a program interpreter (PT_INTERP): it runs in an empty
/// `FROM scratch` image. (Debian's plain `busybox` package is dynamically linked.)
fn is_static_elf(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    // 64-bit little-endian ELF only: the machines this runs on.
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().expect("8 bytes")) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    const PT_INTERP: u32 = 3;
    (0..phnum).all(|i| {
        let at = phoff + i * phentsize;
        bytes
            .get(at..at + 4)
            .is_some_and(|t| u32::from_le_bytes(t.try_into().expect("4 bytes")) != PT_INTERP)
    })
}

/// An exclusive `flock` on a file in the temp dir, held until dropped: one builder of
/// the test images (and one extractor of busybox) per machine at a time.
pub struct MachineLock(std::fs::File);

impl MachineLock {
    pub fn take(name: &str) -> MachineLock {
        let path = std::env::temp_dir().join(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .unwrap_or_else(|e| panic!("cannot lock {}: {e}", path.display()));
        MachineLock(file)
    }
}

impl Drop for MachineLock {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(&self.0, rustix::fs::FlockOperation::Unlock);
    }
}
