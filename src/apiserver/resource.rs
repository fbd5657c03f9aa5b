//! What the server knows about one resource type: names, scope, schema and printer
//! columns. Built-in types are listed in [`super::builtin`]; custom resources get one
//! of these from each established CustomResourceDefinition.

use std::sync::Arc;

use serde_json::Value;

/// A served resource type (one group/version/resource).
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    /// Lower-case plural used in URLs, e.g. `executables`.
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Whether `/status` is a separate subresource (status ignored on main writes).
    pub status_subresource: bool,
    /// Whether `/log` is served (kaspire workload kinds).
    pub log_subresource: bool,
    /// The structural `openAPIV3Schema`, when the type has one (CRDs do).
    pub schema: Option<Arc<Value>>,
    pub printer_columns: Vec<PrinterColumn>,
    /// Where objects live in the store: several views (core/v1 and events.k8s.io/v1
    /// Events) can share one storage.
    pub storage: StorageId,
    /// Field-selector keys besides `metadata.name` and `metadata.namespace`.
    pub extra_field_selectors: &'static [&'static str],
    /// Patch content types the type accepts (CRs refuse strategic merge patch).
    pub strategic_merge_patch: bool,
}

/// The storage bucket of a resource type: `group/plural` of its canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageId(pub String);

/// One `additionalPrinterColumns` entry.
#[derive(Debug, Clone)]
pub struct PrinterColumn {
    pub name: String,
    /// OpenAPI type: `string`, `integer`, `number`, `boolean`, `date`.
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    /// A Kubernetes JSONPath such as `.status.state`.
    pub json_path: String,
}

impl ResourceType {
    /// `apiVersion` as written in objects: `v1` for core, else `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group` (or just `plural` for core), as in error messages and CRD names.
    pub fn qualified_name(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether objects carry `metadata.generation` (custom resources and CRDs do; simple
    /// built-in kinds such as Namespace, Secret or Lease do not, as in Kubernetes).
    pub fn tracks_generation(&self) -> bool {
        self.schema.is_some() || self.kind == "CustomResourceDefinition"
    }

    /// Whether a field selector key is supported for this type.
    pub fn supports_field_selector(&self, key: &str) -> bool {
        key == "metadata.name"
            || (self.namespaced && key == "metadata.namespace")
            || self.extra_field_selectors.contains(&key)
    }
}
