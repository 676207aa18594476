//! When collection work is due: the minor trigger (`should_yield`'s
//! rule), the major trigger, what a safepoint's request asks for, and the
//! pretenuring thresholds.
//!
//! * A minor collection is due once the nursery holds
//!   [`HeapConfig::nursery_bytes`](gc_core::HeapConfig::nursery_bytes):
//!   the mutator is asked to yield then, and the next safepoint collects
//!   the nursery (however far past its size one `mutate` call took it).
//! * A major collection is due once the old generation (old space plus
//!   large objects) reaches `major_trigger`, which is gc-core's heap goal
//!   for the old generation left by the previous major collection
//!   ([`gc_core::Pacer::goal`]), but at least [`MIN_NURSERIES`] nurseries.
//!   It is checked at every safepoint, after the minor collection (which
//!   may have promoted enough to cross it).

use gc_core::{CollectKind, Request};

use crate::State;

/// Fraction of the young generation that must survive a minor collection
/// for it to count as a high-survival collection.
pub(crate) const PRETENURE_SURVIVAL: f64 = 0.5;
/// High-survival minor collections in a row that switch allocation to the
/// old space until the next major collection.
pub(crate) const PRETENURE_STREAK: u32 = 2;
/// The major trigger is never below this many nurseries of old data
/// (8 MiB at the default 512 KiB nursery). Each minor collection may
/// promote up to a nursery's worth, so a lower trigger runs a major
/// collection after every few minors while a program is still building
/// its live data (the measurement behind the choice is in
/// `docs/ARCHITECTURE.md`, "One floor for the heap goal").
pub(crate) const MIN_NURSERIES: u64 = 16;

/// The major trigger for the heap goal `goal` (from [`gc_core::Pacer`]) and
/// a nursery of `nursery_bytes`.
pub(crate) fn major_trigger(goal: u64, nursery_bytes: usize) -> u64 {
    goal.max(MIN_NURSERIES * nursery_bytes as u64)
}

impl State {
    /// Whether the nursery is full: a minor collection is due.
    #[inline]
    pub(crate) fn minor_due(&self) -> bool {
        self.nursery.used() >= self.nursery_bytes
    }

    /// Whether the old generation has reached its trigger: a major
    /// collection is due.
    pub(crate) fn major_due(&self) -> bool {
        self.old_generation() as u64 >= self.major_trigger
    }

    /// Sets the major trigger from the old generation a major collection
    /// left.
    pub(crate) fn set_major_trigger(&mut self) {
        let goal = self.pacer.goal(self.old_generation() as u64);
        self.major_trigger = major_trigger(goal, self.nursery_bytes);
    }

    /// The collections a safepoint's `request` asks for, as (minor,
    /// major). A major collection may still follow a minor one when the
    /// old generation reaches its trigger ([`State::major_due`]).
    pub(crate) fn requested(&mut self, request: Request) -> (bool, bool) {
        match request {
            Request::Due => (self.minor_due(), false),
            Request::Force(CollectKind::Minor) => (true, false),
            Request::Force(_) => (false, true),
            Request::Stress => {
                self.stress_count += 1;
                // Alternate, so stress mode exercises both collections.
                let even = self.stress_count.is_multiple_of(2);
                (!even, even)
            }
        }
    }
}
