//! Publish mode: the app's YAML documents written as an Aspire manifest (product.md §4).
//!
//! Executables become `executable.v0`, Containers `container.v0`, Parameters `parameter.v0`
//! and Values `value.v0`, shaped as Aspire's own manifest writer shapes them
//! (`ManifestPublishingContext`). Every expression is kept as its Aspire placeholder
//! (`{api.bindings.http.url}`); nothing is resolved and nothing is started. An expression
//! that does not parse, or names a resource, endpoint, connection string or value the app
//! does not have, fails the whole publish with the file, resource, field and position.
//!
//! Where the Aspire 8.0 schema has no room for a kaspire field, the field is left out and a
//! warning says so (an Executable's `connectionString`, a secret Parameter's literal value).

mod resources;

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::api::{ContainerSpec, ExecutableSpec, ParameterSpec, ValueSpec};
use crate::expr::{self, Reference};

/// A manifest and what could not be carried into it.
#[derive(Debug)]
pub struct Published {
    /// `{"resources": {…}}`, ready to be written as JSON.
    pub manifest: Value,
    /// Fields left out because Aspire's manifest has no place for them, one line each.
    pub warnings: Vec<String>,
}

/// Why an app cannot be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A document without apiVersion, kind or metadata.name, or with a spec that does not fit
    /// its kind.
    #[error("{origin}: {message}")]
    Document { origin: String, message: String },
    /// Two documents define resources of the same name (the manifest has one namespace).
    #[error("{origin}: a resource named {name:?} is already defined in {first}")]
    Duplicate {
        origin: String,
        name: String,
        first: String,
    },
    /// A field's expression does not parse or names something the app lacks.
    #[error("{origin}: {kind} {name:?}: {field}: {message}")]
    Field {
        origin: String,
        kind: &'static str,
        name: String,
        field: String,
        message: String,
    },
}

/// One kaspire resource of the app, parsed from its document.
struct Resource {
    origin: String,
    name: String,
    spec: Spec,
}

enum Spec {
    Executable(ExecutableSpec),
    Container(ContainerSpec),
    Parameter(ParameterSpec),
    Value(ValueSpec),
}

impl Spec {
    fn kind(&self) -> &'static str {
        match self {
            Spec::Executable(_) => "Executable",
            Spec::Container(_) => "Container",
            Spec::Parameter(_) => "Parameter",
            Spec::Value(_) => "Value",
        }
    }

    fn kind_with_article(&self) -> &'static str {
        match self {
            Spec::Executable(_) => "an Executable",
            Spec::Container(_) => "a Container",
            Spec::Parameter(_) => "a Parameter",
            Spec::Value(_) => "a Value",
        }
    }

    fn endpoint_names(&self) -> Vec<&str> {
        let endpoints = match self {
            Spec::Executable(exe) => &exe.run.endpoints,
            Spec::Container(ctr) => &ctr.run.endpoints,
            Spec::Parameter(_) | Spec::Value(_) => return Vec::new(),
        };
        endpoints.iter().map(|e| e.name.as_str()).collect()
    }

    /// Whether `{NAME.connectionString}` means something in the manifest.
    fn offers_connection_string(&self) -> bool {
        match self {
            // executable.v0 has no connectionString field in Aspire's schema.
            Spec::Executable(_) => false,
            Spec::Container(ctr) => ctr.run.connection_string.is_some(),
            // A referenced Parameter becomes Aspire's connection-string parameter.
            Spec::Parameter(_) | Spec::Value(_) => true,
        }
    }
}

/// The app being published: its resources by name, in document order.
struct App {
    resources: Vec<Resource>,
    by_name: HashMap<String, usize>,
}

/// Builds the Aspire manifest of the kaspire documents `(origin, object)` — origin names the
/// file and document for messages. Documents of other API groups (Secrets, Namespaces) are
/// skipped with a warning.
pub fn publish<'a>(
    documents: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> Result<Published, PublishError> {
    let mut warnings = Vec::new();
    let app = App::read(documents, &mut warnings)?;
    let connection_parameters = app.connection_parameters()?;
    let mut resources = Map::new();
    for resource in &app.resources {
        let entry = resources::write(&app, resource, &connection_parameters, &mut warnings)?;
        resources.insert(resource.name.clone(), Value::Object(entry));
    }
    Ok(Published {
        manifest: serde_json::json!({ "resources": resources }),
        warnings,
    })
}

impl App {
    fn read<'a>(
        documents: impl IntoIterator<Item = (&'a str, &'a Value)>,
        warnings: &mut Vec<String>,
    ) -> Result<App, PublishError> {
        let mut app = App {
            resources: Vec::new(),
            by_name: HashMap::new(),
        };
        for (origin, object) in documents {
            let text = |pointer: &str| {
                object
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or("")
            };
            let (api_version, kind, name) =
                (text("/apiVersion"), text("/kind"), text("/metadata/name"));
            let invalid = |message: String| PublishError::Document {
                origin: origin.to_owned(),
                message,
            };
            if api_version.is_empty() || kind.is_empty() || name.is_empty() {
                return Err(invalid(
                    "every resource needs apiVersion, kind and metadata.name".into(),
                ));
            }
            if api_version != crate::api::API_VERSION {
                warnings.push(format!(
                    "{origin}: {kind} {name:?} ({api_version}) has no Aspire equivalent; left out"
                ));
                continue;
            }
            // A kind whose fields are all optional may leave out `spec` entirely.
            let spec = object
                .get("spec")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new()));
            let spec = parse_spec(kind, spec)
                .map_err(|e| invalid(format!("{kind} {name:?}: spec: {e}")))?;
            if let Some(&first) = app.by_name.get(name) {
                return Err(PublishError::Duplicate {
                    origin: origin.to_owned(),
                    name: name.to_owned(),
                    first: app.resources[first].origin.clone(),
                });
            }
            app.by_name.insert(name.to_owned(), app.resources.len());
            app.resources.push(Resource {
                origin: origin.to_owned(),
                name: name.to_owned(),
                spec,
            });
        }
        Ok(app)
    }

    fn get(&self, name: &str) -> Option<&Resource> {
        self.by_name.get(name).map(|&i| &self.resources[i])
    }

    /// Parameters some resource references or reads `{p.connectionString}` of: Aspire writes
    /// those as connection-string parameters (`"connectionString": "{p.value}"`).
    fn connection_parameters(&self) -> Result<BTreeSet<String>, PublishError> {
        let mut names = BTreeSet::new();
        for resource in &self.resources {
            let mut named: Vec<String> = resources::run_spec(&resource.spec)
                .map(|run| run.references.clone())
                .unwrap_or_default();
            for (field, text) in resources::expression_fields(&resource.spec) {
                let template = self.parse(resource, &field, &text)?;
                named.extend(template.references().filter_map(|r| match r {
                    Reference::ConnectionString { resource } => Some(resource.clone()),
                    _ => None,
                }));
            }
            names.extend(named.into_iter().filter(|name| {
                matches!(self.get(name).map(|r| &r.spec), Some(Spec::Parameter(_)))
            }));
        }
        Ok(names)
    }

    /// Parses one field of `resource` and checks every reference against the app.
    fn parse(
        &self,
        resource: &Resource,
        field: &str,
        text: &str,
    ) -> Result<expr::Template, PublishError> {
        let fail = |message: String| PublishError::Field {
            origin: resource.origin.clone(),
            kind: resource.spec.kind(),
            name: resource.name.clone(),
            field: field.to_owned(),
            message,
        };
        let template = expr::parse(text).map_err(|e| fail(e.to_string()))?;
        for reference in template.references() {
            self.check(reference)
                .map_err(|why| fail(format!("{reference}: {why}")))?;
        }
        Ok(template)
    }

    /// Whether the manifest will have what `reference` names.
    fn check(&self, reference: &Reference) -> Result<(), String> {
        let name = reference.resource();
        let Some(target) = self.get(name) else {
            return Err(format!("the app has no resource `{name}`"));
        };
        match reference {
            Reference::Endpoint { endpoint, .. } => {
                if target.spec.endpoint_names().contains(&endpoint.as_str()) {
                    Ok(())
                } else {
                    Err(format!(
                        "{} `{name}` has no endpoint `{endpoint}`",
                        target.spec.kind()
                    ))
                }
            }
            Reference::ConnectionString { .. } if target.spec.offers_connection_string() => Ok(()),
            Reference::ConnectionString { .. } => Err(format!(
                "{} `{name}` has no connection string in the manifest",
                target.spec.kind()
            )),
            Reference::Value { .. } if matches!(target.spec, Spec::Parameter(_)) => Ok(()),
            Reference::Value { .. } => Err(format!(
                "`{name}` is {}; only Parameters have a value",
                target.spec.kind_with_article()
            )),
        }
    }
}

fn parse_spec(kind: &str, spec: Value) -> Result<Spec, String> {
    let error = |e: serde_json::Error| e.to_string();
    Ok(match kind {
        "Executable" => Spec::Executable(serde_json::from_value(spec).map_err(error)?),
        "Container" => Spec::Container(serde_json::from_value(spec).map_err(error)?),
        "Parameter" => Spec::Parameter(serde_json::from_value(spec).map_err(error)?),
        "Value" => Spec::Value(serde_json::from_value(spec).map_err(error)?),
        other => {
            return Err(format!(
                "kind {other} is not a kaspire kind; expected Executable, Container, Parameter or Value"
            ));
        }
    })
}
