//! The image a Container runs, per `spec.pullPolicy`: looked up locally, pulled when
//! allowed and needed, with the pull's progress written to the `startup` log source
//! (one line per layer step, not one per byte).

use bollard::Docker;
use bollard::query_parameters::CreateImageOptions;
use futures::StreamExt;

use crate::api::{Container, PullPolicy};
use crate::runtime::logs::LogWriter;

/// The image as the engine knows it.
pub struct Image {
    /// The engine's id (`sha256:…`), which the container is created from.
    pub id: String,
    /// The image declares a HEALTHCHECK (that is not `NONE`).
    pub has_healthcheck: bool,
}

/// Finds or pulls the image of `ctr`; the error names the field and the fix.
pub async fn ensure(
    docker: &Docker,
    ctr: &Container,
    startup: &LogWriter,
) -> Result<Image, String> {
    let reference = &ctr.spec.image;
    let local = docker.inspect_image(reference).await.ok();
    let pull = match ctr.spec.pull_policy {
        PullPolicy::Always => true,
        PullPolicy::IfNotPresent => local.is_none(),
        PullPolicy::Never => false,
    };
    if pull {
        startup.line(format!("pulling {reference}").as_bytes());
        if let Err(e) = pull_image(docker, reference, startup).await {
            startup.line(format!("pull failed: {e}").as_bytes());
            if local.is_none() || ctr.spec.pull_policy != PullPolicy::Always {
                return Err(format!(
                    "spec.image: cannot pull {reference}: {e}; check the name and the registry, or build or load the image locally and set pullPolicy: Never"
                ));
            }
        }
    } else if local.is_none() {
        return Err(format!(
            "spec.image: {reference} is not on this machine and spec.pullPolicy is Never; build or load it (docker build / docker load), or set pullPolicy: IfNotPresent"
        ));
    }
    let inspected = docker
        .inspect_image(reference)
        .await
        .map_err(|e| format!("spec.image: cannot inspect {reference}: {e}"))?;
    let has_healthcheck = inspected
        .config
        .and_then(|c| c.healthcheck)
        .and_then(|h| h.test)
        .is_some_and(|test| test.first().is_some_and(|t| t != "NONE"));
    Ok(Image {
        id: inspected.id.unwrap_or_else(|| reference.clone()),
        has_healthcheck,
    })
}

async fn pull_image(docker: &Docker, reference: &str, startup: &LogWriter) -> Result<(), String> {
    let options = CreateImageOptions {
        from_image: Some(reference.to_owned()),
        ..Default::default()
    };
    let mut stream = docker.create_image(Some(options), None, None);
    let mut last = String::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| e.to_string())?;
        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
            return Err(detail);
        }
        let line = match (info.id, info.status) {
            (Some(id), Some(status)) => format!("{id}: {status}"),
            (None, Some(status)) => status,
            _ => continue,
        };
        // Progress repeats "Downloading" per chunk: log each step once.
        if line != last {
            startup.line(line.as_bytes());
            last = line;
        }
    }
    Ok(())
}

/// The image an existing container runs (for an adopted one).
pub async fn of_container(
    docker: &Docker,
    inspected: &bollard::models::ContainerInspectResponse,
) -> Image {
    let id = inspected.image.clone().unwrap_or_default();
    let has_healthcheck = docker
        .inspect_image(&id)
        .await
        .ok()
        .and_then(|i| i.config?.healthcheck?.test)
        .is_some_and(|test| test.first().is_some_and(|t| t != "NONE"));
    Image {
        id,
        has_healthcheck,
    }
}
