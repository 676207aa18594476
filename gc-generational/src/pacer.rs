//! When collection work is due and how much of it a step does: the minor
//! trigger (`should_yield`'s rule), the major cycle's trigger, goal and
//! step budgets, what a safepoint's request asks for, and the pretenuring
//! thresholds.
//!
//! * A minor collection is due once the nursery holds
//!   [`HeapConfig::nursery_bytes`](gc_core::HeapConfig::nursery_bytes).
//! * Every byte allocated old (pretenured, large, or promoted by a minor
//!   collection) is *old-generation debt*. The mutator is asked to yield
//!   once the debt reaches a nursery's worth too, so a program whose
//!   allocations all bypass the nursery still reaches safepoints at the
//!   same rate as one that fills it.
//! * A major cycle's **goal** is gc-core's heap goal for the old
//!   generation its last marking found live ([`gc_core::Pacer::goal`]:
//!   `(1 + growth_factor)` times it, at least
//!   [`MIN_HEAP_GOAL`](gc_core::pacer::MIN_HEAP_GOAL), at most the limit),
//!   and never less than [`MIN_NURSERIES`] nurseries. The next cycle
//!   *starts* half-way from that live size to the goal, so marking has the
//!   other half as runway.
//! * Each marking step scans `ratio x debt` work units (a slot is 8, a
//!   header 24; the debt since the previous step), within
//!   [`MARK_STEP_MIN`] and [`MARK_STEP_MAX`]; `ratio` is the work the last
//!   marking took over the runway, so marking keeps pace with allocation
//!   and ends near the goal (Go's assist ratio, in bytes of work per byte
//!   allocated). If the old generation reaches the goal while marking is
//!   still under way, the next step finishes it: a longer pause, but the
//!   heap never outgrows its goal by more than what one step allows.
//! * Sweeping steps are paced the same way over the runway from the
//!   termination to the next trigger, within [`SWEEP_STEP_MIN`] and
//!   [`SWEEP_STEP_MAX`]; allocation also sweeps lazily (`src/old.rs`).
//! * Stress mode takes tiny steps ([`STRESS_STEP`]) and starts a cycle at
//!   every safepoint it can, so every interleaving of minor collections,
//!   allocation, marking and sweeping is exercised.

use gc_core::{CollectKind, Request};

use crate::State;

/// Fraction of the young generation that must survive a minor collection
/// for it to count as a high-survival collection.
pub(crate) const PRETENURE_SURVIVAL: f64 = 0.5;
/// High-survival minor collections in a row that switch allocation to the
/// old space until the next major cycle's termination.
pub(crate) const PRETENURE_STREAK: u32 = 2;
/// The major goal is never below this many nurseries of old data (8 MiB
/// at the default 512 KiB nursery). Each minor collection may promote up
/// to a nursery's worth, so a lower goal runs a major cycle after every
/// few minors while a program is still building its live data (the
/// measurement behind the choice is in `docs/ARCHITECTURE.md`, "One floor
/// for the heap goal").
pub(crate) const MIN_NURSERIES: u64 = 16;
/// Bounds of one marking step, in work units (a slot is 8, a header 24).
pub(crate) const MARK_STEP_MIN: usize = 64 << 10;
pub(crate) const MARK_STEP_MAX: usize = 1 << 20;
/// Bounds of one sweeping step, in bytes walked.
pub(crate) const SWEEP_STEP_MIN: usize = 256 << 10;
pub(crate) const SWEEP_STEP_MAX: usize = 4 << 20;
/// The step of either kind in stress mode.
pub(crate) const STRESS_STEP: usize = 2 << 10;

/// What a safepoint does, decided from its request and the pacing state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Only a minor collection (an explicit `collect(Minor)`).
    Minor,
    /// A whole major cycle, finishing any under way first.
    Full,
    /// The incremental work that is due: a minor collection if `minor`
    /// (promoting everything if the cycle starts here), then a cycle start
    /// or one step of the cycle under way.
    Step { minor: bool, start: bool },
}

impl State {
    /// Whether the nursery is full: a minor collection is due.
    #[inline]
    pub(crate) fn minor_due(&self) -> bool {
        self.nursery.used() >= self.nursery_bytes
    }

    /// Whether the mutator should yield: a minor collection is due, or a
    /// nursery's worth has been allocated old since the last step.
    #[inline]
    pub(crate) fn yield_due(&self) -> bool {
        self.minor_due() || self.old_debt >= self.nursery_bytes
    }

    /// Whether the old generation has reached the trigger: a major cycle
    /// should start.
    pub(crate) fn major_due(&self) -> bool {
        self.old_generation() as u64 >= self.major_trigger
    }

    /// Sets the goal, trigger and step ratios from the marking that just
    /// ended (`marked` bytes found live, `last_mark_work` units of work).
    pub(crate) fn set_major_trigger(&mut self) {
        let floor = MIN_NURSERIES * self.nursery_bytes as u64;
        let live = self.marked as u64;
        self.major_goal = self.pacer.goal(live).max(floor);
        self.major_trigger = gc_core::Pacer::trigger(live, self.major_goal, 0.5);
        let runway = (self.major_goal - self.major_trigger).max(self.nursery_bytes as u64);
        // The next marking's work, guessed from this one (or from the
        // trigger, before the first).
        let work = (self.last_mark_work as u64).max(self.major_trigger / 4);
        self.mark_ratio = (work as f64 / runway as f64).clamp(0.25, 64.0);
        let sweep = self.old.capacity() as u64;
        let sweep_runway = self
            .major_trigger
            .saturating_sub(self.old_generation() as u64)
            .max(self.nursery_bytes as u64);
        self.sweep_ratio = (sweep as f64 / sweep_runway as f64).clamp(0.25, 64.0);
    }

    /// The budget of the next marking step (work units).
    pub(crate) fn mark_budget(&self, stress: bool) -> usize {
        if stress {
            STRESS_STEP
        } else if self.old_generation() as u64 >= self.major_goal {
            usize::MAX
        } else {
            ((self.old_debt as f64 * self.mark_ratio) as usize).clamp(MARK_STEP_MIN, MARK_STEP_MAX)
        }
    }

    /// The budget of the next sweeping step (bytes walked).
    pub(crate) fn sweep_budget(&self, stress: bool) -> usize {
        if stress {
            STRESS_STEP
        } else if self.major_due() {
            usize::MAX
        } else {
            ((self.old_debt as f64 * self.sweep_ratio) as usize)
                .clamp(SWEEP_STEP_MIN, SWEEP_STEP_MAX)
        }
    }

    /// What a safepoint with `request` does (see [`Plan`]).
    pub(crate) fn plan(&self, request: Request) -> Plan {
        use crate::major::Cycle::Idle;
        match request {
            Request::Force(CollectKind::Minor) => Plan::Minor,
            Request::Force(_) => Plan::Full,
            Request::Stress => Plan::Step {
                minor: true,
                start: self.cycle == Idle,
            },
            Request::Due => {
                let start = self.cycle == Idle && self.major_due();
                Plan::Step {
                    minor: self.minor_due() || start,
                    start,
                }
            }
        }
    }
}
