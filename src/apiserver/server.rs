//! The API server's shared state and its request dispatch: one axum fallback handler
//! that parses the Kubernetes URL layout and hands the request to the matching handler.

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use http::{HeaderMap, Method};
use serde_json::Value;

use super::error::{ApiError, ApiResult, Cause};
use super::handlers;
use super::registry::Registry;
use super::request::{Query, ResourcePath, Target, parse_path};
use super::resource::ResourceType;
use super::store::{Store, StoreView};

/// Largest accepted request body (the real server's limit is 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Extra admission rules for a kind (e.g. kaspire's dependency-cycle check). Runs
/// inside the store's write lock, so it sees a consistent view of every object.
pub trait Admission: Send + Sync {
    /// Problems with `object` (about to be stored) as 422 causes; empty when it is fine.
    fn validate(&self, rt: &ResourceType, object: &Value, view: &StoreView<'_>) -> Vec<Cause>;
}

/// Serves a subresource the generic handlers don't know (kaspire's `log`).
pub trait SubresourceHandler: Send + Sync {
    fn handle(
        &self,
        rt: Arc<ResourceType>,
        path: ResourcePath,
        query: Query,
    ) -> BoxFuture<'static, ApiResult<Response>>;
}

/// Everything a request handler needs.
pub struct ApiServer {
    pub store: Arc<Store>,
    pub registry: Registry,
    admission: RwLock<Vec<Arc<dyn Admission>>>,
    log_handler: RwLock<Option<Arc<dyn SubresourceHandler>>>,
    /// Flips to true at shutdown so open watches end cleanly.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl ApiServer {
    pub fn new(store: Arc<Store>, shutdown: tokio::sync::watch::Receiver<bool>) -> Arc<Self> {
        Arc::new(ApiServer {
            store,
            registry: Registry::with_builtins(),
            admission: RwLock::new(Vec::new()),
            log_handler: RwLock::new(None),
            shutdown,
        })
    }

    pub fn add_admission(&self, rule: Arc<dyn Admission>) {
        self.admission
            .write()
            .expect("admission poisoned")
            .push(rule);
    }

    pub fn set_log_handler(&self, handler: Arc<dyn SubresourceHandler>) {
        *self.log_handler.write().expect("log handler poisoned") = Some(handler);
    }

    /// Runs every admission rule against `object`.
    pub fn admit(&self, rt: &ResourceType, object: &Value, view: &StoreView<'_>) -> Vec<Cause> {
        let rules = self.admission.read().expect("admission poisoned").clone();
        rules
            .iter()
            .flat_map(|rule| rule.validate(rt, object, view))
            .collect()
    }

    pub fn log_handler(&self) -> Option<Arc<dyn SubresourceHandler>> {
        self.log_handler
            .read()
            .expect("log handler poisoned")
            .clone()
    }

    /// The served type a resource path names, or a 404 worded like the real server's.
    pub fn resource_type(&self, path: &ResourcePath) -> ApiResult<Arc<ResourceType>> {
        self.registry
            .lookup(&path.group, &path.version, &path.plural)
            .ok_or_else(|| ApiError::path_not_found(&format!("{} {}", path.plural, path.group)))
    }
}

/// The router with every API endpoint and no authentication: used in-process by the
/// controllers' `kube::Client`, and wrapped with TLS and bearer auth for the network.
pub fn router(server: Arc<ApiServer>) -> Router {
    Router::new().fallback(handle).with_state(server)
}

async fn handle(State(server): State<Arc<ApiServer>>, request: Request) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let result = dispatch(server, request).await;
    match result {
        Ok(response) => response,
        Err(err) => {
            tracing::debug!(%method, %uri, code = err.code, message = %err.message, "request failed");
            err.into_response()
        }
    }
}

/// The parts of a request every handler may need.
pub struct Call {
    pub method: Method,
    pub headers: HeaderMap,
    pub query: Query,
    pub body: Body,
}

impl Call {
    /// Reads the whole body, refusing more than [`MAX_BODY_BYTES`].
    pub async fn body_bytes(self) -> ApiResult<bytes::Bytes> {
        axum::body::to_bytes(self.body, MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::payload_too_large(MAX_BODY_BYTES))
    }

    /// A body-less copy (headers and query), for rendering the response after the body
    /// has been consumed.
    pub fn without_body(&self) -> Call {
        Call {
            method: self.method.clone(),
            headers: self.headers.clone(),
            query: self.query.clone(),
            body: Body::empty(),
        }
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn dispatch(server: Arc<ApiServer>, request: Request) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let target = parse_path(parts.uri.path())?;
    let call = Call {
        method: parts.method,
        headers: parts.headers,
        query: Query::parse(parts.uri.query()),
        body,
    };
    let read_only = matches!(call.method, Method::GET | Method::HEAD);
    match target {
        Target::Resource(path) => handlers::resource(server, path, call).await,
        _ if !read_only => Err(ApiError::method_not_allowed(
            call.method.as_str(),
            parts.uri.path(),
        )),
        Target::Version => Ok(handlers::discovery::version()),
        Target::Health => Ok("ok".into_response()),
        Target::CoreVersions => Ok(handlers::discovery::core(&server, &call)),
        Target::GroupList => Ok(handlers::discovery::groups(&server, &call)),
        Target::Group(group) => handlers::discovery::group(&server, &group),
        Target::ResourceList { group, version } => {
            handlers::discovery::resources(&server, &group, &version)
        }
        Target::OpenApiV3Root => Ok(handlers::openapi::root(&server)),
        Target::OpenApiV3 { group, version } => {
            handlers::openapi::document(&server, &group, &version)
        }
        Target::OpenApiV2 => Ok(handlers::openapi::v2(&call)),
    }
}
