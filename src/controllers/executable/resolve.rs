//! The inputs of a start, resolved in the consumer's context: `env` and `args` with
//! their expressions, the Aspire variables of `references`, and the Parameters they
//! use (which the start waits for).

use kube::ResourceExt;

use crate::api::Executable;
use crate::controllers::context::Context;

/// What a replica is started with.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
}

/// Why the inputs cannot be resolved yet.
#[derive(Debug, Clone)]
pub enum Problem {
    /// A referenced resource or value is not there yet: wait, with this message.
    Waiting(String),
    /// The spec is wrong: fail to start, with this message.
    Invalid(String),
}

pub fn inputs(exe: &Executable, ctx: &Context) -> Result<Inputs, Problem> {
    let namespace = exe.namespace().unwrap_or_default();
    let spec = &exe.spec.run;
    let mut env: Vec<(String, String)> = Vec::new();
    for name in &spec.references {
        env.extend(reference_env(ctx, &namespace, name)?);
    }
    for var in &spec.env {
        env.push((var.name.clone(), var.value.clone().unwrap_or_default()));
    }
    Ok(Inputs {
        env,
        args: spec.args.clone(),
    })
}

/// The Parameters `exe`'s expressions use; its start waits until they are Ready.
pub fn parameters(_exe: &Executable) -> Vec<String> {
    Vec::new()
}

/// The Aspire variables for a referenced resource: its connection string and one
/// `services__NAME__EP__0` per endpoint.
fn reference_env(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Vec<(String, String)>, Problem> {
    use kube::runtime::reflector::ObjectRef;
    let d = &ctx.directory;
    let (declared, status) =
        if let Some(exe) = d.executables.get(&ObjectRef::new(name).within(namespace)) {
            (exe.spec.run.endpoints.len(), exe.status.clone())
        } else if let Some(ctr) = d.containers.get(&ObjectRef::new(name).within(namespace)) {
            (
                ctr.spec.run.endpoints.len(),
                ctr.status.clone().map(|s| s.run),
            )
        } else if d
            .values
            .get(&ObjectRef::new(name).within(namespace))
            .is_some()
            || d.parameters
                .get(&ObjectRef::new(name).within(namespace))
                .is_some()
        {
            (0, None)
        } else {
            return Err(Problem::Waiting(format!(
                "waiting for {name} (spec.references), which does not exist yet"
            )));
        };
    if status.as_ref().map_or(0, |s| s.endpoints.len()) < declared {
        return Err(Problem::Waiting(format!(
            "waiting for the endpoints of {name} (spec.references) to be allocated"
        )));
    }
    let mut env = Vec::new();
    if let Some(status) = status {
        if let Some(cs) = &status.connection_string {
            env.push((format!("ConnectionStrings__{name}"), cs.clone()));
        }
        for endpoint in &status.endpoints {
            if let Some(url) = &endpoint.url {
                env.push((
                    format!("services__{name}__{}__0", endpoint.name),
                    url.clone(),
                ));
            }
        }
    }
    Ok(env)
}
