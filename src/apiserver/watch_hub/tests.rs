//! History bounds: by count always, by age beyond the newest `min_len`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{Change, ChangeType, HistoryBounds, WatchHub};
use crate::apiserver::resource::StorageId;
use crate::apiserver::store::ObjectKey;

fn change(revision: u64) -> Arc<Change> {
    Arc::new(Change {
        kind: ChangeType::Modified,
        revision,
        key: ObjectKey::new(&StorageId("executables".into()), "default", "api"),
        object: Arc::new(json!({"metadata": {"resourceVersion": revision.to_string()}})),
        previous: None,
        rendered: Default::default(),
    })
}

fn revisions(hub: &WatchHub, after: u64) -> Vec<u64> {
    let (backlog, _) = hub.subscribe_from(after).expect("within history");
    backlog.iter().map(|c| c.revision).collect()
}

#[test]
fn history_keeps_at_most_max_len_changes() {
    let bounds = HistoryBounds {
        max_len: 3,
        max_age: Duration::from_secs(3600),
        min_len: 1,
    };
    let hub = WatchHub::with_bounds(0, bounds);
    hub.publish((1..=5).map(change));
    assert_eq!(hub.compacted_revision(), 2);
    assert_eq!(revisions(&hub, 2), [3, 4, 5]);
    let too_old = hub.subscribe_from(1).expect_err("compacted");
    assert_eq!(too_old.oldest, 2);
}

#[test]
fn history_drops_old_changes_but_keeps_the_newest_min_len() {
    let bounds = HistoryBounds {
        max_len: 100,
        max_age: Duration::from_millis(20),
        min_len: 2,
    };
    let hub = WatchHub::with_bounds(0, bounds);
    hub.publish((1..=5).map(change));
    // Young: nothing dropped though above min_len.
    assert_eq!(hub.compacted_revision(), 0);
    std::thread::sleep(Duration::from_millis(40));
    // The next publish compacts what has aged, down to min_len of the old ones plus
    // the new change; a watch from before that gets 410 and re-lists.
    hub.publish([change(6)]);
    assert_eq!(hub.compacted_revision(), 4);
    assert_eq!(revisions(&hub, 4), [5, 6]);
    assert!(hub.subscribe_from(3).is_err());
}
