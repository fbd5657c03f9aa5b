//! `Parameter` (short name `param`): an external input or secret.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Condition, ResourceState, defaults};

/// Desired state of a Parameter: where its value comes from. Set at most one of `value`,
/// `fromEnv` and `generate`; with none the Parameter is not Ready and its consumers wait.
// clippy mistakes the repeated `type_ = "string"` inside `printcolumn(...)` for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "kaspire.dev",
    version = "v1alpha1",
    kind = "Parameter",
    namespaced,
    status = "ParameterStatus",
    shortname = "param",
    category = "kaspire",
    category = "all",
    derive = "PartialEq",
    doc = "Parameter is an external input or secret, referenced as `{NAME.value}`, \
           like an Aspire parameter.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Secret", type_ = "boolean", json_path = ".spec.secret"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ParameterSpec {
    /// The value itself, e.g. `postgres`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,

    /// Name of an environment variable of the kaspire process that holds the value, e.g. `PG_PASSWORD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_env: Option<String>,

    /// Generate a random value once and keep it, e.g. `{length: 22}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<GenerateSpec>,

    /// When true the value is kept in a core/v1 Secret owned by the Parameter and never appears
    /// in status, logs, events or the dashboard. Default: false.
    #[serde(default, skip_serializing_if = "defaults::is_false")]
    pub secret: bool,

    /// What the parameter is for, shown to the user when it has no value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// How to generate a random value (Aspire's GenerateParameterDefault).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GenerateSpec {
    /// Number of characters. Default: 22.
    #[serde(default = "default_length")]
    #[schemars(range(min = 1))]
    pub length: i32,
    /// Include lowercase letters. Default: true.
    #[serde(default = "defaults::truth")]
    pub lower: bool,
    /// Include uppercase letters. Default: true.
    #[serde(default = "defaults::truth")]
    pub upper: bool,
    /// Include digits. Default: true.
    #[serde(default = "defaults::truth")]
    pub numeric: bool,
    /// Include special characters. Default: true.
    #[serde(default = "defaults::truth")]
    pub special: bool,
}

fn default_length() -> i32 {
    22
}

impl Default for GenerateSpec {
    fn default() -> Self {
        Self {
            length: default_length(),
            lower: true,
            upper: true,
            numeric: true,
            special: true,
        }
    }
}

/// Observed state of a Parameter. Secret values never appear here.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ParameterStatus {
    /// Running once the value is known; Waiting while it is missing.
    #[serde(default)]
    pub state: ResourceState,
    /// Condition `Ready`: True once the value is known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Human-readable explanation, e.g. which environment variable to set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The resolved value, for non-secret parameters only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Name of the core/v1 Secret holding the value (secret or generated parameters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The metadata.generation this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_sources_parse() {
        let p: Parameter = serde_saphyr::from_str(
            "apiVersion: kaspire.dev/v1alpha1\nkind: Parameter\nmetadata: {name: pg-password}\n\
             spec: {generate: {length: 32, special: false}, secret: true}\n",
        )
        .unwrap();
        let generate = p.spec.generate.as_ref().unwrap();
        assert_eq!(
            (generate.length, generate.lower, generate.special),
            (32, true, false)
        );
        assert!(p.spec.secret);
        let env: ParameterSpec =
            serde_saphyr::from_str("fromEnv: OPENAI_KEY\ndescription: API key\n").unwrap();
        assert_eq!(env.from_env.as_deref(), Some("OPENAI_KEY"));
        assert_eq!(
            serde_json::to_value(&env).unwrap(),
            serde_json::json!({"fromEnv": "OPENAI_KEY", "description": "API key"})
        );
    }
}
