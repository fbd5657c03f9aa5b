//! The live status view of `kaspire up`: one line per resource whenever what a user
//! cares about changes — state, health, URL, the message saying what it waits on.

use std::collections::HashMap;

use futures::{Stream, StreamExt};
use kube::api::DynamicObject;
use kube::runtime::{WatchStreamExt, watcher};

use crate::cli::resources::{KINDS, Kind, Summary};

/// Watch events of every kaspire kind in every namespace, tagged with their kind.
pub fn watch_all(
    client: &kube::Client,
) -> impl Stream<Item = (Kind, Result<watcher::Event<DynamicObject>, watcher::Error>)> + use<> {
    let streams = KINDS.iter().map(|kind| {
        let kind = *kind;
        // Backing off on errors also yields: a watch whose server went away must not
        // spin (and so never see the abort that ends the view).
        watcher(kind.api(client, None), watcher::Config::default())
            .default_backoff()
            .map(move |event| (kind, event))
            .boxed()
    });
    futures::stream::select_all(streams)
}

/// Prints the view until the stream ends (the caller aborts it).
pub async fn follow(client: kube::Client) {
    let mut events = watch_all(&client);
    let mut view = View::default();
    while let Some((kind, event)) = events.next().await {
        match event {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                view.show(&Summary::of(kind, &o));
            }
            Ok(watcher::Event::Delete(o)) => view.removed(&Summary::of(kind, &o)),
            _ => {}
        }
    }
}

/// Remembers the last line printed per resource so only changes print.
#[derive(Default)]
pub struct View {
    last: HashMap<(String, String), String>,
}

impl View {
    /// Prints `summary`'s line if it differs from the last one for that resource.
    pub fn show(&mut self, summary: &Summary) {
        if summary.hidden {
            return;
        }
        let line = line(summary);
        let key = (summary.namespace.clone(), summary.name.clone());
        if self.last.get(&key) != Some(&line) {
            println!("{line}");
            self.last.insert(key, line);
        }
    }

    pub fn removed(&mut self, summary: &Summary) {
        let key = (summary.namespace.clone(), summary.name.clone());
        if self.last.remove(&key).is_some() {
            println!("{:<20} removed", summary.name);
        }
    }
}

/// `api                  Running (Ready)      Healthy    http://localhost:5080   message`
pub fn line(s: &Summary) -> String {
    let name = if s.namespace.is_empty() || s.namespace == "default" {
        s.name.clone()
    } else {
        format!("{}/{}", s.namespace, s.name)
    };
    let health = if s.health.is_empty() { "" } else { &s.health };
    let line = format!(
        "{name:<20} {:<20} {health:<10} {:<24} {}",
        s.state_text(),
        s.urls.join(","),
        s.message
    );
    line.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_shows_state_health_url_and_message() {
        let o: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "kaspire.dev/v1alpha1", "kind": "Executable",
            "metadata": {"name": "web", "namespace": "default"},
            "status": {"state": "Waiting", "message": "waiting for api to be Ready",
                       "endpoints": [{"name": "http", "url": "http://localhost:8080"}]}
        }))
        .unwrap();
        let text = line(&Summary::of(KINDS[0], &o));
        assert!(text.starts_with("web "), "{text}");
        assert!(text.contains("Waiting") && text.contains("http://localhost:8080"));
        assert!(text.ends_with("waiting for api to be Ready"), "{text}");
    }
}
