//! The set of field paths one manager owns, and its `FieldsV1` wire form
//! (`{"f:spec":{"f:replicas":{}}}`). Lists are atomic here, so a path only ever names
//! object keys; list-item keys (`k:…`, `v:…`, `i:…`) written by a real cluster collapse
//! into ownership of the whole list.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A path of object keys from the root, e.g. `["spec", "replicas"]`.
pub type FieldPath = Vec<String>;

/// A tree of owned paths: a node is a `member` when the value at that path itself is owned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

/// Top-level and `metadata` fields the server sets itself; nobody owns them.
const IGNORED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "selfLink",
];

/// Whether ownership of `path` is never tracked.
pub fn is_ignored(path: &[String]) -> bool {
    match path {
        [top] => top == "apiVersion" || top == "kind",
        [top, field, ..] => top == "metadata" && IGNORED_METADATA.contains(&field.as_str()),
        [] => false,
    }
}

/// The value at `path`, walking object keys only.
pub fn value_at<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |node, key| node.as_object()?.get(key))
}

impl FieldSet {
    /// The leaves of `value`: scalars, lists and empty objects, minus ignored paths;
    /// `skip_null` leaves out nulls (an applied `null` deletes rather than claims).
    pub fn leaves_of(value: &Value, skip_null: bool) -> FieldSet {
        let mut set = FieldSet::default();
        let mut path = Vec::new();
        collect_leaves(value, &mut path, skip_null, &mut set);
        set
    }

    /// Parses a `fieldsV1` object; anything unrecognised is skipped rather than rejected,
    /// since the entries may come from another tool.
    pub fn from_fields_v1(fields: &Value) -> FieldSet {
        // The root is an object, never a leaf, even when `fieldsV1` is `{}`.
        let mut set = FieldSet::parse_node(fields);
        set.member = false;
        set
    }

    fn parse_node(fields: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        let Some(map) = fields.as_object() else {
            return set;
        };
        for (key, child) in map {
            if key == "." {
                set.member = true;
            } else if let Some(name) = key.strip_prefix("f:") {
                let parsed = FieldSet::parse_node(child);
                if !parsed.is_empty() {
                    set.children.insert(name.to_string(), parsed);
                }
            } else if key.starts_with("k:") || key.starts_with("v:") || key.starts_with("i:") {
                // Ownership inside a list item means ownership of (part of) the list, which we treat as atomic.
                set.member = true;
            }
        }
        if set.children.is_empty() && map.is_empty() {
            set.member = true;
        }
        set
    }

    /// The `fieldsV1` form, keys sorted as structured-merge-diff writes them.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        for (name, child) in &self.children {
            map.insert(format!("f:{name}"), child.to_fields_v1());
        }
        Value::Object(map)
    }

    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    pub fn insert(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.member = true,
            Some((head, rest)) => self.children.entry(head.clone()).or_default().insert(rest),
        }
    }

    pub fn contains(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((head, rest)) => self
                .children
                .get(head)
                .is_some_and(|child| child.contains(rest)),
        }
    }

    /// Whether `path` or anything below it is owned.
    pub fn owns_within(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => !self.is_empty(),
            Some((head, rest)) => self
                .children
                .get(head)
                .is_some_and(|child| child.owns_within(rest)),
        }
    }

    /// Drops `path` (not its descendants) and any branch left empty.
    pub fn remove(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.member = false,
            Some((head, rest)) => {
                if let Some(child) = self.children.get_mut(head) {
                    child.remove(rest);
                    if child.is_empty() {
                        self.children.remove(head);
                    }
                }
            }
        }
    }

    /// Every owned path, depth first in key order.
    pub fn paths(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    /// Keeps only the paths `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&[String]) -> bool) {
        for path in self.paths() {
            if !keep(&path) {
                self.remove(&path);
            }
        }
    }

    pub fn union(&mut self, other: &FieldSet) {
        for path in other.paths() {
            self.insert(&path);
        }
    }

    fn collect_paths(&self, prefix: &mut FieldPath, out: &mut Vec<FieldPath>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (name, child) in &self.children {
            prefix.push(name.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }
}

fn collect_leaves(value: &Value, path: &mut FieldPath, skip_null: bool, set: &mut FieldSet) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                path.push(key.clone());
                if !is_ignored(path) {
                    collect_leaves(child, path, skip_null, set);
                }
                path.pop();
            }
        }
        Value::Null if skip_null => {}
        // The root itself is never a field anyone owns.
        _ if path.is_empty() => {}
        _ => set.insert(path),
    }
}

/// Renders a path the way structured-merge-diff prints it in conflicts: `.spec.replicas`.
pub fn display(path: &[String]) -> String {
    path.iter().map(|key| format!(".{key}")).collect()
}
