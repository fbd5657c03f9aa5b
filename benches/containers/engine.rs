//! The Docker Engine as the bench sees it: one negotiated client, health events, and
//! the sweep that removes whatever a run left (containers first, then networks).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::query_parameters::{
    EventsOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use futures::StreamExt;

/// Filters in the Engine API's form, e.g. `[("label", "com.docker.compose.project=x")]`.
pub fn filters(pairs: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        map.entry(k.to_string()).or_default().push(v.to_string());
    }
    map
}

/// The realtime clock as the Engine's `since` parameter (`seconds.nanoseconds`).
pub fn since_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

/// Waits until `count` distinct containers matching `filter` reported
/// `health_status: healthy` since `since`; the moment the last one was seen, or None
/// after `timeout`. Events from before the call are replayed, so there is no race with
/// whatever started the containers.
pub async fn all_healthy(
    docker: &Docker,
    filter: HashMap<String, Vec<String>>,
    since: &str,
    count: usize,
    timeout: Duration,
) -> Option<Instant> {
    let mut filter = filter;
    filter.insert("type".into(), vec!["container".into()]);
    let options = EventsOptionsBuilder::new()
        .since(since)
        .filters(&filter)
        .build();
    let mut events = docker.events(Some(options));
    let mut healthy = HashSet::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let event = match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(Ok(event))) => event,
            Ok(Some(Err(e))) => {
                eprintln!("  docker events: {e}");
                return None;
            }
            Ok(None) | Err(_) => return None,
        };
        let is_healthy = event
            .action
            .as_deref()
            .and_then(|a| a.strip_prefix("health_status:"))
            .is_some_and(|status| status.trim() == "healthy");
        if is_healthy && let Some(id) = event.actor.and_then(|a| a.id) {
            healthy.insert(id);
            if healthy.len() >= count {
                return Some(Instant::now());
            }
        }
    }
}

/// Force-removes every container matching `filter` (with anonymous volumes); how many.
pub async fn remove_containers(docker: &Docker, filter: HashMap<String, Vec<String>>) -> usize {
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filter)
        .build();
    let Ok(found) = docker.list_containers(Some(options)).await else {
        return 0;
    };
    let remove = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    let mut removed = 0;
    for id in found.into_iter().filter_map(|c| c.id) {
        if docker
            .remove_container(&id, Some(remove.clone()))
            .await
            .is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Removes every network matching `filter`; how many.
pub async fn remove_networks(docker: &Docker, filter: HashMap<String, Vec<String>>) -> usize {
    let options = ListNetworksOptionsBuilder::new().filters(&filter).build();
    let Ok(found) = docker.list_networks(Some(options)).await else {
        return 0;
    };
    let mut removed = 0;
    for id in found.into_iter().filter_map(|n| n.id) {
        if docker.remove_network(&id).await.is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Removes containers, then networks, whose name contains `token`; (containers, networks).
pub async fn sweep_named(docker: &Docker, token: &str) -> (usize, usize) {
    let by_name = filters(&[("name", token)]);
    let containers = remove_containers(docker, by_name.clone()).await;
    (containers, remove_networks(docker, by_name).await)
}
