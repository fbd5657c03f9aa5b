//! The local test images the Container tests run (built from Debian's static busybox,
//! `FROM scratch`, through the Engine API — no registry here): a container from them
//! serves HTTP (`httpd`) and TCP (`nc`) on ports published to the host, and the
//! healthcheck variant's Docker HEALTHCHECK turns healthy once its file exists.
//! Driven with bollard directly; every container is removed, even when a test fails.

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HealthStatusEnum, HostConfig, PortBinding};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use support::docker::{
    HEALTHY_FILE, RemoveOnDrop, TEST_LABEL, block_on, connect, ensure_healthcheck_image,
    ensure_test_image, require_docker,
};

/// Creates and starts a container of `image` running `sh -c script`, with `ports`
/// (inside) published on ephemeral loopback ports; returns its id.
async fn run(docker: &Docker, name: &str, image: &str, script: &str, ports: &[u16]) -> String {
    let bindings = ports
        .iter()
        .map(|p| {
            let binding = PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(String::new()),
            };
            (format!("{p}/tcp"), Some(vec![binding]))
        })
        .collect();
    let body = ContainerCreateBody {
        image: Some(image.into()),
        cmd: Some(vec!["sh".into(), "-c".into(), script.into()]),
        exposed_ports: Some(ports.iter().map(|p| format!("{p}/tcp")).collect()),
        labels: Some(HashMap::from([(TEST_LABEL.into(), "docker_images".into())])),
        host_config: Some(HostConfig {
            port_bindings: Some(bindings),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::new().name(name).build();
    let id = docker
        .create_container(Some(options), body)
        .await
        .unwrap_or_else(|e| panic!("create container {name} from {image}: {e}"))
        .id;
    docker
        .start_container(&id, None)
        .await
        .unwrap_or_else(|e| panic!("start container {name}: {e}"));
    id
}

/// The host port Docker published for `port/tcp` of container `id`.
async fn host_port(docker: &Docker, id: &str, port: u16) -> u16 {
    let inspect = docker.inspect_container(id, None).await.expect("inspect");
    inspect
        .network_settings
        .and_then(|n| n.ports)
        .and_then(|ports| ports.get(&format!("{port}/tcp")).cloned().flatten())
        .and_then(|bindings| bindings.into_iter().next())
        .and_then(|b| b.host_port)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no host port published for {port}/tcp"))
}

/// Connects to 127.0.0.1:`port`, sends `request`, reads until the peer closes; retries
/// for up to 20 s while the server inside is still starting.
fn exchange(port: u16, request: &[u8]) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = TcpStream::connect(("127.0.0.1", port)).and_then(|mut tcp| {
            tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
            tcp.write_all(request)?;
            let mut answer = String::new();
            tcp.read_to_string(&mut answer)?;
            Ok(answer)
        });
        match answer {
            // Docker's proxy accepts before the server inside listens, then closes.
            Ok(answer) if !answer.is_empty() => return answer,
            _ if Instant::now() > deadline => panic!("nothing answered on port {port}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn unique(name: &str) -> String {
    format!("kaspire-test-{name}-{}", std::process::id())
}

#[test]
fn test_image_serves_http_and_nc_on_published_ports() {
    require_docker!();
    let image = ensure_test_image();
    assert!(image.starts_with("kaspire-test/busybox:"), "{image}");
    let name = unique("httpd-nc");
    let _cleanup = RemoveOnDrop(name.clone());
    let script = "echo hello-from-busybox > /www/index.html && httpd -p 8080 -h /www \
                  && exec nc -ll -p 9000 -e echo pong";
    let (http, tcp) = block_on(async move {
        let docker = connect().await.expect("docker");
        let id = run(&docker, &name, &image, script, &[8080, 9000]).await;
        (
            host_port(&docker, &id, 8080).await,
            host_port(&docker, &id, 9000).await,
        )
    });

    let answer = exchange(http, b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("hello-from-busybox"), "{answer}");
    // Twice: `nc -ll` keeps serving.
    for _ in 0..2 {
        assert_eq!(exchange(tcp, b"").trim(), "pong");
    }
}

#[test]
fn healthcheck_image_turns_healthy_once_its_file_exists() {
    require_docker!();
    let image = ensure_healthcheck_image();
    let name = unique("healthy");
    let _cleanup = RemoveOnDrop(name.clone());
    // The file appears 2 s after the start; until then the HEALTHCHECK fails.
    let script = format!("sleep 2; touch {HEALTHY_FILE}; trap 'exit 0' TERM; sleep 3600 & wait");
    let (healthcheck, first, last) = block_on(async move {
        let docker = connect().await.expect("docker");
        let config = docker.inspect_image(&image).await.expect("inspect image");
        let healthcheck = config
            .config
            .and_then(|c| c.healthcheck)
            .expect("HEALTHCHECK");
        let id = run(&docker, &name, &image, &script, &[]).await;
        let status = async || {
            let inspect = docker.inspect_container(&id, None).await.expect("inspect");
            inspect.state.and_then(|s| s.health).and_then(|h| h.status)
        };
        let first = status().await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = first;
        while last != Some(HealthStatusEnum::HEALTHY) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            last = status().await;
        }
        (healthcheck, first, last)
    });
    assert_eq!(
        healthcheck.test,
        Some(vec![
            "CMD".into(),
            "test".into(),
            "-f".into(),
            HEALTHY_FILE.into()
        ])
    );
    assert_eq!(healthcheck.interval, Some(250_000_000));
    assert_eq!(first, Some(HealthStatusEnum::STARTING));
    assert_eq!(last, Some(HealthStatusEnum::HEALTHY));
}

#[test]
fn test_images_are_built_once_and_shared_by_concurrent_callers() {
    require_docker!();
    let tags: Vec<(String, String)> = (0..4)
        .map(|_| std::thread::spawn(|| (ensure_test_image(), ensure_healthcheck_image())))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert!(tags.windows(2).all(|w| w[0] == w[1]), "{tags:?}");
    let (plain, healthy) = &tags[0];
    assert_eq!(plain.split(':').nth(1), healthy.split(':').nth(1));
}
