//! The embedded Kubernetes-compatible API server.
//!
//! Requests flow [`network`] (TLS, bearer [`auth`]) → [`server`] (parses the
//! Kubernetes URL layout) → [`handlers`] (one file per verb family) → [`store`]
//! (in-memory index, durable redb log in [`persist`], watch fan-out in
//! [`watch_hub`]). [`gc`] runs the ownerReference garbage collector, [`crds`] turns
//! CustomResourceDefinitions into served [`resource::ResourceType`]s, and
//! [`embedded`] starts the whole thing in-process.

pub mod auth;
pub mod builtin;
pub mod crds;
pub mod embedded;
pub mod error;
pub mod gc;
pub mod handlers;
pub mod managed_fields;
pub mod network;
pub mod object_meta;
pub mod persist;
pub mod protobuf;
pub mod registry;
pub mod request;
pub mod resource;
pub mod selectors;
pub mod server;
pub mod store;
pub mod table;
pub mod tls;
pub mod validation;
pub mod watch_hub;
