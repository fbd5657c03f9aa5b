//! The built-in resource types every client expects to find: core/v1 Namespaces,
//! Secrets, ConfigMaps and Events, events.k8s.io/v1 Events (a second view of the same
//! storage), coordination.k8s.io Leases and apiextensions.k8s.io CRDs.

use super::resource::{PrinterColumn, ResourceType, StorageId};

/// Storage of Events, shared by the core/v1 and events.k8s.io/v1 views.
pub const EVENTS_STORAGE: &str = "/events";
pub const NAMESPACES_STORAGE: &str = "/namespaces";
pub const SECRETS_STORAGE: &str = "/secrets";
pub const CRDS_STORAGE: &str = "apiextensions.k8s.io/customresourcedefinitions";

struct Spec {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    storage: &'static str,
    field_selectors: &'static [&'static str],
    smp: bool,
    columns: &'static [(&'static str, &'static str, &'static str)],
}

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

const EVENTS_V1_FIELDS: &[&str] = &[
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "reason",
    "reportingController",
    "type",
];

const SPECS: &[Spec] = &[
    Spec {
        group: "",
        version: "v1",
        plural: "namespaces",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        status: true,
        storage: NAMESPACES_STORAGE,
        field_selectors: &["status.phase"],
        smp: true,
        columns: &[
            ("Status", "string", ".status.phase"),
            ("Age", "date", ".metadata.creationTimestamp"),
        ],
    },
    Spec {
        group: "",
        version: "v1",
        plural: "secrets",
        kind: "Secret",
        namespaced: true,
        short_names: &[],
        categories: &[],
        status: false,
        storage: SECRETS_STORAGE,
        field_selectors: &["type"],
        smp: true,
        columns: &[
            ("Type", "string", ".type"),
            ("Age", "date", ".metadata.creationTimestamp"),
        ],
    },
    Spec {
        group: "",
        version: "v1",
        plural: "configmaps",
        kind: "ConfigMap",
        namespaced: true,
        short_names: &["cm"],
        categories: &[],
        status: false,
        storage: "/configmaps",
        field_selectors: &[],
        smp: true,
        columns: &[],
    },
    Spec {
        group: "",
        version: "v1",
        plural: "events",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        status: false,
        storage: EVENTS_STORAGE,
        field_selectors: EVENT_FIELDS,
        smp: true,
        columns: &[
            ("Last Seen", "date", ".lastTimestamp"),
            ("Type", "string", ".type"),
            ("Reason", "string", ".reason"),
            ("Object", "string", ".involvedObject.name"),
            ("Message", "string", ".message"),
        ],
    },
    Spec {
        group: "events.k8s.io",
        version: "v1",
        plural: "events",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        status: false,
        storage: EVENTS_STORAGE,
        field_selectors: EVENTS_V1_FIELDS,
        smp: true,
        columns: &[],
    },
    Spec {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        kind: "Lease",
        namespaced: true,
        short_names: &[],
        categories: &[],
        status: false,
        storage: "coordination.k8s.io/leases",
        field_selectors: &[],
        smp: true,
        columns: &[
            ("Holder", "string", ".spec.holderIdentity"),
            ("Age", "date", ".metadata.creationTimestamp"),
        ],
    },
    Spec {
        group: "apiextensions.k8s.io",
        version: "v1",
        plural: "customresourcedefinitions",
        kind: "CustomResourceDefinition",
        namespaced: false,
        short_names: &["crd", "crds"],
        categories: &["api-extensions"],
        status: true,
        storage: CRDS_STORAGE,
        field_selectors: &[],
        smp: false,
        columns: &[("Created At", "date", ".metadata.creationTimestamp")],
    },
];

/// The built-in types, ready to register.
pub fn types() -> Vec<ResourceType> {
    SPECS.iter().map(to_type).collect()
}

fn to_type(spec: &Spec) -> ResourceType {
    ResourceType {
        group: spec.group.into(),
        version: spec.version.into(),
        plural: spec.plural.into(),
        singular: spec.kind.to_lowercase(),
        kind: spec.kind.into(),
        list_kind: format!("{}List", spec.kind),
        namespaced: spec.namespaced,
        short_names: spec.short_names.iter().map(|s| s.to_string()).collect(),
        categories: spec.categories.iter().map(|s| s.to_string()).collect(),
        status_subresource: spec.status,
        log_subresource: false,
        schema: None,
        printer_columns: spec
            .columns
            .iter()
            .map(|(name, type_, path)| PrinterColumn {
                name: name.to_string(),
                type_: type_.to_string(),
                format: String::new(),
                description: String::new(),
                priority: 0,
                json_path: path.to_string(),
            })
            .collect(),
        storage: StorageId(spec.storage.into()),
        extra_field_selectors: spec.field_selectors,
        strategic_merge_patch: spec.smp,
    }
}
