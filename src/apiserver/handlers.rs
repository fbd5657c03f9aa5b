//! Request handlers, one file per verb family. [`resource`] routes a request on a
//! resource path to the right one.

pub mod convert;
pub mod delete;
pub mod discovery;
pub mod kinds;
pub mod openapi;
pub mod read;
pub mod respond;
pub mod watch;
pub mod write;

use std::sync::Arc;

use axum::response::Response;
use http::Method;

use super::error::{ApiError, ApiResult};
use super::request::ResourcePath;
use super::server::{ApiServer, Call};
use super::table::IncludeObject;

/// Handles every request on `/api/v1/...` and `/apis/<g>/<v>/...` resource paths.
pub async fn resource(
    server: Arc<ApiServer>,
    path: ResourcePath,
    call: Call,
) -> ApiResult<Response> {
    let rt = server.resource_type(&path)?;
    let scoped_wrong = if rt.namespaced {
        path.namespace.is_none() && path.name.is_some()
    } else {
        path.namespace.is_some()
    };
    if scoped_wrong {
        return Err(ApiError::path_not_found(&format!(
            "{} {}",
            rt.qualified_name(),
            if rt.namespaced {
                "without a namespace"
            } else {
                "in a namespace"
            }
        )));
    }
    let sub = path.subresource.as_deref();
    if sub == Some("status") && !rt.status_subresource {
        return Err(ApiError::path_not_found(&format!(
            "{}/status",
            rt.qualified_name()
        )));
    }
    IncludeObject::parse(call.query.get("includeObject")).map_err(ApiError::bad_request)?;
    let watch = call.query.flag("watch");
    match (&call.method, path.name.is_some(), sub) {
        (&Method::GET, false, None) if watch => watch::serve(server, rt, path, call).await,
        (&Method::GET, false, None) => read::list(&server, &rt, &path, call).await,
        (&Method::GET, true, None) if watch => watch::serve(server, rt, path, call).await,
        (&Method::GET, true, None | Some("status")) => read::get(&server, &rt, &path, call).await,
        (&Method::GET, true, Some("log")) if rt.log_subresource => match server.log_handler() {
            Some(handler) => handler.handle(rt, path, call.query).await,
            None => Err(ApiError::path_not_found(
                "log subresource (no log source is running)",
            )),
        },
        (&Method::POST, false, None) => write::create(&server, &rt, &path, call).await,
        (&Method::PUT, true, None | Some("status")) => {
            write::update(&server, &rt, &path, call).await
        }
        (&Method::PATCH, true, None | Some("status")) => {
            write::patch(&server, &rt, &path, call).await
        }
        (&Method::DELETE, true, None) => delete::delete_one(&server, &rt, &path, call).await,
        (&Method::DELETE, false, None) => {
            delete::delete_collection(&server, &rt, &path, call).await
        }
        (method, _, _) => Err(ApiError::method_not_allowed(
            method.as_str(),
            &rt.qualified_name(),
        )),
    }
}
