//! The set of served resource types: the built-in ones plus one per served version of
//! every established CustomResourceDefinition. Discovery and OpenAPI are rendered
//! from here, and `generation` changes whenever the set does (for cache hashes).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use super::builtin;
use super::resource::ResourceType;

type TypeKey = (String, String, String);

#[derive(Default)]
struct Inner {
    types: BTreeMap<TypeKey, Arc<ResourceType>>,
    /// Which type keys each CRD (by name) contributed, so updates replace them.
    by_crd: HashMap<String, Vec<TypeKey>>,
    generation: u64,
}

/// Every served resource type.
pub struct Registry {
    inner: RwLock<Inner>,
}

impl Registry {
    /// A registry with the built-in types (namespaces, secrets, events, leases, CRDs…).
    pub fn with_builtins() -> Self {
        let mut inner = Inner::default();
        for rt in builtin::types() {
            inner.types.insert(key_of(&rt), Arc::new(rt));
        }
        Registry {
            inner: RwLock::new(inner),
        }
    }

    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        let inner = self.inner.read().expect("registry poisoned");
        inner
            .types
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// The served type for `apiVersion` + `kind` (used for ownerReferences and request bodies).
    pub fn lookup_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let inner = self.inner.read().expect("registry poisoned");
        inner
            .types
            .values()
            .find(|rt| rt.group == group && rt.version == version && rt.kind == kind)
            .cloned()
    }

    /// All served types, ordered by group, version and plural.
    pub fn all(&self) -> Vec<Arc<ResourceType>> {
        self.inner
            .read()
            .expect("registry poisoned")
            .types
            .values()
            .cloned()
            .collect()
    }

    /// Changes every time the set of types changes.
    pub fn generation(&self) -> u64 {
        self.inner.read().expect("registry poisoned").generation
    }

    /// Replaces the types served for the CRD named `crd_name`.
    pub fn set_crd_types(&self, crd_name: &str, types: Vec<ResourceType>) {
        let mut inner = self.inner.write().expect("registry poisoned");
        for key in inner.by_crd.remove(crd_name).unwrap_or_default() {
            inner.types.remove(&key);
        }
        let keys = types.iter().map(key_of).collect();
        for rt in types {
            inner.types.insert(key_of(&rt), Arc::new(rt));
        }
        inner.by_crd.insert(crd_name.to_string(), keys);
        inner.generation += 1;
    }

    /// Stops serving the types of the CRD named `crd_name`.
    pub fn remove_crd(&self, crd_name: &str) {
        let mut inner = self.inner.write().expect("registry poisoned");
        for key in inner.by_crd.remove(crd_name).unwrap_or_default() {
            inner.types.remove(&key);
        }
        inner.generation += 1;
    }

    /// Whether another CRD already serves this group + plural (names must not collide).
    pub fn plural_taken_by_other(&self, crd_name: &str, group: &str, plural: &str) -> bool {
        let inner = self.inner.read().expect("registry poisoned");
        inner.types.iter().any(|(key, _)| {
            key.0 == group
                && key.2 == plural
                && !inner
                    .by_crd
                    .get(crd_name)
                    .is_some_and(|keys| keys.contains(key))
        })
    }
}

fn key_of(rt: &ResourceType) -> TypeKey {
    (rt.group.clone(), rt.version.clone(), rt.plural.clone())
}
