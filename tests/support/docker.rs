//! Docker for the Container tests: whether an Engine answers, and the tiny local test
//! images. This machine has no registry (nothing can be pulled), so the images are built
//! through the Engine API from Debian's statically linked busybox, `FROM scratch`:
//!
//! - [`ensure_test_image`]: `kaspire-test/busybox:<hash>`, busybox with every applet
//!   linked in `/bin` (`sh`, `sleep`, `httpd`, `nc`, `wget`, `test`, …), `PATH=/bin`,
//!   `CMD ["sh"]`, a writable `/tmp` and an `/etc/passwd` with root and nobody;
//! - [`ensure_healthcheck_image`]: `kaspire-test/busybox-healthy:<hash>`, the same with
//!   `HEALTHCHECK` `test -f /tmp/healthy` every 250 ms, for "an image HEALTHCHECK counts".
//!
//! `<hash>` covers the busybox binary and the recipe, so a changed recipe or binary
//! builds new images and an existing one is never rebuilt. Building happens once per
//! machine under a file lock, so any number of test processes and threads may ask at once.
//! Also included by `benches/containers.rs` (through `#[path]`, beside `busybox.rs`), so
//! it needs nothing of the support module but `super::busybox`.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, RemoveContainerOptionsBuilder};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::busybox::{MachineLock, busybox};

pub const TEST_IMAGE_REPO: &str = "kaspire-test/busybox";
pub const HEALTHCHECK_IMAGE_REPO: &str = "kaspire-test/busybox-healthy";
/// The file whose existence the healthcheck image's HEALTHCHECK tests.
pub const HEALTHY_FILE: &str = "/tmp/healthy";
/// Image label holding the full content hash (the tag holds its first 12 digits).
pub const HASH_LABEL: &str = "dev.kaspire.test-image.hash";
/// Label on every container a test creates directly, for hand cleanup:
/// `docker rm -f $(docker ps -aq --filter label=dev.kaspire.test)`.
pub const TEST_LABEL: &str = "dev.kaspire.test";
/// Bump when the recipe below changes in a way the Dockerfiles do not show.
const RECIPE: &str = "kaspire-test-image v1";

const BASE_DOCKERFILE: &str = "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD [\"sh\"]\n";
const HEALTHY_DOCKERFILE: &str = "FROM {base}\nHEALTHCHECK --interval=250ms --timeout=5s --retries=3 CMD [\"test\", \"-f\", \"/tmp/healthy\"]\n";

// ---------------------------------------------------------------------------------
// The Engine

/// A client for the Engine the environment names (`DOCKER_HOST`, else the local socket),
/// with the API version negotiated down to the Engine's: bollard speaks 1.53 by default,
/// and an older Engine (20.10 speaks 1.41) refuses every request of a newer version.
pub async fn connect() -> Result<Docker, bollard::errors::Error> {
    Docker::connect_with_defaults()?.negotiate_version().await
}

/// Whether a Docker Engine answers a ping within 5 s.
pub fn docker_available() -> bool {
    docker_unavailable_reason().is_none()
}

/// Why no Docker Engine answers, or None when one does.
pub fn docker_unavailable_reason() -> Option<String> {
    block_on(async {
        let ping = async { connect().await?.ping().await };
        match tokio::time::timeout(Duration::from_secs(5), ping).await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("no answer to a ping within 5 s".into()),
        }
    })
}

/// For tests that need Docker: true when an Engine answers. Otherwise panics under
/// `CI=true` (CI must have Docker) or prints "skipped: no Docker Engine" and returns false.
pub fn docker_or_skip() -> bool {
    let Some(reason) = docker_unavailable_reason() else {
        return true;
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "no Docker Engine ({reason}) and CI=true: the Container tests need a running \
             Docker daemon (DOCKER_HOST, or /var/run/docker.sock)"
        );
    }
    eprintln!("skipped: no Docker Engine ({reason})");
    false
}

/// `require_docker!();` at the top of a test returns from it (after saying so) when no
/// Docker Engine answers, and fails it under `CI=true`. See [`docker_or_skip`].
#[allow(unused_macros)]
macro_rules! require_docker {
    () => {
        if !$crate::support::docker::docker_or_skip() {
            return;
        }
    };
}
#[allow(unused_imports)]
pub(crate) use require_docker;

/// Force-removes (with its anonymous volumes) the container named or id'd on drop, so
/// a failing test leaves nothing behind.
pub struct RemoveOnDrop(pub String);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let id = self.0.clone();
        block_on(async move {
            if let Ok(docker) = connect().await {
                let options = RemoveContainerOptionsBuilder::new()
                    .force(true)
                    .v(true)
                    .build();
                let _ = docker.remove_container(&id, Some(options)).await;
            }
        });
    }
}

/// Runs `future` to completion on a fresh runtime in a thread of its own, so the blocking
/// helpers here work from plain tests and from inside `#[tokio::test]`s alike (a runtime
/// cannot be entered from another, and a client must not outlive the runtime it ran on).
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
            .block_on(future)
    })
    .join()
    .expect("docker helper thread panicked")
}

// ---------------------------------------------------------------------------------
// The test images

struct Images {
    plain: String,
    healthy: String,
}

/// `kaspire-test/busybox:<hash>`, built if this machine does not have it yet.
/// Panics with what to do when it cannot be built (no static busybox, no Engine).
pub fn ensure_test_image() -> String {
    images().plain.clone()
}

/// `kaspire-test/busybox-healthy:<hash>`: [`ensure_test_image`] plus a Docker
/// `HEALTHCHECK` that passes once [`HEALTHY_FILE`] exists (every 250 ms, 3 retries).
pub fn ensure_healthcheck_image() -> String {
    images().healthy.clone()
}

fn images() -> &'static Images {
    static IMAGES: OnceLock<Images> = OnceLock::new();
    static BUILDING: Mutex<()> = Mutex::new(());
    if let Some(images) = IMAGES.get() {
        return images;
    }
    let _one_thread = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(images) = IMAGES.get() {
        return images;
    }
    // One process at a time on this machine: the others find the images built.
    let _lock = MachineLock::take("kaspire-test-image.lock");
    let busybox = busybox().unwrap_or_else(|e| panic!("{e}"));
    let binary = std::fs::read(&busybox)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", busybox.display()));
    let hash = content_hash(&binary);
    let tag = &hash[..12];
    let plain = format!("{TEST_IMAGE_REPO}:{tag}");
    let healthy = format!("{HEALTHCHECK_IMAGE_REPO}:{tag}");
    let (p, h, full) = (plain.clone(), healthy.clone(), hash.clone());
    block_on(async move {
        let docker = connect()
            .await
            .map_err(|e| format!("no Docker Engine: {e}"))?;
        if !has_image(&docker, &p, &full).await {
            let context = base_context(&busybox, &binary)?;
            build(&docker, &p, &full, context).await?;
        }
        if !has_image(&docker, &h, &full).await {
            let dockerfile = HEALTHY_DOCKERFILE.replace("{base}", &p);
            build(&docker, &h, &full, dockerfile_context(&dockerfile)?).await?;
        }
        Ok::<(), String>(())
    })
    .unwrap_or_else(|e| panic!("building the test images {plain} and {healthy}: {e}"));
    IMAGES.get_or_init(|| Images { plain, healthy })
}

fn content_hash(busybox: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for part in [RECIPE.as_bytes(), BASE_DOCKERFILE.as_bytes()] {
        hasher.update(part);
    }
    hasher.update(HEALTHY_DOCKERFILE.as_bytes());
    hasher.update(busybox);
    format!("{:x}", hasher.finalize())
}

/// Whether `tag` exists and carries `hash` (a tag of the same name built otherwise, by
/// hand say, is rebuilt over).
async fn has_image(docker: &Docker, tag: &str, hash: &str) -> bool {
    let Ok(image) = docker.inspect_image(tag).await else {
        return false;
    };
    image
        .config
        .and_then(|c| c.labels)
        .and_then(|labels| labels.get(HASH_LABEL).cloned())
        .is_some_and(|h| h == hash)
}

/// Builds `context` (a tar with a Dockerfile) as `tag` with the classic builder, which
/// every Engine has and which never pulls `FROM scratch` or a local base. The tag is
/// only set once the build succeeded, so nobody sees a half-built image.
async fn build(docker: &Docker, tag: &str, hash: &str, context: Vec<u8>) -> Result<(), String> {
    let options = BuildImageOptionsBuilder::new()
        .t(tag)
        .rm(true)
        .forcerm(true)
        .labels(&HashMap::from([(HASH_LABEL.to_string(), hash.to_string())]))
        .build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut log = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(detail) = info.error_detail {
                    return Err(format!("{detail:?}\n{log}"));
                }
                log.extend(info.stream);
            }
            Err(e) => return Err(format!("{e}\n{log}")),
        }
    }
    Ok(())
}

/// The base image's build context: the Dockerfile and `rootfs/` (busybox, one symlink
/// per applet, `/tmp`, `/www`, `/etc/passwd`, `/etc/group`).
fn base_context(path: &Path, busybox: &[u8]) -> Result<Vec<u8>, String> {
    let mut tar = tar::Builder::new(Vec::new());
    let io = |e: std::io::Error| format!("writing the build context: {e}");
    append_file(&mut tar, "Dockerfile", BASE_DOCKERFILE.as_bytes(), 0o644).map_err(io)?;
    for dir in ["rootfs/", "rootfs/bin/", "rootfs/etc/", "rootfs/www/"] {
        append_dir(&mut tar, dir, 0o755).map_err(io)?;
    }
    append_dir(&mut tar, "rootfs/tmp/", 0o1777).map_err(io)?;
    append_file(&mut tar, "rootfs/bin/busybox", busybox, 0o755).map_err(io)?;
    for applet in applets(path) {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        header.set_mode(0o777);
        tar.append_link(&mut header, format!("rootfs/bin/{applet}"), "busybox")
            .map_err(io)?;
    }
    let passwd =
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    append_file(&mut tar, "rootfs/etc/passwd", passwd.as_bytes(), 0o644).map_err(io)?;
    let group = "root:x:0:\nnogroup:x:65534:\n";
    append_file(&mut tar, "rootfs/etc/group", group.as_bytes(), 0o644).map_err(io)?;
    tar.into_inner().map_err(io)
}

fn dockerfile_context(dockerfile: &str) -> Result<Vec<u8>, String> {
    let mut tar = tar::Builder::new(Vec::new());
    let io = |e: std::io::Error| format!("writing the build context: {e}");
    append_file(&mut tar, "Dockerfile", dockerfile.as_bytes(), 0o644).map_err(io)?;
    tar.into_inner().map_err(io)
}

fn append_file(
    tar: &mut tar::Builder<Vec<u8>>,
    path: &str,
    data: &[u8],
    mode: u32,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, data)
}

fn append_dir(tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(0);
    header.set_mode(mode);
    header.set_entry_type(tar::EntryType::Directory);
    tar.append_data(&mut header, path, std::io::empty())
}

/// The applets this busybox has (`busybox --list`; it is static, so it runs here too),
/// or a fixed list of the ones tests use when it cannot be run.
fn applets(busybox: &Path) -> Vec<String> {
    let fallback = "sh ash sleep httpd nc cat echo ls env wget grep test [ true false kill \
                    touch mkdir rm cp mv ps printf seq head tail sed awk id hostname \
                    nslookup ping ip date timeout sort wc tr cut uname which xargs";
    let listed = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned());
    let text = listed.unwrap_or_else(|| fallback.to_string());
    let mut applets: Vec<String> = text
        .split_whitespace()
        .filter(|a| *a != "busybox" && !a.contains('/'))
        .map(str::to_string)
        .collect();
    applets.sort();
    applets.dedup();
    applets
}
