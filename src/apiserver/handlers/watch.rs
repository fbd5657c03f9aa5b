//! WATCH: a chunked stream of `{"type":…,"object":…}` lines. Supports resuming from a
//! resourceVersion (410 in-stream when too old), `sendInitialEvents` with the
//! initial-events-end bookmark (client-go 1.35's `kubectl wait`), periodic bookmarks,
//! `timeoutSeconds`, selectors (objects leaving the selection are sent as DELETED)
//! and Table output for `kubectl get -w`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::read::Selection;
use super::{convert, respond};
use crate::apiserver::error::{ApiError, ApiResult};
use crate::apiserver::object_meta;
use crate::apiserver::request::ResourcePath;
use crate::apiserver::resource::ResourceType;
use crate::apiserver::server::{ApiServer, Call};
use crate::apiserver::table::IncludeObject;
use crate::apiserver::watch_hub::{Change, ChangeType};

/// Default watch length when the client sets none (the real server picks 30–60 min).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);
/// Lines buffered towards a slow client before the watcher falls behind the hub.
const CLIENT_BUFFER: usize = 1024;

/// One watcher's filter and output settings.
struct Watcher {
    rt: Arc<ResourceType>,
    namespace: Option<String>,
    name: Option<String>,
    selection: Selection,
    table: Option<IncludeObject>,
    bookmarks: bool,
    /// Changes at or below this revision are already reflected in what was sent.
    start_revision: u64,
    sent_columns: bool,
}

/// Serves a watch request.
pub async fn serve(
    server: Arc<ApiServer>,
    rt: Arc<ResourceType>,
    path: ResourcePath,
    call: Call,
) -> ApiResult<Response> {
    let selection = Selection::from_call(&rt, &call)?;
    let timeout = call
        .query
        .number("timeoutSeconds")?
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let send_initial = call.query.flag("sendInitialEvents");
    if send_initial && call.query.get("resourceVersionMatch") != Some("NotOlderThan") {
        return Err(ApiError::bad_request(
            "sendInitialEvents requires resourceVersionMatch=NotOlderThan",
        ));
    }
    let requested = call.query.get("resourceVersion").filter(|rv| *rv != "0");
    let mut watcher = Watcher {
        rt: rt.clone(),
        namespace: path.namespace.clone(),
        name: path.name.clone(),
        selection,
        table: respond::wants_table(&call),
        bookmarks: call.query.flag("allowWatchBookmarks"),
        start_revision: 0,
        sent_columns: false,
    };

    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(CLIENT_BUFFER);
    let mut first_lines = Vec::new();
    let receiver = match requested.filter(|_| !send_initial) {
        Some(rv) => {
            let rv: u64 = rv.parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid resourceVersion {rv:?}: it must be a decimal integer"
                ))
            })?;
            watcher.start_revision = rv;
            match server.store.subscribe_from(rv) {
                Ok((backlog, receiver)) => {
                    first_lines.extend(
                        backlog
                            .iter()
                            .filter_map(|change| watcher.render_change(change)),
                    );
                    Some(receiver)
                }
                Err(too_old) => {
                    first_lines.push(expired_line(rv, too_old.oldest));
                    None
                }
            }
        }
        None => {
            let receiver = server.store.subscribe();
            let (objects, revision) =
                server
                    .store
                    .list(&rt.storage, path.namespace.as_deref(), None);
            watcher.start_revision = revision;
            for object in objects.iter() {
                let view = convert::to_view(&rt, object);
                if watcher.selects(&view) {
                    first_lines.push(watcher.line("ADDED", &view));
                }
            }
            if send_initial && watcher.bookmarks {
                first_lines.push(watcher.bookmark(revision, true));
            }
            Some(receiver)
        }
    };

    let shutdown = server.shutdown.clone();
    let store = server.store.clone();
    let initial_revision = watcher.start_revision;
    tokio::spawn(async move {
        // The initial state may include writes still on their way to disk.
        store.wait_durable(initial_revision).await;
        for line in first_lines {
            if tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
        if let Some(receiver) = receiver {
            watcher.stream(receiver, tx, timeout, shutdown).await;
        }
    });
    let body = Body::from_stream(ReceiverStream::new(rx));
    Ok(Response::builder()
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CACHE_CONTROL, "no-cache, private")
        .body(body)
        .expect("static response parts"))
}

impl Watcher {
    async fn stream(
        mut self,
        mut receiver: broadcast::Receiver<Arc<Change>>,
        tx: mpsc::Sender<Result<Bytes, Infallible>>,
        timeout: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut bookmark_tick = tokio::time::interval(BOOKMARK_INTERVAL);
        bookmark_tick.tick().await;
        let mut last_revision = self.start_revision;
        loop {
            let line = tokio::select! {
                _ = &mut deadline => return,
                _ = shutdown.changed() => return,
                _ = tx.closed() => return,
                _ = bookmark_tick.tick(), if self.bookmarks => Some(self.bookmark(last_revision, false)),
                received = receiver.recv() => match received {
                    Ok(change) => {
                        last_revision = last_revision.max(change.revision);
                        self.render_change(&change)
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Too slow to keep up: end with 410 so the client re-lists, as the real server does.
                        let _ = tx.send(Ok(expired_line(last_revision, last_revision))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            };
            if let Some(line) = line {
                if tx.send(Ok(line)).await.is_err() {
                    return;
                }
            }
        }
    }

    fn selects(&self, view: &Value) -> bool {
        let namespace_ok = self
            .namespace
            .as_deref()
            .is_none_or(|ns| object_meta::meta_str(view, "namespace") == Some(ns));
        let name_ok = self
            .name
            .as_deref()
            .is_none_or(|n| object_meta::name(view) == n);
        namespace_ok && name_ok && self.selection.matches(view)
    }

    /// The line a change produces for this watcher, if any.
    fn render_change(&mut self, change: &Change) -> Option<Bytes> {
        if change.revision <= self.start_revision || change.key.storage != self.rt.storage {
            return None;
        }
        // Selection looks at metadata only, which the stored form shares with the view
        // unless the type renames fields: no per-watcher clone in the common case.
        let renames = convert::renames_fields(&self.rt);
        let selects = |object: &Value| {
            if renames {
                self.selects(&convert::to_view(&self.rt, object))
            } else {
                self.selects(object)
            }
        };
        let selected_now = selects(&change.object);
        let selected_before = change.previous.as_ref().is_some_and(|p| selects(p));
        let event = match change.kind {
            ChangeType::Added if selected_now => "ADDED",
            ChangeType::Modified if selected_now && selected_before => "MODIFIED",
            ChangeType::Modified if selected_now => "ADDED",
            ChangeType::Modified if selected_before => "DELETED",
            ChangeType::Deleted if selected_now || selected_before => "DELETED",
            _ => return None,
        };
        if self.table.is_some() {
            let now = convert::to_view(&self.rt, &change.object);
            return Some(self.line(event, &now));
        }
        let rt = &self.rt;
        Some(change.rendered_line(event, &rt.api_version(), || {
            to_line(json!({ "type": event, "object": convert::to_view(rt, &change.object) }))
        }))
    }

    fn line(&mut self, event: &str, view: &Value) -> Bytes {
        let object = match self.table {
            Some(include) => {
                let rv = view
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(Value::Null);
                let mut table =
                    respond::table(&self.rt, &[view], include, json!({ "resourceVersion": rv }));
                if self.sent_columns {
                    table["columnDefinitions"] = json!([]);
                }
                self.sent_columns = true;
                table
            }
            None => view.clone(),
        };
        to_line(json!({ "type": event, "object": object }))
    }

    fn bookmark(&self, revision: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({ "resourceVersion": revision.to_string() });
        if initial_events_end {
            metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        to_line(json!({
            "type": "BOOKMARK",
            "object": { "apiVersion": self.rt.api_version(), "kind": self.rt.kind, "metadata": metadata },
        }))
    }
}

fn expired_line(requested: u64, oldest: u64) -> Bytes {
    let status =
        ApiError::gone(format!("too old resource version: {requested} ({oldest})")).to_status();
    to_line(json!({ "type": "ERROR", "object": status }))
}

fn to_line(value: Value) -> Bytes {
    let mut text = value.to_string();
    text.push('\n');
    Bytes::from(text)
}
