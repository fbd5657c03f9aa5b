//! Restart delays: exponential from `restartBackoff.initialSeconds`, doubling up to
//! `maxSeconds`, reset after [`RESET_AFTER`] of clean running (product.md §3).

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::api::RestartBackoff;

/// A run this long without a crash resets the backoff to its first step.
pub const RESET_AFTER: Duration = Duration::from_secs(600);

/// The delay before restart number `attempt` (0 for the first restart since the last reset).
pub fn delay(spec: &RestartBackoff, attempt: u32) -> Duration {
    let initial = Duration::from_secs(spec.initial_seconds.max(0) as u64);
    let max = Duration::from_secs(spec.max_seconds.max(0) as u64).max(initial);
    if initial.is_zero() {
        return Duration::ZERO;
    }
    ExponentialBuilder::new()
        .with_min_delay(initial)
        .with_max_delay(max)
        .with_factor(2.0)
        .without_max_times()
        .build()
        .nth(attempt as usize)
        .unwrap_or(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_initial_and_stops_at_the_cap() {
        let spec = RestartBackoff {
            initial_seconds: 1,
            max_seconds: 10,
        };
        let secs: Vec<u64> = (0..6).map(|n| delay(&spec, n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn zero_initial_means_no_delay() {
        let spec = RestartBackoff {
            initial_seconds: 0,
            max_seconds: 60,
        };
        assert_eq!(delay(&spec, 5), Duration::ZERO);
    }
}
