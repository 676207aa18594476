//! The heap-goal pacer: when the next old-generation collection or marking
//! cycle is due.
//!
//! Every tracing backend uses the rule of Go's `mgcpacer.go`: after a
//! collection that left `L` bytes live, the heap may grow to
//!
//! ```text
//! goal = clamp(L * (1 + growth), MIN_HEAP_GOAL, heap_limit)
//! ```
//!
//! before the next collection must have finished, where `growth` is
//! [`HeapConfig::growth_factor`] (Go's `GOGC / 100`). A collector that
//! works while the mutator runs (concurrent marking) must *start* before
//! the goal, at a trigger part of the way from `L` to the goal, so that it
//! finishes near the goal; a stop-the-world collector starts at the goal.
//!
//! What `L` counts is the backend's business: the bytes marked at
//! termination (tricolor), the old generation after a major collection
//! (generational). The pacer only does the arithmetic, so the rule and its
//! constants are written once.

use crate::config::HeapConfig;

/// Smallest heap goal (Go's `heapminimum`, 4 MiB): below it, collections
/// would come so often that their fixed costs (root scans, termination
/// handshakes, walking a near-empty heap) dominate the run, and small
/// programs never need a collection at all.
pub const MIN_HEAP_GOAL: u64 = 4 << 20;

/// The goal and trigger arithmetic of one heap, from its configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pacer {
    growth: f64,
    limit: u64,
}

impl Pacer {
    /// The pacer for `config`'s growth factor and heap limit.
    pub fn new(config: &HeapConfig) -> Pacer {
        Pacer {
            growth: config.growth_factor,
            limit: config.heap_limit as u64,
        }
    }

    /// The heap goal after a collection that left `live` bytes:
    /// `live * (1 + growth)`, at least [`MIN_HEAP_GOAL`], at most the
    /// heap limit.
    pub fn goal(&self, live: u64) -> u64 {
        ((live as f64 * (1.0 + self.growth)) as u64)
            .max(MIN_HEAP_GOAL)
            .min(self.limit)
    }

    /// The goal before the first collection (nothing is known to be live).
    pub fn initial_goal(&self) -> u64 {
        self.goal(0)
    }

    /// Where a collection that runs alongside the mutator starts so that
    /// it can finish by the goal: `ratio` of the way from `live` to `goal`.
    pub fn trigger(live: u64, goal: u64, ratio: f64) -> u64 {
        live + (goal.saturating_sub(live) as f64 * ratio) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goal_follows_growth_with_floor_and_ceiling() {
        let cfg = HeapConfig::default()
            .with_growth_factor(1.0)
            .with_heap_limit(1 << 30);
        let p = Pacer::new(&cfg);
        assert_eq!(p.initial_goal(), MIN_HEAP_GOAL);
        assert_eq!(p.goal(1 << 20), MIN_HEAP_GOAL, "the floor");
        assert_eq!(p.goal(100 << 20), 200 << 20, "doubling at growth 1.0");
        assert_eq!(p.goal(800 << 20), 1 << 30, "the heap limit caps it");
        assert_eq!(Pacer::trigger(100, 300, 0.5), 200);
        assert_eq!(Pacer::trigger(300, 100, 0.5), 300, "past the goal");
    }
}
