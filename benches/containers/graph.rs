//! The app both orchestrators run: 20 containers (3 in quick mode) of the local busybox test image, each
//! ready once `/tmp/ready` exists (it is created at start), in one of two shapes:
//!
//! - chain: `c{i}` waits for `c{i-1}` healthy, so 20 start-and-become-healthy steps in a row;
//! - fan-out: `c0` is the root and `c1..c19` all wait for it, so 2 steps, 19 wide.
//!
//! The services themselves cost nothing to start: what is measured is the orchestrator
//! (create, start, probe, notice health, start the dependents).

/// Containers per app (3 in quick mode).
pub fn count() -> usize {
    crate::common::size(20, 3)
}

/// Each container's command (`/bin/sh -c` it): mark ready, then idle until SIGTERM (a
/// shell as PID 1 ignores SIGTERM unless it traps it, and `wait` lets the trap run at once).
pub const SCRIPT: &str = "trap 'exit 0' TERM; touch /tmp/ready; sleep 3600 & wait";

/// The readiness check, run inside the container.
pub const READY_CHECK: [&str; 3] = ["test", "-f", "/tmp/ready"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Chain,
    FanOut,
}

impl Shape {
    pub const ALL: [Shape; 2] = [Shape::Chain, Shape::FanOut];

    /// The phase name on the command line, and part of object and project names.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Chain => "chain",
            Shape::FanOut => "fanout",
        }
    }

    /// The index container `i` waits for, if any.
    pub fn waits_for(self, i: usize) -> Option<usize> {
        match (self, i) {
            (_, 0) => None,
            (Shape::Chain, i) => Some(i - 1),
            (Shape::FanOut, _) => Some(0),
        }
    }

    /// Steps from apply to the last container healthy, each one health-check period long
    /// at least (under Compose's defaults, the first probe runs one interval after start).
    pub fn depth(self) -> usize {
        match self {
            Shape::Chain => count(),
            Shape::FanOut => 2,
        }
    }
}

pub fn service(i: usize) -> String {
    format!("c{i}")
}
