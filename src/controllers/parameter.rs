//! The Parameter controller: finds a Parameter's value (`value`, `fromEnv`, or
//! `generate`d once and kept), stores secret and generated values in a core/v1 Secret
//! the Parameter owns, and reports Ready — or, with no value, which variable to set.
//! Secret values never reach status, logs or events.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use rand::Rng;

use super::context::Context;
use super::status_patch;
use crate::api::conditions::{self, READY, reason};
use crate::api::{Condition, GenerateSpec, Parameter, ParameterStatus, ResourceState};

/// Label on the Secrets that hold Parameter values (the value of the label is the Parameter's name).
pub const PARAMETER_LABEL: &str = "kaspire.dev/parameter";
/// The key of the value inside the Secret.
pub const VALUE_KEY: &str = "value";
const MANAGER: &str = "kaspire-parameter";

/// Name of the Secret holding parameter `name`'s value.
pub fn secret_name(name: &str) -> String {
    format!("{name}-parameter")
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("api: {0}")]
    Api(#[from] kube::Error),
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let api: Api<Parameter> = Api::all(ctx.client.clone());
    let secrets: Api<Secret> = Api::all(ctx.client.clone());
    Controller::new(api, watcher::Config::default())
        .owns(secrets, watcher::Config::default().labels(PARAMETER_LABEL))
        .graceful_shutdown_on(shutdown)
        .run(
            reconcile,
            |_, _, _| Action::requeue(Duration::from_millis(500)),
            ctx,
        )
        .for_each(|_| async {})
        .await;
}

async fn reconcile(param: Arc<Parameter>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = param.namespace().unwrap_or_default();
    let name = param.name_any();
    let spec = &param.spec;
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let stored = secrets
        .get_opt(&secret_name(&name))
        .await?
        .and_then(|s| s.data)
        .and_then(|mut d| d.remove(VALUE_KEY))
        .and_then(|v| String::from_utf8(v.0).ok());
    let value: Result<String, String> = if let Some(value) = &spec.value {
        Ok(value.clone())
    } else if let Some(var) = &spec.from_env {
        std::env::var(var).map_err(|_| {
            format!(
                "no value: set the environment variable {var} (spec.fromEnv) for the control plane, or give one with `kubectl patch parameter {name} --type merge -p '{{\"spec\":{{\"value\":\"...\"}}}}'`"
            )
        })
    } else if let Some(generate) = &spec.generate {
        match stored.clone() {
            // Generated once, kept for good: consumers see the same value across restarts.
            Some(existing) => Ok(existing),
            None => generate_value(generate),
        }
    } else {
        Err(format!(
            "no value: set spec.value, spec.fromEnv or spec.generate, e.g. `kubectl patch parameter {name} --type merge -p '{{\"spec\":{{\"value\":\"...\"}}}}'`"
        ))
    };
    let old = param.status.clone();
    let mut status = old.clone().unwrap_or_default();
    status.observed_generation = param.metadata.generation;
    let now = Time(Timestamp::now());
    match value {
        Ok(value) => {
            let keep_in_secret = spec.secret || spec.generate.is_some();
            if keep_in_secret && stored.as_deref() != Some(value.as_str()) {
                store(&secrets, &param, &value).await?;
            }
            status.state = ResourceState::Running;
            status.message = None;
            status.value = (!spec.secret).then_some(value);
            status.secret_name = keep_in_secret.then(|| secret_name(&name));
            conditions::set(
                &mut status.conditions,
                Condition::new(READY, true, reason::VALUE_AVAILABLE, None, now)
                    .with_observed_generation(param.metadata.generation),
            );
        }
        Err(message) => {
            status.state = ResourceState::Waiting;
            status.value = None;
            status.message = Some(message.clone());
            conditions::set(
                &mut status.conditions,
                Condition::new(READY, false, reason::VALUE_MISSING, Some(message), now)
                    .with_observed_generation(param.metadata.generation),
            );
        }
    }
    if old.as_ref().map(|s| s.state) != Some(status.state) {
        match status.state {
            ResourceState::Running => ctx.event(
                &*param,
                false,
                "Ready",
                format!("parameter {name} has a value"),
            ),
            _ => ctx.event(
                &*param,
                true,
                "ValueMissing",
                status.message.clone().unwrap_or_default(),
            ),
        }
    }
    let api: Api<Parameter> = Api::namespaced(ctx.client.clone(), &namespace);
    status_patch::write::<Parameter, ParameterStatus>(&api, &name, old.as_ref(), &status).await?;
    Ok(Action::await_change())
}

/// Writes the value into the Parameter's own Secret (deleted with it).
async fn store(secrets: &Api<Secret>, param: &Parameter, value: &str) -> Result<(), kube::Error> {
    let name = param.name_any();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(secret_name(&name)),
            namespace: param.namespace(),
            labels: Some(BTreeMap::from([(PARAMETER_LABEL.to_owned(), name.clone())])),
            owner_references: param.controller_owner_ref(&()).map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            VALUE_KEY.to_owned(),
            ByteString(value.as_bytes().to_vec()),
        )])),
        type_: Some("Opaque".into()),
        ..Secret::default()
    };
    let mut secret = serde_json::to_value(&secret).unwrap_or_default();
    secret["apiVersion"] = "v1".into();
    secret["kind"] = "Secret".into();
    secrets
        .patch(
            &secret_name(&name),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(secret),
        )
        .await?;
    Ok(())
}

/// A random value from the enabled character classes, with at least one of each when
/// the length allows (as Aspire's generated parameters do).
pub fn generate_value(spec: &GenerateSpec) -> Result<String, String> {
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const NUMERIC: &str = "0123456789";
    // No quotes, backslash or `;` — values end up in connection strings and shells.
    const SPECIAL: &str = "-_.~!@#$%^*+=";
    let classes: Vec<&str> = [
        (spec.lower, LOWER),
        (spec.upper, UPPER),
        (spec.numeric, NUMERIC),
        (spec.special, SPECIAL),
    ]
    .into_iter()
    .filter_map(|(on, set)| on.then_some(set))
    .collect();
    if classes.is_empty() {
        return Err("spec.generate: every character class is off; enable at least one of lower, upper, numeric or special".into());
    }
    let length = spec.length.max(1) as usize;
    let mut rng = rand::rng();
    let pick = |rng: &mut rand::rngs::ThreadRng, set: &str| {
        set.as_bytes()[rng.random_range(0..set.len())] as char
    };
    let all: String = classes.concat();
    let mut chars: Vec<char> = Vec::with_capacity(length);
    if length >= classes.len() {
        chars.extend(classes.iter().map(|set| pick(&mut rng, set)));
    }
    while chars.len() < length {
        chars.push(pick(&mut rng, &all));
    }
    // Shuffle so the guaranteed characters are not always first.
    for i in (1..chars.len()).rev() {
        chars.swap(i, rng.random_range(0..=i));
    }
    Ok(chars.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_have_the_length_and_every_class() {
        let value = generate_value(&GenerateSpec {
            length: 24,
            ..GenerateSpec::default()
        })
        .unwrap();
        assert_eq!(value.chars().count(), 24);
        assert!(value.chars().any(|c| c.is_ascii_lowercase()));
        assert!(value.chars().any(|c| c.is_ascii_uppercase()));
        assert!(value.chars().any(|c| c.is_ascii_digit()));
        assert!(value.chars().any(|c| !c.is_ascii_alphanumeric()));
    }

    #[test]
    fn generation_respects_disabled_classes() {
        let spec = GenerateSpec {
            length: 40,
            lower: false,
            upper: false,
            numeric: true,
            special: false,
        };
        assert!(
            generate_value(&spec)
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_digit())
        );
    }

    #[test]
    fn no_class_is_a_clear_error() {
        let spec = GenerateSpec {
            length: 8,
            lower: false,
            upper: false,
            numeric: false,
            special: false,
        };
        assert!(generate_value(&spec).unwrap_err().contains("spec.generate"));
    }
}
