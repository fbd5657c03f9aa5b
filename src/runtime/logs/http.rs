//! The `log` subresource: `GET .../executables/NAME/log?follow=true&tailLines=10&…`
//! answered with a streaming `text/plain` body, as the real server does for pods.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use futures::StreamExt;
use futures::future::BoxFuture;

use super::{LogQuery, LogStore, ResourceRef, Source};
use crate::apiserver::error::{ApiError, ApiResult};
use crate::apiserver::request::{Query, ResourcePath};
use crate::apiserver::resource::ResourceType;
use crate::apiserver::server::{ApiServer, SubresourceHandler};
use crate::apiserver::store::{ObjectKey, Store};

/// Serves `log` from a [`LogStore`] for objects that exist in the API store.
pub struct LogHandler {
    logs: Arc<LogStore>,
    objects: Arc<Store>,
}

/// Makes `server` answer the `log` subresource from `logs`.
pub fn install(server: &ApiServer, logs: Arc<LogStore>) {
    server.set_log_handler(Arc::new(LogHandler {
        logs,
        objects: server.store.clone(),
    }));
}

impl SubresourceHandler for LogHandler {
    fn handle(
        &self,
        rt: Arc<ResourceType>,
        path: ResourcePath,
        query: Query,
    ) -> BoxFuture<'static, ApiResult<Response>> {
        let result = self.respond(&rt, &path, &query);
        Box::pin(async move { result })
    }
}

impl LogHandler {
    fn respond(
        &self,
        rt: &ResourceType,
        path: &ResourcePath,
        query: &Query,
    ) -> ApiResult<Response> {
        let namespace = path.namespace.as_deref().unwrap_or("");
        let name = path.name.as_deref().unwrap_or("");
        let query = parse_query(query)?;
        let key = ObjectKey::new(&rt.storage, namespace, name);
        if self.objects.get(&key).is_none() {
            return Err(ApiError::not_found(&rt.group, &rt.plural, name));
        }
        let resource = ResourceRef::new(namespace, &rt.kind, name);
        let stream = self.logs.read(&resource, query).map_err(|err| {
            ApiError::internal(format!(
                "cannot read the log of {} {name:?}: {err}",
                rt.kind
            ))
        })?;
        Response::builder()
            .header(http::header::CONTENT_TYPE, "text/plain")
            .body(Body::from_stream(stream.map(Ok::<_, Infallible>)))
            .map_err(|err| ApiError::internal(err.to_string()))
    }
}

/// The subresource's parameters, with a 400 naming the one that is wrong. `tailLines`
/// is kubectl's name; `tail` is accepted too. Unknown parameters are ignored, as
/// Kubernetes does with `container` for a single-container pod.
pub fn parse_query(query: &Query) -> ApiResult<LogQuery> {
    let tail = match query.get("tailLines") {
        Some(_) => query.number("tailLines")?,
        None => query.number("tail")?,
    };
    let positive = |key: &str| -> ApiResult<Option<u64>> {
        match query.number(key)? {
            Some(0) => Err(ApiError::bad_request(format!(
                "invalid value for {key}: must be greater than 0"
            ))),
            other => Ok(other),
        }
    };
    let limit_bytes = positive("limitBytes")?;
    let since_seconds = positive("sinceSeconds")?;
    let since_time = query
        .get("sinceTime")
        .map(|v| {
            v.parse::<jiff::Timestamp>().map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value for sinceTime: {v:?} is not an RFC3339 time"
                ))
            })
        })
        .transpose()?;
    if since_seconds.is_some() && since_time.is_some() {
        return Err(ApiError::bad_request(
            "at most one of sinceTime or sinceSeconds may be specified",
        ));
    }
    let replica = query
        .number("replica")?
        .map(|r| {
            u32::try_from(r).map_err(|_| {
                ApiError::bad_request(format!("invalid value for replica: {r} is too large"))
            })
        })
        .transpose()?;
    let source = query
        .get("source")
        .map(|v| {
            Source::parse(v).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "invalid value for source: {v:?}: must be one of stdout, stderr, system, startup"
                ))
            })
        })
        .transpose()?;
    Ok(LogQuery {
        follow: boolean(query, "follow")?,
        tail: tail.map(|t| usize::try_from(t).unwrap_or(usize::MAX)),
        timestamps: boolean(query, "timestamps")?,
        replica,
        source,
        limit_bytes: limit_bytes.map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
        since_seconds,
        since_time,
    })
}

/// A boolean parameter as Go's `strconv.ParseBool` reads it.
fn boolean(query: &Query, key: &str) -> ApiResult<bool> {
    match query.get(key) {
        None => Ok(false),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid value for {key}: {other:?} is not a boolean"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> ApiResult<LogQuery> {
        parse_query(&Query::parse(Some(q)))
    }

    #[test]
    fn kubectl_parameters_are_understood() {
        let q = parse("follow=true&tailLines=5&timestamps=1&replica=2&source=system&limitBytes=100&sinceSeconds=60").unwrap();
        assert!(q.follow && q.timestamps);
        assert_eq!(q.tail, Some(5));
        assert_eq!(q.replica, Some(2));
        assert_eq!(q.source, Some(Source::System));
        assert_eq!(q.limit_bytes, Some(100));
        assert_eq!(q.since_seconds, Some(60));
        assert_eq!(parse("tail=3").unwrap().tail, Some(3));
        assert!(
            parse("sinceTime=2025-01-01T00:00:00Z")
                .unwrap()
                .since_time
                .is_some()
        );
    }

    #[test]
    fn bad_values_are_400s_naming_the_parameter() {
        for (query, name) in [
            ("tailLines=-1", "tailLines"),
            ("tail=x", "tail"),
            ("follow=maybe", "follow"),
            ("timestamps=yes", "timestamps"),
            ("replica=99999999999", "replica"),
            ("source=stdin", "source"),
            ("limitBytes=0", "limitBytes"),
            ("sinceSeconds=abc", "sinceSeconds"),
            ("sinceTime=yesterday", "sinceTime"),
        ] {
            let err = parse(query).unwrap_err();
            assert_eq!(err.code, 400, "{query}");
            assert!(err.message.contains(name), "{query}: {}", err.message);
        }
    }
}
