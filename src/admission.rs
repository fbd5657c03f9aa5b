//! kaspire's own admission rules, run by the API server inside its write lock on every
//! create and update of a kaspire object (so a rule sees a consistent view of the
//! namespace and two concurrent writes cannot sneak a cycle in).

mod dependencies;
mod hierarchy;

use std::sync::Arc;

use crate::apiserver::server::ApiServer;

pub use dependencies::DependencyGraph;
pub use hierarchy::Hierarchy;

/// Registers every kaspire admission rule with the server.
pub fn install(server: &ApiServer) {
    server.add_admission(Arc::new(DependencyGraph));
    server.add_admission(Arc::new(Hierarchy));
}
