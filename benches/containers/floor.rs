//! The Engine's own floor for the app: the bench itself creates every container at once
//! on a network of its own, then starts each and runs the exec readiness check inside
//! it back to back (no interval) until it passes, starting dependents the moment their
//! dependency passed — what any create-then-start orchestrator with exec checks pays
//! at least.

use std::time::Instant;

use bollard::Docker;
use bollard::exec::StartExecResults;
use bollard::models::{ContainerCreateBody, ExecConfig, HostConfig, NetworkCreateRequest};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use futures::StreamExt;

use crate::engine;
use crate::graph::{READY_CHECK, SCRIPT, Shape, count, service};

/// Apply -> all ready (ms); everything named `prefix-*` is removed afterwards.
pub async fn run(docker: &Docker, shape: Shape, image: &str, prefix: &str) -> anyhow::Result<f64> {
    let network = format!("{prefix}-net");
    let result = async {
        docker
            .create_network(NetworkCreateRequest {
                name: network.clone(),
                ..Default::default()
            })
            .await?;
        let started = Instant::now();
        let name = |i: usize| format!("{prefix}-{}", service(i));
        let creates = (0..count()).map(|i| create(docker, name(i), image, &network));
        let ids = futures::future::try_join_all(creates).await?;
        let start = |i: usize| start_ready(docker, &ids[i]);
        match shape {
            Shape::Chain => {
                for i in 0..count() {
                    start(i).await?;
                }
            }
            Shape::FanOut => {
                start(0).await?;
                futures::future::try_join_all((1..count()).map(start)).await?;
            }
        }
        Ok::<_, anyhow::Error>(crate::common::ms(started.elapsed()))
    }
    .await;
    engine::sweep_named(docker, prefix).await;
    result
}

/// Creates container `name` running the app's script; its id.
async fn create(
    docker: &Docker,
    name: String,
    image: &str,
    network: &str,
) -> anyhow::Result<String> {
    let body = ContainerCreateBody {
        image: Some(image.into()),
        entrypoint: Some(vec!["/bin/sh".into()]),
        cmd: Some(vec!["-c".into(), SCRIPT.into()]),
        host_config: Some(HostConfig {
            network_mode: Some(network.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::new().name(&name).build();
    Ok(docker.create_container(Some(options), body).await?.id)
}

/// Starts container `id`, then execs the readiness check until it exits 0.
async fn start_ready(docker: &Docker, id: &str) -> anyhow::Result<()> {
    docker.start_container(id, None).await?;
    loop {
        let exec = docker
            .create_exec(
                id,
                ExecConfig {
                    cmd: Some(READY_CHECK.map(String::from).to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await?;
        if let StartExecResults::Attached { mut output, .. } =
            docker.start_exec(&exec.id, None).await?
        {
            while output.next().await.is_some() {}
        }
        if docker.inspect_exec(&exec.id).await?.exit_code == Some(0) {
            return Ok(());
        }
    }
}
