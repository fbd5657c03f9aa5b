//! kaspire: a developer's distributed app — processes, containers, parameters —
//! described in YAML and run by a Kubernetes-style reconciling control plane.
//!
//! # Layout
//! - [`api`]: the custom resource types (`Executable`, `Container`, `Parameter`,
//!   `Value`), one file per kind; the CRDs in `crds/` are generated from them.
//! - [`admission`]: kaspire's own admission rules (dependency cycles), run by the
//!   API server on every write of a kaspire object.
//! - [`apiserver`]: the embedded Kubernetes-compatible API server — durable store,
//!   watch fan-out, discovery, OpenAPI, CRUD/patch/apply handlers, garbage collector,
//!   TLS and bearer-token auth. The real `kubectl` and `kube` crate use it unchanged.
//! - [`expr`]: expressions in args, env and connection strings (`{pg.connectionString}`):
//!   parser, consumer-context resolution, Aspire `references` variables and placeholders.
//! - [`publish`]: the app written as an Aspire manifest (`kaspire publish`).
//! - [`runtime`]: side effects behind small interfaces — processes, logs.
//! - [`cli`]: the `kaspire` command line (`serve`, `kubeconfig`, `crds`, …).
//! - [`state_dir`]: where the store, TLS material, kubeconfig and logs live.

pub mod admission;
pub mod api;
pub mod apiserver;
pub mod cli;
pub mod controllers;
pub mod controlplane;
pub mod expr;
pub mod publish;
pub mod runtime;
pub mod state_dir;
