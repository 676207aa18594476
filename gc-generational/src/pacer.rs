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
//! * Marking owes `ratio x debt` work units (a slot is 8, a header 24)
//!   for each byte of debt; `ratio` is the work the next marking is
//!   expected to take (the last one's work per live byte, times the
//!   trigger, plus a quarter) over the runway, so that marking keeps pace
//!   with allocation and ends before the goal (Go's assist ratio, in work
//!   per byte allocated). A step pays at most [`MARK_STEP_MAX`], and runs
//!   at most [`STEP_TIME`] (work units cost what the heap's layout makes
//!   them cost: a step over scattered objects misses the cache); while
//!   work is still owed, the mutator yields again after [`OWED_GAP`]
//!   bytes, so a big debt (a minor collection that promoted a whole
//!   nursery) is paid in several short steps. Past the goal a step may do
//!   twice as much, and a quarter past it a marking step finishes the
//!   marking: a long pause, but the heap's growth stays bounded.
//! * Sweeping is paced the same way, in bytes walked per byte of debt,
//!   over the runway from the termination to the next trigger, within
//!   [`SWEEP_STEP_MIN`] and [`SWEEP_STEP_MAX`]; allocation also sweeps
//!   lazily (`src/old.rs`).
//! * Stress mode takes tiny steps ([`STRESS_STEP`]) and starts a cycle at
//!   every safepoint it can, so every interleaving of minor collections,
//!   allocation, marking and sweeping is exercised.

use std::time::{Duration, Instant};

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
pub(crate) const MARK_STEP_MIN: usize = 32 << 10;
pub(crate) const MARK_STEP_MAX: usize = 256 << 10;
/// Bounds of one sweeping step, in bytes walked.
pub(crate) const SWEEP_STEP_MIN: usize = 256 << 10;
pub(crate) const SWEEP_STEP_MAX: usize = 1 << 20;
/// While work is owed to the major cycle, the mutator yields again after
/// this many bytes of allocation, so that a debt bigger than one step is
/// paid in several bounded steps instead of one long one.
pub(crate) const OWED_GAP: usize = 64 << 10;
/// The step of either kind in stress mode.
pub(crate) const STRESS_STEP: usize = 2 << 10;

/// The longest a marking or sweeping step runs (it stops at the first
/// check after this), whatever its work budget: the cost of a unit of
/// work varies with how the heap is laid out in memory.
pub(crate) const STEP_TIME: Duration = Duration::from_micros(500);

/// How much one step may do: `work` units (mark work or bytes swept), and
/// until `deadline`, whichever ends first.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    pub(crate) work: usize,
    pub(crate) deadline: Option<Instant>,
}

impl Budget {
    /// No bound: finish the phase.
    pub(crate) const UNBOUNDED: Budget = Budget {
        work: usize::MAX,
        deadline: None,
    };

    /// A bound on work only (stress mode: deterministic steps).
    fn work(work: usize) -> Budget {
        Budget {
            work,
            deadline: None,
        }
    }

    /// Whether the deadline has passed.
    #[inline]
    pub(crate) fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// What a safepoint does, decided from its request and the pacing state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Only a minor collection (an explicit `collect(Minor)`).
    Minor,
    /// A whole major cycle, finishing any under way first.
    Full,
    /// The incremental work that is due: a minor collection if `minor`
    /// (always when the cycle starts here, which needs an empty nursery),
    /// then a cycle start or one step of the cycle under way.
    Step { minor: bool, start: bool },
}

impl State {
    /// Whether the nursery is full: a minor collection is due.
    #[inline]
    pub(crate) fn minor_due(&self) -> bool {
        self.nursery.used() >= self.nursery_bytes
    }

    /// Whether the mutator should yield: a minor collection is due, a
    /// nursery's worth has been allocated old since the last step, or work
    /// is owed to the major cycle and [`OWED_GAP`] bytes have been
    /// allocated since the last step.
    #[inline]
    pub(crate) fn yield_due(&self) -> bool {
        self.minor_due()
            || self.old_debt >= self.nursery_bytes
            || (self.owed > 0 && self.nursery.used() + self.old_debt >= OWED_GAP)
    }

    /// Whether the old generation has reached the trigger: a major cycle
    /// should start.
    pub(crate) fn major_due(&self) -> bool {
        self.old_generation() as u64 >= self.major_trigger
    }

    /// Sets the goal, trigger and step ratios from the marking that just
    /// ended (`marked` bytes found live, `mark_work` units of work).
    pub(crate) fn set_major_trigger(&mut self) {
        let floor = MIN_NURSERIES * self.nursery_bytes as u64;
        let live = self.marked as u64;
        self.major_goal = self.pacer.goal(live).max(floor);
        self.major_trigger = gc_core::Pacer::trigger(live, self.major_goal, 0.5);
        let runway = (self.major_goal - self.major_trigger).max(self.nursery_bytes as u64);
        // The next marking scans what is live at its start, the trigger's
        // worth, at the work per live byte this marking took (one unit
        // per byte before the first), with a quarter to spare.
        let per_byte = if live == 0 {
            1.0
        } else {
            self.mark_work as f64 / live as f64
        };
        let work = per_byte * self.major_trigger as f64 * 1.25;
        self.mark_ratio = (work / runway as f64).clamp(0.25, 64.0);
        // Sweeping must end before the old generation grows from what
        // marking found live to the next trigger.
        let sweep_runway = (self.major_trigger - live).max(self.nursery_bytes as u64);
        self.sweep_ratio = (self.old.capacity() as f64 / sweep_runway as f64).clamp(0.25, 64.0);
    }

    /// The budget of the next marking step (work units): the work owed
    /// for the debt since the last step, plus what earlier steps have not
    /// paid, at most [`MARK_STEP_MAX`] and [`STEP_TIME`] (twice that once
    /// the old generation is past its goal, everything once it is a
    /// quarter past).
    pub(crate) fn mark_budget(&mut self, stress: bool) -> Budget {
        self.budget(stress, self.mark_ratio, MARK_STEP_MIN, MARK_STEP_MAX, true)
    }

    /// The budget of the next sweeping step (bytes walked), the same way
    /// within [`SWEEP_STEP_MIN`] and [`SWEEP_STEP_MAX`], but never
    /// unbounded: the old generation's size counts the garbage still to
    /// sweep, and allocation sweeps lazily before it takes memory.
    pub(crate) fn sweep_budget(&mut self, stress: bool) -> Budget {
        self.budget(
            stress,
            self.sweep_ratio,
            SWEEP_STEP_MIN,
            SWEEP_STEP_MAX,
            false,
        )
    }

    fn budget(&mut self, stress: bool, ratio: f64, min: usize, max: usize, finish: bool) -> Budget {
        if stress {
            return Budget::work(STRESS_STEP);
        }
        self.owed += (self.old_debt as f64 * ratio) as usize;
        let old = self.old_generation() as u64;
        if finish && old >= self.major_goal + self.major_goal / 4 {
            return Budget::UNBOUNDED;
        }
        let (cap, time) = if old >= self.major_goal {
            (2 * max, 2 * STEP_TIME)
        } else {
            (max, STEP_TIME)
        };
        Budget {
            work: self.owed.clamp(min, cap),
            deadline: Some(Instant::now() + time),
        }
    }

    /// Records `work` done by a step against what is owed.
    pub(crate) fn paid(&mut self, work: usize) {
        self.owed = self.owed.saturating_sub(work);
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
