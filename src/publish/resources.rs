//! One manifest entry per kind, with Aspire's field order: type, connectionString, then the
//! kind's own fields, args, mounts, env, bindings.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{App, PublishError, Resource, Spec};
use crate::api::{EndpointScheme, EndpointSpec, ParameterSpec, RunSpec, VolumeType};
use crate::expr::{self, ReferencedEndpoint};

/// The shared run fields of an Executable or Container.
pub(super) fn run_spec(spec: &Spec) -> Option<&RunSpec> {
    match spec {
        Spec::Executable(exe) => Some(&exe.run),
        Spec::Container(ctr) => Some(&ctr.run),
        Spec::Parameter(_) | Spec::Value(_) => None,
    }
}

/// Every field that may hold expressions, as `(field path, text)`: args, env values and the
/// connection string.
pub(super) fn expression_fields(spec: &Spec) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    if let Some(run) = run_spec(spec) {
        for (i, arg) in run.args.iter().enumerate() {
            fields.push((format!("spec.args[{i}]"), arg.clone()));
        }
        for var in &run.env {
            fields.push((
                format!("spec.env[{}].value", var.name),
                var.value.clone().unwrap_or_default(),
            ));
        }
    }
    let connection_string = match spec {
        Spec::Executable(exe) => exe.run.connection_string.as_ref(),
        Spec::Container(ctr) => ctr.run.connection_string.as_ref(),
        Spec::Value(value) => value.connection_string.as_ref(),
        Spec::Parameter(_) => None,
    };
    if let Some(text) = connection_string {
        fields.push(("spec.connectionString".into(), text.clone()));
    }
    fields
}

/// The manifest entry of `resource`.
pub(super) fn write(
    app: &App,
    resource: &Resource,
    connection_parameters: &BTreeSet<String>,
    warnings: &mut Vec<String>,
) -> Result<Map<String, Value>, PublishError> {
    let aspire = |field: &str, text: &str| -> Result<String, PublishError> {
        Ok(app.parse(resource, field, text)?.to_aspire())
    };
    let mut entry = Map::new();
    match &resource.spec {
        Spec::Executable(exe) => {
            entry.insert("type".into(), "executable.v0".into());
            if exe.run.connection_string.is_some() {
                aspire(
                    "spec.connectionString",
                    exe.run.connection_string.as_deref().unwrap_or(""),
                )?;
                warnings.push(format!(
                    "{}: Executable {:?}: spec.connectionString left out: executable.v0 has no \
                     connectionString in Aspire's manifest schema",
                    resource.origin, resource.name
                ));
            }
            let working_dir = exe.working_dir.as_deref().unwrap_or(".");
            entry.insert("workingDirectory".into(), working_dir.into());
            entry.insert("command".into(), exe.command.as_str().into());
            write_run(app, resource, &exe.run, &mut entry, None)?;
        }
        Spec::Container(ctr) => {
            entry.insert("type".into(), "container.v0".into());
            if let Some(text) = &ctr.run.connection_string {
                entry.insert(
                    "connectionString".into(),
                    aspire("spec.connectionString", text)?.into(),
                );
            }
            entry.insert("image".into(), ctr.image.as_str().into());
            if let Some(entrypoint) = &ctr.entrypoint {
                entry.insert("entrypoint".into(), entrypoint.as_str().into());
            }
            let mounts = |kind: VolumeType| -> Vec<Value> {
                ctr.volumes
                    .iter()
                    .filter(|v| v.type_ == kind)
                    .map(|v| {
                        let mut mount = Map::new();
                        if let Some(source) = &v.source {
                            let key = if kind == VolumeType::Bind {
                                "source"
                            } else {
                                "name"
                            };
                            mount.insert(key.into(), source.as_str().into());
                        }
                        mount.insert("target".into(), v.target.as_str().into());
                        mount.insert("readOnly".into(), v.read_only.into());
                        Value::Object(mount)
                    })
                    .collect()
            };
            let mounts = [
                ("bindMounts", mounts(VolumeType::Bind)),
                ("volumes", mounts(VolumeType::Volume)),
            ];
            write_run(app, resource, &ctr.run, &mut entry, Some(mounts))?;
        }
        Spec::Parameter(param) => {
            entry.insert("type".into(), "parameter.v0".into());
            if connection_parameters.contains(&resource.name) {
                entry.insert(
                    "connectionString".into(),
                    format!("{{{}.value}}", resource.name).into(),
                );
            }
            entry.insert(
                "value".into(),
                format!("{{{}.inputs.value}}", resource.name).into(),
            );
            let input = parameter_input(param, resource, warnings);
            entry.insert("inputs".into(), json!({ "value": input }));
        }
        Spec::Value(value) => {
            entry.insert("type".into(), "value.v0".into());
            let text = value.connection_string.as_deref().unwrap_or("");
            entry.insert(
                "connectionString".into(),
                aspire("spec.connectionString", text)?.into(),
            );
        }
    }
    Ok(entry)
}

/// args, mounts (containers), env and bindings.
fn write_run(
    app: &App,
    resource: &Resource,
    run: &RunSpec,
    entry: &mut Map<String, Value>,
    mounts: Option<[(&str, Vec<Value>); 2]>,
) -> Result<(), PublishError> {
    if !run.args.is_empty() {
        let args = run
            .args
            .iter()
            .enumerate()
            .map(|(i, arg)| {
                Ok(app
                    .parse(resource, &format!("spec.args[{i}]"), arg)?
                    .to_aspire()
                    .into())
            })
            .collect::<Result<Vec<Value>, PublishError>>()?;
        entry.insert("args".into(), Value::Array(args));
    }
    for (key, list) in mounts.into_iter().flatten() {
        if !list.is_empty() {
            entry.insert(key.into(), Value::Array(list));
        }
    }
    let env = environment(app, resource, run)?;
    if !env.is_empty() {
        entry.insert("env".into(), Value::Object(env));
    }
    if !run.endpoints.is_empty() {
        let bindings = run
            .endpoints
            .iter()
            .map(|e| (e.name.clone(), binding(e)))
            .collect::<Map<_, _>>();
        entry.insert("bindings".into(), Value::Object(bindings));
    }
    Ok(())
}

/// Endpoint `env` variables, then what `references` injects, then `env` itself (which wins
/// on a clash, as the user wrote it).
fn environment(
    app: &App,
    resource: &Resource,
    run: &RunSpec,
) -> Result<Map<String, Value>, PublishError> {
    let mut env = Map::new();
    for endpoint in &run.endpoints {
        if let Some(var) = &endpoint.env {
            let port = format!(
                "{{{}.bindings.{}.targetPort}}",
                resource.name, endpoint.name
            );
            env.insert(var.clone(), port.into());
        }
    }
    for (i, name) in run.references.iter().enumerate() {
        let Some(target) = app.get(name) else {
            return Err(PublishError::Field {
                origin: resource.origin.clone(),
                kind: resource.spec.kind(),
                name: resource.name.clone(),
                field: format!("spec.references[{i}]"),
                message: format!("the app has no resource `{name}`"),
            });
        };
        for (key, value) in reference_variables(target) {
            env.insert(key, value.into());
        }
    }
    for var in &run.env {
        let field = format!("spec.env[{}].value", var.name);
        let value = app.parse(resource, &field, var.value.as_deref().unwrap_or(""))?;
        env.insert(var.name.clone(), value.to_aspire().into());
    }
    Ok(env)
}

/// What `references: [target]` injects, with manifest placeholders as values.
fn reference_variables(target: &Resource) -> Vec<(String, String)> {
    let connection_string = target
        .spec
        .offers_connection_string()
        .then(|| format!("{{{}.connectionString}}", target.name));
    let is_executable = matches!(target.spec, Spec::Executable(_));
    let endpoints: Vec<ReferencedEndpoint> = run_spec(&target.spec)
        .filter(|_| expr::endpoints_injected(is_executable, connection_string.is_some()))
        .map(|run| {
            run.endpoints
                .iter()
                .map(|e| ReferencedEndpoint {
                    name: e.name.clone(),
                    scheme: e.scheme.as_str().to_owned(),
                    url: format!("{{{}.bindings.{}.url}}", target.name, e.name),
                })
                .collect()
        })
        .unwrap_or_default();
    expr::reference_env(&target.name, connection_string.as_deref(), &endpoints)
}

/// One `bindings` entry, as Aspire's `WriteBindings` writes it.
fn binding(endpoint: &EndpointSpec) -> Value {
    let mut binding = Map::new();
    binding.insert("scheme".into(), endpoint.scheme.as_str().into());
    let protocol = if endpoint.scheme == EndpointScheme::Udp {
        "udp"
    } else {
        "tcp"
    };
    binding.insert("protocol".into(), protocol.into());
    // Aspire derives "http" for http(s) and the protocol otherwise; the schema allows only
    // http, http2 and tcp, so a udp endpoint says tcp here and udp in `protocol`.
    let transport = match endpoint.scheme {
        EndpointScheme::Http | EndpointScheme::Https => "http",
        EndpointScheme::Tcp | EndpointScheme::Udp => "tcp",
    };
    binding.insert("transport".into(), transport.into());
    if let Some(port) = endpoint.port.filter(|&p| Some(p) != endpoint.target_port) {
        binding.insert("port".into(), port.into());
    }
    if let Some(target_port) = endpoint.target_port {
        binding.insert("targetPort".into(), target_port.into());
    }
    if endpoint.external {
        binding.insert("external".into(), true.into());
    }
    Value::Object(binding)
}

/// `inputs.value` of a parameter: string type, secret flag, and a default — generated (only
/// the settings that differ from Aspire's defaults, as Aspire writes them) or the literal value
/// of a non-secret parameter.
fn parameter_input(
    param: &ParameterSpec,
    resource: &Resource,
    warnings: &mut Vec<String>,
) -> Value {
    let mut input = Map::new();
    input.insert("type".into(), "string".into());
    if param.secret {
        input.insert("secret".into(), true.into());
    }
    if let Some(generate) = &param.generate {
        let mut settings = Map::new();
        settings.insert("minLength".into(), generate.length.into());
        for (key, on) in [
            ("lower", generate.lower),
            ("upper", generate.upper),
            ("numeric", generate.numeric),
            ("special", generate.special),
        ] {
            if !on {
                settings.insert(key.into(), false.into());
            }
        }
        input.insert("default".into(), json!({ "generate": settings }));
    } else if let Some(value) = &param.value {
        if param.secret {
            warnings.push(format!(
                "{}: Parameter {:?}: its secret value is not written into the manifest; the \
                 deployment tool will ask for it",
                resource.origin, resource.name
            ));
        } else {
            input.insert("default".into(), json!({ "value": value }));
        }
    }
    Value::Object(input)
}
