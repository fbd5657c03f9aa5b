//! The inputs of a start, resolved in the consumer's context: `env` and `args` with
//! their expressions (§4), and the Aspire variables of `references`. A process reaches
//! everything at `localhost:PORT`, a container reaches other containers as
//! `NAME:TARGETPORT` and the host as `host.docker.internal:PORT`; secret values are
//! resolved for the replica but only ever shown masked.

use std::collections::BTreeSet;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::Workload;
use crate::api::{EndpointStatus, RunSpec, RunStatus};
use crate::controllers::context::Context;
use crate::controllers::directory::Directory;
use crate::controllers::parameter::{VALUE_KEY, secret_name};
use crate::expr::{
    self, Context as ExprContext, EndpointTarget, Entry, Location, Reference, ReferencedEndpoint,
    Resolved, Snapshot, Template,
};

/// What a replica is started with.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    /// `args` with secret values masked: what logs and events may show.
    pub masked_args: Vec<String>,
}

/// Why the inputs cannot be resolved yet.
#[derive(Debug, Clone)]
pub enum Problem {
    /// A referenced resource or value is not there yet: wait, with this message.
    Waiting(String),
    /// The spec is wrong: fail to start, with this message.
    Invalid(String),
}

/// Every template of the spec with the field it came from, parsed.
fn templates(spec: &RunSpec) -> Result<Vec<(String, Template)>, Problem> {
    let mut all = Vec::new();
    for (i, arg) in spec.args.iter().enumerate() {
        all.push((format!("spec.args[{i}]"), arg.as_str()));
    }
    for var in &spec.env {
        all.push((
            format!("spec.env[{}].value", var.name),
            var.value.as_deref().unwrap_or(""),
        ));
    }
    all.into_iter()
        .map(|(field, text)| {
            expr::parse(text).map(|t| (field.clone(), t)).map_err(|e| {
                Problem::Invalid(format!(
                    "{field}: {e}; write literal braces as {{{{ and }}}}"
                ))
            })
        })
        .collect()
}

/// The Parameters `spec`'s expressions use; its start waits until they are Ready.
pub fn parameters(spec: &RunSpec) -> Vec<String> {
    let Ok(templates) = templates(spec) else {
        return Vec::new();
    };
    let names: BTreeSet<String> = templates
        .iter()
        .flat_map(|(_, t)| t.references())
        .filter_map(|r| match r {
            Reference::Value { resource } => Some(resource.clone()),
            _ => None,
        })
        .collect();
    names.into_iter().collect()
}

/// The inputs of one replica; `own` is this resource as the replica sees itself (its
/// ports, before status shows them).
pub fn inputs<K: Workload>(object: &K, ctx: &Context, own: Entry) -> Result<Inputs, Problem> {
    let namespace = object.namespace().unwrap_or_default();
    let spec = object.run_spec();
    let templates = templates(spec)?;
    let mut names: Vec<String> = templates
        .iter()
        .flat_map(|(_, t)| t.references().map(|r| r.resource().to_owned()))
        .collect();
    names.extend(spec.references.iter().cloned());
    let mut snapshot = snapshot(&ctx.directory, &namespace, names, object.expr_context());
    *snapshot.resource(&object.name_any()) = own;
    let mut env: Vec<(String, String)> = Vec::new();
    for name in &spec.references {
        env.extend(reference_env(&ctx.directory, &namespace, &snapshot, name)?);
    }
    let mut args = Vec::new();
    let mut masked_args = Vec::new();
    for (field, template) in &templates {
        let resolved = template
            .resolve(&snapshot)
            .map_err(|e| Problem::Waiting(format!("waiting for {field}: {e}")))?;
        match field
            .strip_prefix("spec.env[")
            .and_then(|f| f.strip_suffix("].value"))
        {
            Some(name) => env.push((name.to_owned(), resolved.text)),
            None => {
                args.push(resolved.text);
                masked_args.push(resolved.masked);
            }
        }
    }
    Ok(Inputs {
        env,
        args,
        masked_args,
    })
}

/// What the consumer can know about `names` (and what their connection strings name).
pub(crate) fn snapshot(
    directory: &Directory,
    namespace: &str,
    names: Vec<String>,
    context: ExprContext,
) -> Snapshot {
    let mut snapshot = Snapshot::new(context);
    let mut pending = names;
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(entry) = entry(directory, namespace, &name) else {
            continue;
        };
        if let Some(cs) = &entry.connection_string {
            pending.extend(cs.references().map(|r| r.resource().to_owned()));
        }
        *snapshot.resource(&name) = entry;
    }
    snapshot
}

fn entry(directory: &Directory, namespace: &str, name: &str) -> Option<Entry> {
    let key = || ObjectRef::new(name).within(namespace);
    if let Some(exe) = directory
        .executables
        .get(&ObjectRef::new(name).within(namespace))
    {
        return Some(run_entry(
            &exe.spec.run,
            exe.status.as_ref(),
            Location::Host,
        ));
    }
    if let Some(ctr) = directory
        .containers
        .get(&ObjectRef::new(name).within(namespace))
    {
        let location = Location::Container {
            name: name.to_owned(),
            network: crate::api::container_network(&ctr),
        };
        return Some(run_entry(
            &ctr.spec.run,
            ctr.status.as_ref().map(|s| &s.run),
            location,
        ));
    }
    if let Some(value) = directory
        .values
        .get(&ObjectRef::new(name).within(namespace))
    {
        return Some(Entry {
            connection_string: value
                .spec
                .connection_string
                .as_deref()
                .and_then(|t| expr::parse(t).ok()),
            ..Entry::default()
        });
    }
    let param = directory.parameters.get(&key())?;
    let status = param.status.clone().unwrap_or_default();
    let value = if let Some(value) = status.value {
        Ok(Resolved::plain(value))
    } else if status.secret_name.is_some() {
        directory
            .secrets
            .get(&ObjectRef::new(&secret_name(name)).within(namespace))
            .and_then(|s| s.data.as_ref()?.get(VALUE_KEY).cloned())
            .and_then(|v| String::from_utf8(v.0).ok())
            .map(Resolved::secret)
            .ok_or_else(|| format!("parameter {name} has no value yet"))
    } else {
        Err(status
            .message
            .unwrap_or_else(|| format!("parameter {name} has no value yet")))
    };
    Some(Entry {
        value: Some(value),
        ..Entry::default()
    })
}

/// The snapshot entry of an Executable or Container from its spec and status.
pub fn run_entry(run: &RunSpec, status: Option<&RunStatus>, location: Location) -> Entry {
    Entry {
        endpoints: run
            .endpoints
            .iter()
            .map(|spec| {
                let allocated = status
                    .and_then(|s| s.endpoints.iter().find(|e| e.name == spec.name))
                    .and_then(|e| target(e, spec.scheme.as_str(), location.clone()));
                (spec.name.clone(), allocated)
            })
            .collect(),
        connection_string: run
            .connection_string
            .as_deref()
            .and_then(|t| expr::parse(t).ok()),
        value: None,
    }
}

/// `spec.connectionString` resolved for status (secrets masked), with `status` standing in
/// for the resource's own entry (its endpoints were allocated in this very reconcile).
/// `None` without a template; `Err` while something it names is missing.
pub fn connection_string<K: Workload>(
    object: &K,
    ctx: &Context,
    status: &RunStatus,
) -> Option<Result<Resolved, String>> {
    let text = object.run_spec().connection_string.as_deref()?;
    let template = match expr::parse(text) {
        Ok(template) => template,
        Err(e) => return Some(Err(format!("spec.connectionString: {e}"))),
    };
    let namespace = object.namespace().unwrap_or_default();
    let names = template
        .references()
        .map(|r| r.resource().to_owned())
        .collect();
    let mut snapshot = snapshot(&ctx.directory, &namespace, names, ExprContext::Process);
    *snapshot.resource(&object.name_any()) =
        run_entry(object.run_spec(), Some(status), Location::Host);
    Some(template.resolve(&snapshot).map_err(|e| e.to_string()))
}

fn target(status: &EndpointStatus, scheme: &str, location: Location) -> Option<EndpointTarget> {
    let port = u16::try_from(status.port?).ok()?;
    let target_port = status
        .target_ports
        .first()
        .and_then(|p| u16::try_from(*p).ok())
        .unwrap_or(port);
    Some(EndpointTarget {
        scheme: scheme.to_owned(),
        location,
        port,
        target_port,
    })
}

/// The Aspire variables for a referenced resource (`ConnectionStrings__NAME`,
/// `services__NAME__SCHEME__0`), resolved for this consumer.
fn reference_env(
    directory: &Directory,
    namespace: &str,
    snapshot: &Snapshot,
    name: &str,
) -> Result<Vec<(String, String)>, Problem> {
    let waiting =
        |why: String| Problem::Waiting(format!("waiting for {name} (spec.references): {why}"));
    let Some(entry) = snapshot.resources.get(name) else {
        return Err(waiting("it does not exist yet".into()));
    };
    let connection_string = match (&entry.connection_string, &entry.value) {
        (Some(template), _) => Some(
            template
                .resolve(snapshot)
                .map_err(|e| waiting(e.to_string()))?
                .text,
        ),
        (None, Some(Ok(value))) => Some(value.text.clone()),
        (None, Some(Err(why))) => return Err(waiting(why.clone())),
        (None, None) => None,
    };
    let is_executable = directory
        .executables
        .get(&ObjectRef::new(name).within(namespace))
        .is_some();
    let mut endpoints = Vec::new();
    if expr::endpoints_injected(is_executable, connection_string.is_some()) {
        for (endpoint, target) in &entry.endpoints {
            let Some(target) = target else {
                return Err(waiting(format!(
                    "endpoint {endpoint} has no port allocated yet"
                )));
            };
            endpoints.push(ReferencedEndpoint {
                name: endpoint.clone(),
                scheme: target.scheme.clone(),
                url: snapshot
                    .context
                    .property(target, expr::EndpointProperty::Url),
            });
        }
    }
    Ok(expr::reference_env(
        name,
        connection_string.as_deref(),
        &endpoints,
    ))
}
