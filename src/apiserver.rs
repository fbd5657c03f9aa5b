//! The embedded Kubernetes-compatible API server.
//!
//! Requests flow `tls`/`auth` → `router` (parses the Kubernetes URL layout) →
//! `handlers` (one file per verb family) → `store` (in-memory index, durable redb log,
//! watch fan-out). `gc` runs the ownerReference garbage collector and `crds` turns
//! CustomResourceDefinitions into served [`resource::ResourceType`]s.

pub mod error;
pub mod managed_fields;
pub mod resource;
pub mod selectors;
pub mod table;
pub mod tls;
pub mod validation;
