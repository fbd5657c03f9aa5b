//! Server-side apply and `metadata.managedFields` tracking: the part of structured-merge-diff
//! that `kubectl apply --server-side`, kube-rs `Patch::Apply` and ordinary writes need.
//!
//! Simplifications, chosen on purpose: every list is atomic (owned and replaced whole),
//! objects and maps are owned key by key, and only leaves are recorded — so a map created
//! by an update is not itself owned (no `.` entries are written, though they are read).

mod entries;
mod fieldset;
mod merge;
#[cfg(test)]
mod tests;

use crate::apiserver::error::Cause;
use entries::Entry;
use fieldset::{FieldPath, FieldSet, value_at};
use serde_json::{Map, Value};

/// One server-side apply request.
#[derive(Debug, Clone, Copy)]
pub struct ApplyRequest<'a> {
    /// The `fieldManager` query parameter (required for apply).
    pub manager: &'a str,
    /// `Some("status")` when applying to `/status`.
    pub subresource: Option<&'a str>,
    /// `force=true`: take contested fields from their other managers instead of failing.
    pub force: bool,
    /// The apiVersion the request was made in, recorded on the manager's entry.
    pub api_version: &'a str,
    /// The request time, RFC 3339, recorded on the manager's entry.
    pub now: &'a str,
}

/// A field another manager owns that an apply would change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldConflict {
    /// The other manager's name.
    pub manager: String,
    /// The contested field as structured-merge-diff prints it: `.spec.replicas`.
    pub path: String,
    /// The manager as kube-apiserver names it in messages, e.g.
    /// `"kubectl-client-side-apply" using kaspire.dev/v1alpha1 at 2024-05-01T10:00:00Z`.
    pub described: String,
}

/// Applies `config` (the applied configuration, already parsed to JSON) onto `live` (None = create).
/// Returns the merged object (with metadata.managedFields updated) or the conflicts, sorted
/// and deduplicated.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    req: &ApplyRequest,
) -> Result<Value, Vec<FieldConflict>> {
    let subresource = req.subresource.unwrap_or_default();
    let mut entries = live.map(entries::read).unwrap_or_default();
    let mine = entries
        .iter()
        .position(|e| e.is(req.manager, "Apply", subresource));
    let previous = mine.map(|i| entries.remove(i));
    let applied = FieldSet::leaves_of(config, true);

    let mut merged = live.cloned().unwrap_or_else(|| Value::Object(Map::new()));
    merge::merge_config(&mut merged, config);
    if let Some(previous) = &previous {
        drop_abandoned_fields(&mut merged, &previous.fields, &applied, &entries);
    }

    let conflicts = find_conflicts(live, &merged, &entries);
    if !conflicts.is_empty() && !req.force {
        return Err(conflicts);
    }
    // With force the contested fields change hands; removed fields lose their owners.
    for entry in &mut entries {
        entry.fields.retain(|path| {
            !merge::changed(live, &merged, path) && value_at(&merged, path).is_some()
        });
    }

    let object_changed =
        live.is_none_or(|live| without_managed_fields(live) != without_managed_fields(&merged));
    let unchanged_entry = previous
        .as_ref()
        .filter(|p| !object_changed && p.fields == applied && p.api_version == req.api_version);
    entries.push(Entry {
        manager: req.manager.to_string(),
        operation: "Apply".into(),
        subresource: subresource.to_string(),
        api_version: req.api_version.to_string(),
        // A no-op apply keeps the old time, as kube-apiserver does.
        time: Some(
            unchanged_entry
                .and_then(|p| p.time.clone())
                .unwrap_or_else(|| req.now.to_string()),
        ),
        fields: applied,
    });
    entries::write(&mut merged, entries);
    Ok(merged)
}

/// After a non-apply write (create/update/patch), records `manager` as owner (operation `Update`)
/// of every leaf field that differs between `old` (None on create) and `new`, removing those
/// fields from other managers' sets; writes the result into new.metadata.managedFields.
/// A `managedFields: [{}]` in `new` is the documented request to clear them all.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    api_version: &str,
    now: &str,
) {
    if entries::requests_reset(new) {
        entries::write(new, Vec::new());
        return;
    }
    let subresource = subresource.unwrap_or_default();
    // A client that sends managedFields edits them; one that omits them keeps the old ones.
    let mut entries = match entries::read(new) {
        sent if !sent.is_empty() => sent,
        _ => old.map(entries::read).unwrap_or_default(),
    };
    let mut written = FieldSet::leaves_of(new, false);
    written.retain(|path| old.is_none_or(|old| value_at(old, path) != value_at(new, path)));

    for entry in &mut entries {
        entry
            .fields
            .retain(|path| !merge::changed(old, new, path) && value_at(new, path).is_some());
    }
    if !written.is_empty() {
        match entries
            .iter_mut()
            .find(|e| e.is(manager, "Update", subresource))
        {
            Some(entry) => {
                entry.fields.union(&written);
                entry.api_version = api_version.to_string();
                entry.time = Some(now.to_string());
            }
            None => entries.push(Entry {
                manager: manager.to_string(),
                operation: "Update".into(),
                subresource: subresource.to_string(),
                api_version: api_version.to_string(),
                time: Some(now.to_string()),
                fields: written,
            }),
        }
    }
    entries::write(new, entries);
}

/// The 409 message kube-apiserver gives for apply conflicts, e.g.
/// `Apply failed with 1 conflict: conflict with "kubectl" using v1 at …: .spec.replicas`.
pub fn conflict_message(conflicts: &[FieldConflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.described, only.path
        );
    }
    let mut lines = Vec::new();
    let mut last = None;
    for conflict in conflicts {
        if last != Some(&conflict.described) {
            lines.push(format!("conflicts with {}", conflict.described));
            last = Some(&conflict.described);
        }
        lines.push(format!("- {}", conflict.path));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// `details.causes` for an apply conflict: one `FieldManagerConflict` per contested field.
pub fn conflict_causes(conflicts: &[FieldConflict]) -> Vec<Cause> {
    conflicts
        .iter()
        .map(|c| {
            Cause::new(
                "FieldManagerConflict",
                c.path.clone(),
                format!("conflict with {}", c.described),
            )
        })
        .collect()
}

/// Removes what the manager applied last time but no longer applies, unless another manager
/// still owns it (or something inside it).
fn drop_abandoned_fields(
    merged: &mut Value,
    previous: &FieldSet,
    applied: &FieldSet,
    others: &[Entry],
) {
    let abandoned: Vec<FieldPath> = previous
        .paths()
        .into_iter()
        .filter(|path| !applied.contains(path))
        .collect();
    for path in abandoned {
        if !others.iter().any(|e| e.fields.owns_within(&path)) {
            merge::remove_at(merged, &path);
        }
    }
}

/// Fields of other managers whose value the apply would set differently.
fn find_conflicts(live: Option<&Value>, merged: &Value, others: &[Entry]) -> Vec<FieldConflict> {
    let mut conflicts: Vec<FieldConflict> = others
        .iter()
        .flat_map(|entry| {
            entry
                .fields
                .paths()
                .into_iter()
                .filter(|path| merge::changed(live, merged, path))
                .map(|path| FieldConflict {
                    manager: entry.manager.clone(),
                    path: fieldset::display(&path),
                    described: entry.describe(),
                })
        })
        .collect();
    conflicts.sort_by(|a, b| (&a.described, &a.path).cmp(&(&b.described, &b.path)));
    conflicts.dedup();
    conflicts
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut copy = obj.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    copy
}
