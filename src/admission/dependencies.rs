//! `waitFor` and `parent` edges must form a DAG (endpoint references may cycle; they
//! are not dependency edges). A write that would close a cycle, wait on itself, or
//! wait on its own parent is rejected with 422 naming the cycle.

use std::collections::HashMap;

use petgraph::algo::has_path_connecting;
use petgraph::graphmap::DiGraphMap;
use serde_json::Value;

use crate::apiserver::error::Cause;
use crate::apiserver::object_meta;
use crate::apiserver::resource::{ResourceType, StorageId};
use crate::apiserver::server::Admission;
use crate::apiserver::store::{ObjectKey, StoreView};

/// The kaspire kinds that can wait or have a parent, by storage bucket.
const WORKLOAD_STORAGES: &[&str] = &[
    "kaspire.dev/executables",
    "kaspire.dev/containers",
    "kaspire.dev/values",
];

/// Rejects dependency cycles among kaspire objects of one namespace.
pub struct DependencyGraph;

impl Admission for DependencyGraph {
    fn validate(&self, rt: &ResourceType, object: &Value, view: &StoreView<'_>) -> Vec<Cause> {
        if rt.group != crate::api::GROUP || !WORKLOAD_STORAGES.contains(&rt.storage.0.as_str()) {
            return Vec::new();
        }
        let namespace = object_meta::meta_str(object, "namespace").unwrap_or("default");
        let name = object_meta::name(object);
        // A new cycle must run through this object's own edges, and only a write that
        // adds or changes them can close one: status writes, finalizers, labels and
        // objects without waits or a parent skip the whole-namespace graph.
        let own = edges_of(object);
        if own.is_empty() {
            return Vec::new();
        }
        let key = ObjectKey::new(&rt.storage, namespace, name);
        if view
            .get(&key)
            .is_some_and(|stored| same_edges(&edges_of(stored), &own))
        {
            return Vec::new();
        }
        let mut edges: HashMap<String, Vec<Edge>> = HashMap::new();
        for storage in WORKLOAD_STORAGES {
            for other in view.list(&StorageId(storage.to_string()), namespace) {
                let other_name = object_meta::name(other);
                if other_name != name {
                    edges.insert(other_name.to_string(), edges_of(other));
                }
            }
        }
        edges.insert(name.to_string(), own);
        check(name, &edges)
    }
}

/// One dependency edge and the field that declares it.
#[derive(Debug, Clone)]
struct Edge {
    target: String,
    field: String,
}

fn edges_of(object: &Value) -> Vec<Edge> {
    let mut edges = Vec::new();
    let waits = object.pointer("/spec/waitFor").and_then(Value::as_array);
    for (i, wait) in waits.into_iter().flatten().enumerate() {
        if let Some(target) = wait.get("name").and_then(Value::as_str) {
            edges.push(Edge {
                target: target.to_string(),
                field: format!("spec.waitFor[{i}].name"),
            });
        }
    }
    if let Some(parent) = object.pointer("/spec/parent/name").and_then(Value::as_str) {
        edges.push(Edge {
            target: parent.to_string(),
            field: "spec.parent.name".into(),
        });
    }
    edges
}

fn same_edges(a: &[Edge], b: &[Edge]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.target == y.target && x.field == y.field)
}

/// The problems `name`'s edges cause in the graph of every object's edges.
fn check(name: &str, edges: &HashMap<String, Vec<Edge>>) -> Vec<Cause> {
    let mut graph: DiGraphMap<&str, ()> = DiGraphMap::new();
    for (from, list) in edges {
        graph.add_node(from.as_str());
        for edge in list {
            graph.add_edge(from.as_str(), edge.target.as_str(), ());
        }
    }
    let own = edges.get(name).cloned().unwrap_or_default();
    let parent = own
        .iter()
        .find(|e| e.field == "spec.parent.name")
        .map(|e| e.target.clone());
    let mut causes = Vec::new();
    for edge in &own {
        let invalid =
            |message: String| Cause::new("FieldValueInvalid", edge.field.clone(), message);
        if edge.target == name {
            causes.push(invalid(format!(
                "Invalid value: {name:?}: a resource cannot wait for or be the parent of itself"
            )));
        } else if edge.field != "spec.parent.name"
            && parent.as_deref() == Some(edge.target.as_str())
        {
            causes.push(invalid(format!(
                "Invalid value: {:?}: {name} cannot wait for its own parent (a child starts after its parent has started); remove this waitFor entry",
                edge.target
            )));
        } else if has_path_connecting(&graph, edge.target.as_str(), name, None) {
            let cycle = cycle_path(&graph, &edge.target, name);
            causes.push(invalid(format!(
                "Invalid value: {:?}: dependency cycle {name} → {}; waitFor and parent edges must not form a cycle",
                edge.target,
                cycle.join(" → ")
            )));
        }
    }
    causes
}

/// The nodes on one path from `from` to `to` (both included), by depth-first search.
fn cycle_path(graph: &DiGraphMap<&str, ()>, from: &str, to: &str) -> Vec<String> {
    fn walk<'a>(
        graph: &DiGraphMap<&'a str, ()>,
        node: &'a str,
        to: &str,
        path: &mut Vec<&'a str>,
    ) -> bool {
        if path.contains(&node) {
            return false;
        }
        path.push(node);
        if node == to {
            return true;
        }
        let mut next: Vec<&str> = graph.neighbors(node).collect();
        next.sort_unstable();
        for neighbour in next {
            if walk(graph, neighbour, to, path) {
                return true;
            }
        }
        path.pop();
        false
    }
    let mut path = Vec::new();
    let start = graph.nodes().find(|n| *n == from).unwrap_or(from);
    walk(graph, start, to, &mut path);
    path.into_iter().map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(entries: &[(&str, &[&str], Option<&str>)]) -> HashMap<String, Vec<Edge>> {
        entries
            .iter()
            .map(|(name, waits, parent)| {
                let mut edges: Vec<Edge> = waits
                    .iter()
                    .enumerate()
                    .map(|(i, t)| Edge {
                        target: t.to_string(),
                        field: format!("spec.waitFor[{i}].name"),
                    })
                    .collect();
                if let Some(p) = parent {
                    edges.push(Edge {
                        target: p.to_string(),
                        field: "spec.parent.name".into(),
                    });
                }
                (name.to_string(), edges)
            })
            .collect()
    }

    #[test]
    fn a_chain_is_accepted_and_missing_dependencies_are_not_errors() {
        let edges = graph(&[
            ("web", &["api"], None),
            ("api", &["db", "not-yet-created"], None),
            ("db", &[], None),
        ]);
        assert!(check("api", &edges).is_empty());
        assert!(check("web", &edges).is_empty());
    }

    #[test]
    fn a_cycle_is_rejected_naming_every_member_in_order() {
        let edges = graph(&[
            ("a", &["b"], None),
            ("b", &["c"], None),
            ("c", &["a"], None),
        ]);
        let causes = check("c", &edges);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "spec.waitFor[0].name");
        assert!(
            causes[0].message.contains("c → a → b → c"),
            "{}",
            causes[0].message
        );
    }

    #[test]
    fn waiting_on_oneself_or_ones_parent_is_rejected() {
        let edges = graph(&[("a", &["a"], None)]);
        assert!(check("a", &edges)[0].message.contains("itself"));
        let edges = graph(&[("db", &["pg"], Some("pg")), ("pg", &[], None)]);
        let causes = check("db", &edges);
        assert_eq!(causes.len(), 1);
        assert!(
            causes[0].message.contains("own parent"),
            "{}",
            causes[0].message
        );
    }

    #[test]
    fn parent_edges_count_for_cycles() {
        let edges = graph(&[("child", &[], Some("server")), ("server", &["child"], None)]);
        let causes = check("server", &edges);
        assert!(
            causes[0].message.contains("server → child → server"),
            "{}",
            causes[0].message
        );
    }
}
