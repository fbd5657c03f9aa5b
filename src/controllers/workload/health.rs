//! The health checks of one replica: one probe per `healthChecks` entry, aimed at the
//! replica's own target port (never the proxy), summarised for status and readiness.

use std::collections::BTreeMap;

use crate::api::{Health, HealthCheck, HealthCheckType, RunSpec};
use crate::runtime::docker::{ContainerExec, ContainerRef, ImageHealth};
use crate::runtime::probe::{self, CheckState, Probe, ProbeSettings, ProbeTarget};
use crate::runtime::process::ProcessSpec;

/// Where `exec` checks run: on the host like the replica's process, or inside its
/// container.
pub enum ExecIn<'a> {
    Host(&'a ProcessSpec),
    Container(&'a ContainerRef),
}

/// The running checks of one replica.
#[derive(Default)]
pub struct Checks {
    checks: Vec<(HealthCheckType, Probe)>,
}

impl Checks {
    /// Starts every check of `spec` against the replica reached at `target_ports` on
    /// the host; an `exec` check runs where `exec` says (like the replica itself).
    /// `notify` runs whenever a check changes state.
    pub fn start(
        spec: &RunSpec,
        target_ports: &BTreeMap<String, u16>,
        exec: ExecIn<'_>,
        notify: impl Fn() + Clone + Send + Sync + 'static,
    ) -> Result<Checks, String> {
        let mut checks = Vec::new();
        for (i, check) in spec.health_checks.iter().enumerate() {
            let settings = probe::settings_from_spec(check);
            let target = target(spec, i, check, target_ports)?;
            let probe = match (target, &exec) {
                (Some(target), _) => probe::start(target, settings, notify.clone()),
                (None, ExecIn::Host(process)) => {
                    probe::start(host_exec(check, process), settings, notify.clone())
                }
                (None, ExecIn::Container(container)) => {
                    let command = check.exec.clone().unwrap_or_default().command;
                    let exec = ContainerExec::new((*container).clone(), command);
                    probe::start(exec, settings, notify.clone())
                }
            };
            checks.push((check.type_, probe));
        }
        Ok(Checks { checks })
    }

    /// Adds the image's own HEALTHCHECK as a readiness check (as Docker reports it).
    pub fn add_image_healthcheck(
        &mut self,
        container: &ContainerRef,
        notify: impl Fn() + Send + Sync + 'static,
    ) {
        let settings = ProbeSettings {
            // Docker runs the check; this only reads its verdict, so read it often.
            period: std::time::Duration::from_secs(1),
            failure_threshold: 1,
            ..ProbeSettings::default()
        };
        let probe = probe::start(ImageHealth::new(container.clone()), settings, notify);
        self.checks.push((HealthCheckType::Readiness, probe));
    }

    /// Stops probing (the replica ended).
    pub fn stop(&mut self) {
        self.checks.clear();
    }

    /// Whether every readiness check passes, and otherwise why not.
    pub fn readiness(&self) -> Result<(), String> {
        for (type_, probe) in &self.checks {
            if *type_ != HealthCheckType::Readiness {
                continue;
            }
            let status = probe.status();
            if status.state != CheckState::Passing {
                return Err(status
                    .message
                    .unwrap_or_else(|| "readiness check not run yet".into()));
            }
        }
        Ok(())
    }

    /// The message of a failing liveness check.
    pub fn liveness_failure(&self) -> Option<String> {
        self.checks.iter().find_map(|(type_, probe)| {
            let status = probe.status();
            (*type_ == HealthCheckType::Liveness && status.state == CheckState::Failing)
                .then(|| status.message.unwrap_or_default())
        })
    }

    /// Healthy when every check passes, Unhealthy when any fails, else Unknown; `None`
    /// without checks.
    pub fn health(&self) -> Option<Health> {
        if self.checks.is_empty() {
            return None;
        }
        let states: Vec<CheckState> = self.checks.iter().map(|(_, p)| p.status().state).collect();
        Some(if states.contains(&CheckState::Failing) {
            Health::Unhealthy
        } else if states.iter().all(|s| *s == CheckState::Passing) {
            Health::Healthy
        } else {
            Health::Unknown
        })
    }
}

/// The probe of an `http` or `tcp` check (`None` for `exec`, which runs where the
/// replica runs), after checking that exactly one kind is set.
fn target(
    spec: &RunSpec,
    index: usize,
    check: &HealthCheck,
    target_ports: &BTreeMap<String, u16>,
) -> Result<Option<ProbeTarget>, String> {
    let field = format!("spec.healthChecks[{index}]");
    let endpoint_port = |wanted: Option<&String>, http_only: bool| -> Result<u16, String> {
        let endpoints = &spec.endpoints;
        let endpoint = match wanted {
            Some(name) => endpoints.iter().find(|e| &e.name == name),
            None => endpoints.iter().find(|e| {
                !http_only
                    || matches!(
                        e.scheme,
                        crate::api::EndpointScheme::Http | crate::api::EndpointScheme::Https
                    )
            }),
        };
        let Some(endpoint) = endpoint else {
            let names: Vec<&str> = endpoints.iter().map(|e| e.name.as_str()).collect();
            return Err(match wanted {
                Some(name) => format!(
                    "{field}: endpoint {name:?} does not exist; the endpoints are {names:?}"
                ),
                None => format!(
                    "{field}: the check needs an endpoint, and there is none that fits; add one to spec.endpoints"
                ),
            });
        };
        target_ports
            .get(&endpoint.name)
            .copied()
            .ok_or_else(|| format!("{field}: endpoint {} has no port yet", endpoint.name))
    };
    let kinds = [
        check.http.is_some(),
        check.tcp.is_some(),
        check.exec.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(format!("{field}: set exactly one of http, tcp or exec"));
    }
    if let Some(http) = &check.http {
        return Ok(Some(ProbeTarget::Http {
            host: "127.0.0.1".into(),
            port: endpoint_port(http.endpoint.as_ref(), true)?,
            path: http.path.clone(),
            expected_status: http.expected_status.clamp(100, 599) as u16,
        }));
    }
    if let Some(tcp) = &check.tcp {
        return Ok(Some(ProbeTarget::Tcp {
            host: "127.0.0.1".into(),
            port: endpoint_port(tcp.endpoint.as_ref(), false)?,
        }));
    }
    let exec = check.exec.as_ref().expect("one kind is set");
    if exec.command.is_empty() {
        return Err(format!(
            "{field}.exec.command is empty: give the program and its arguments"
        ));
    }
    Ok(None)
}

/// An `exec` check on the host, run like the replica (its directory and environment).
fn host_exec(check: &HealthCheck, process: &ProcessSpec) -> ProbeTarget {
    let command = check.exec.clone().unwrap_or_default().command;
    let (program, args) = command.split_first().expect("checked non-empty");
    ProbeTarget::Exec(ProcessSpec {
        command: program.clone(),
        args: args.to_vec(),
        output: Default::default(),
        ..process.clone()
    })
}
