//! Pacing: when collection work is due.
//!
//! The heap goal and the trigger follow Go's pacer ([`gc_core::Pacer`]):
//! after a termination that marked `L` bytes, the goal is
//! `L * (1 + growth_factor)` (at least 4 MiB, at most the heap limit) and
//! the next cycle starts when the heap reaches
//! `L + TRIGGER_RATIO * (goal - L)`. "The heap" here is `paced` (Go's
//! `heapLive`): the bytes marked at the last termination plus the bytes
//! allocated since, so garbage that sweeping has not reached yet never
//! starts a cycle.
//!
//! While marking, the mutator assists (drains the grey queue itself) once
//! it has allocated past the goal, for a bounded time and spaced out so
//! that assists take a bounded share of its time; near the heap limit it
//! assists until marking is done. [`Tricolor::yield_due`] is
//! `should_yield`'s rule: it asks for a safepoint when one of these is due,
//! or when the markers have gone quiet (so termination is not delayed).

use std::time::{Duration, Instant};

use gc_core::Pacer;

use crate::Tricolor;
use crate::sync::Ordering;

/// Fraction of the distance from live to goal at which a cycle starts: the
/// rest of the distance is left for allocation while marking.
pub(crate) const TRIGGER_RATIO: f64 = 0.5;
/// Unswept spans the allocator sweeps per span it allocates in: enough that
/// the sweep phase ends long before the next cycle is due (the trigger
/// leaves at least `TRIGGER_RATIO` x live bytes of allocation), so the
/// cycle start rarely has anything left to sweep.
pub(crate) const SWEEP_PER_REFILL: usize = 2;
/// Longest a safepoint sweeps before a cycle may start: sweeping left
/// behind is finished in slices over several safepoints, so that no pause
/// grows with the heap.
pub(crate) const SWEEP_SLICE: Duration = Duration::from_micros(50);
/// Longest a mutator assists at one safepoint before it lets the markers
/// finish alone (unless the heap limit is near): an assist is a pause.
pub(crate) const ASSIST_BUDGET: Duration = Duration::from_micros(50);
/// After a bounded assist of length `d`, the next waits `d * ASSIST_SPACING`:
/// assists then take at most 1 / (1 + ASSIST_SPACING) of any stretch of the
/// mutator's time.
pub(crate) const ASSIST_SPACING: u32 = 3;

impl Tricolor {
    /// `Collector::should_yield`: whether a safepoint is due.
    #[inline]
    pub(crate) fn yield_due(&self) -> bool {
        let live = self.m.paced.get();
        if self.m.oom.get() {
            return true;
        }
        if self.m.marking.get() {
            (live >= self.m.goal.get() && self.assist_allowed())
                || (!self.m.stress && self.shared.mark_done.load(Ordering::Relaxed))
        } else {
            live >= self.m.trigger.get()
        }
    }

    /// Whether the heap has reached the trigger (a cycle is due).
    pub(crate) fn cycle_due(&self) -> bool {
        self.m.paced.get() >= self.m.trigger.get()
    }

    /// Whether the mutator assists marking at this safepoint, and for how
    /// long: `Some(None)` until marking is done (the heap limit is near),
    /// `Some(Some(budget))` for a bounded time (past the goal), `None` not
    /// at all.
    pub(crate) fn assist_due(&self) -> Option<Option<Duration>> {
        let live = self.m.paced.get();
        if self.near_limit(live) {
            Some(None)
        } else {
            (live >= self.m.goal.get() && self.assist_allowed()).then_some(Some(ASSIST_BUDGET))
        }
    }

    /// Whether `bytes` is within 1/16 of the heap limit: then the mutator
    /// finishes collector work at once instead of in bounded slices.
    pub(crate) fn near_limit(&self, bytes: u64) -> bool {
        bytes + bytes / 16 >= self.m.limit
    }

    /// Whether enough mutator time has passed since the last bounded
    /// assist (see [`ASSIST_SPACING`]).
    fn assist_allowed(&self) -> bool {
        Instant::now() >= self.m.assist_allowed.get()
    }

    /// Spaces out assists after one that started at `start` and ends now.
    pub(crate) fn space_assists(&self, start: Instant) {
        let now = Instant::now();
        self.m
            .assist_allowed
            .set(now + (now - start) * ASSIST_SPACING);
    }

    /// Sets the next cycle's goal and trigger after a termination that
    /// marked `marked` bytes (from which `paced` then counts).
    pub(crate) fn pace(&self, marked: u64) {
        let goal = self.m.pacer.goal(marked);
        self.m.goal.set(goal);
        self.m.paced.set(marked);
        self.m
            .trigger
            .set(Pacer::trigger(marked, goal, TRIGGER_RATIO));
    }
}
