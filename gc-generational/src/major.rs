//! The major cycle: incremental snapshot-at-the-beginning marking of the
//! old generation, then incremental sweeping of the old space.
//!
//! See the crate docs ("Major cycle") for where this sits; the old space it
//! sweeps is in `src/old.rs`, the barrier in `src/barrier.rs` and the
//! pacing of the steps in `src/pacer.rs`.
//!
//! ## The cycle
//!
//! 1. **Start** (one pause): right after the minor collection of the same
//!    safepoint (so the nursery is empty), every root is shaded, and every
//!    old object a survivor refers to. This is the *snapshot*: the cycle
//!    will keep every object reachable at this moment, plus every object
//!    allocated old while it runs.
//! 2. **Marking** (one bounded step per safepoint, minor collections and
//!    the mutator running in between): grey objects are taken from the mark
//!    stack and their slots scanned, at most [`OBLET_SLOTS`] slots of one
//!    object at a time (a bigger object goes back on the stack with the
//!    index to resume from, as Go splits big objects into oblets), shading
//!    the old objects they name. Young objects are never shaded or scanned
//!    (a minor collection is what keeps them alive): the survivors' old
//!    references were shaded at the start, and every other young object
//!    is newer than the snapshot.
//! 3. **Termination** (when the stack is empty at the end of a step): weak
//!    entries to unmarked old objects are cleared, unmarked objects leave
//!    the remembered set, unmarked large objects are freed, and the old
//!    space's sweep begins. Allocation is no longer black.
//! 4. **Sweeping** (bounded steps at safepoints, and lazily from old-space
//!    allocation): see `src/old.rs`. The next cycle can start once the
//!    sweep has finished.
//!
//! ## Why nothing reachable is missed (Yuasa's deletion barrier)
//!
//! Every old object reachable at the snapshot is marked. Take a path to
//! it from a root as it was at the snapshot, and its last young object
//! (if any): the old object after it was shaded at the start (survivors'
//! references were), so the rest of the path runs through old objects
//! only. Along that part, either every edge survives until the marker
//! scans it, or some edge was overwritten first, and the write barrier
//! shades the value an old object's slot held before every store while
//! marking runs. So stores into young objects need no barrier, and later
//! root changes delete nothing the marker needs (roots were shaded at the
//! start).
//! A weak entry read while marking runs is shaded too
//! ([`Collector::weak_upgraded`](gc_core::Collector::weak_upgraded)): its
//! target may be reachable only weakly at the snapshot. Every object
//! allocated old while marking runs (promoted, pretenured or large) is
//! born marked (*black*); it needs no scan, since whatever it refers to was
//! reachable at the snapshot or was allocated since. So at termination
//! every unmarked old object is unreachable, and stays so.
//!
//! ## Invariants
//!
//! * `MARK` is set only on old objects, only while a cycle is marking or in
//!   the part of the old space a sweep has not reached, and on large
//!   objects only while marking.
//! * Every object on the mark stack is marked; an object is pushed once
//!   per cycle (when it is shaded), plus once per unscanned remainder of a
//!   big object.
//! * Outside marking the mark stack is empty and the barrier does nothing
//!   beyond the generational remembered set.
//! * After termination the remembered set holds only marked (live) objects,
//!   so a minor collection never reads an object the sweeper may free.

use std::sync::atomic::Ordering::Relaxed;

use gc_core::{ObjPtr, RawValue, Safepoint};

use crate::State;
use crate::header::{LARGE, MARK, OLD, meta, set_meta};
use crate::pacer::Budget;

/// Slots of one object scanned as one unit of mark work (128 KiB of
/// slots, Go's `maxObletBytes`).
pub(crate) const OBLET_SLOTS: usize = 16 * 1024;

/// Where the major cycle is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cycle {
    /// No cycle under way.
    Idle,
    /// Marking incrementally.
    Marking,
    /// Marking is done; the old space is being swept.
    Sweeping,
}

/// Objects scanned between two looks at the clock.
const CLOCK_EVERY: u64 = 64;

/// Mark work units charged for an object's header (a slot is 8).
const HEADER_WORK: usize = 24;

impl State {
    /// Marks `p` if it is an unmarked old object and queues it for
    /// scanning.
    ///
    /// # Safety
    ///
    /// 1. `p` is a live object of this heap, not forwarded.
    #[inline]
    pub(crate) unsafe fn shade(&mut self, p: ObjPtr) {
        // SAFETY: obligation 1.
        let m = unsafe { meta(p) };
        if m & (OLD | MARK) == OLD {
            // SAFETY: obligation 1.
            unsafe {
                set_meta(p, m | MARK);
                self.marked += p.size();
                if !p.header().is_empty() {
                    self.mark_stack.push((p, 0));
                }
            }
        }
    }

    /// The cycle's start (see "The cycle", step 1): the nursery must be
    /// empty (the minor collection of this safepoint emptied it). Shades
    /// the roots and what the survivors refer to; returns the roots
    /// shaded.
    pub(crate) fn start_major(&mut self, sp: &mut Safepoint<'_>) -> u64 {
        debug_assert_eq!(self.cycle, Cycle::Idle);
        // The snapshot's argument needs it: nursery objects are neither
        // scanned here nor covered by the barrier.
        assert_eq!(self.nursery.used(), 0, "a cycle starts on an empty nursery");
        self.cycle = Cycle::Marking;
        self.marking = true;
        self.marked = 0;
        self.mark_work = 0;
        let mut roots = 0;
        sp.for_each_root(|p| {
            roots += 1;
            // SAFETY: roots name live objects (the heap's obligation).
            unsafe { self.shade(*p) }
        });
        let mut young = std::mem::take(&mut self.young_scratch);
        // SAFETY: between collections the survivor space holds complete
        // objects end to end.
        unsafe { self.survivors.for_each_object(|p| young.push(p)) };
        for &p in &young {
            // SAFETY: a survivor: a complete object whose slots name live
            // objects (a dead survivor's too: nothing has been freed since
            // the minor collection that copied it).
            unsafe {
                p.for_each_ref(|_, c| self.shade(c));
            }
        }
        self.mark_work += young.len() * HEADER_WORK;
        young.clear();
        self.young_scratch = young;
        roots
    }

    /// Scans grey objects within `budget` (work units: a slot is 8, a
    /// header 24; and time); returns whether the mark stack is empty, and
    /// the objects scanned.
    pub(crate) fn mark_step(&mut self, budget: Budget) -> (bool, u64) {
        let mut work = 0;
        let mut visited = 0;
        while work < budget.work {
            let Some((o, from)) = self.mark_stack.pop() else {
                break;
            };
            // SAFETY: the stack holds marked old objects, which are live
            // (old objects are freed only by a sweep, after marking).
            let slots = unsafe { o.slots() };
            let to = slots.len().min(from + OBLET_SLOTS);
            if to < slots.len() {
                self.mark_stack.push((o, to));
            }
            for s in &slots[from..to] {
                if let Some(c) = RawValue::from_bits(s.load(Relaxed)).as_ptr() {
                    // SAFETY: a slot of a live object names a live object.
                    unsafe { self.shade(c) };
                }
            }
            work += HEADER_WORK + 8 * (to - from);
            visited += 1;
            if visited % CLOCK_EVERY == 0 && budget.expired() {
                break;
            }
        }
        self.mark_work += work;
        self.paid(work);
        (self.mark_stack.is_empty(), visited)
    }

    /// The cycle's termination (see "The cycle", step 3): the mark stack
    /// is empty.
    pub(crate) fn terminate_major(&mut self, sp: &mut Safepoint<'_>) {
        debug_assert!(self.mark_stack.is_empty());
        self.marking = false;
        self.owed = 0;
        sp.for_each_weak(|_, t| {
            if let Some(p) = *t {
                // SAFETY: a weak entry names an object of this heap that is
                // still allocated (nothing is freed before this point).
                if unsafe { meta(p) } & (OLD | MARK) == OLD {
                    *t = None;
                }
            }
        });
        // SAFETY: remembered objects are allocated until the sweep below.
        self.remembered.retain(|&o| unsafe { meta(o) } & MARK != 0);
        // SAFETY: as above: carded objects are remembered large objects.
        self.cards.retain(|&o, _| unsafe { meta(o) } & MARK != 0);
        self.sweep_large();
        // SAFETY: the mark stack is empty, so every old object reachable at
        // the snapshot or allocated since is marked (see "Why nothing
        // reachable is missed"), weak entries to the others were cleared
        // above and they left the remembered set: nothing can reach an
        // unmarked one, and marks are cleared only by the sweeper.
        unsafe { self.old.start_sweep() };
        self.cycle = Cycle::Sweeping;
        // Start measuring survival afresh.
        self.pretenure = false;
        self.high_survival = 0;
        self.set_major_trigger();
    }

    /// Sweeps the old space within `budget` (bytes walked, and time);
    /// returns whether the cycle is over.
    pub(crate) fn sweep_step(&mut self, budget: Budget) -> bool {
        debug_assert_eq!(self.cycle, Cycle::Sweeping);
        // SAFETY: the sweep was started by `terminate_major`, which owed
        // `start_sweep`'s obligation.
        let (done, walked) = unsafe { self.old.sweep(budget) };
        self.paid(walked);
        if done {
            self.cycle = Cycle::Idle;
            self.owed = 0;
        }
        self.settle();
        self.cycle == Cycle::Idle
    }

    /// Runs the cycle under way (if any) to its end without a bound on the
    /// pause; returns the objects scanned.
    pub(crate) fn finish_major(&mut self, sp: &mut Safepoint<'_>) -> u64 {
        let mut visited = 0;
        loop {
            match self.cycle {
                Cycle::Idle => return visited,
                Cycle::Marking => {
                    visited += self.mark_step(Budget::UNBOUNDED).1;
                    self.terminate_major(sp);
                }
                Cycle::Sweeping => {
                    self.sweep_step(Budget::UNBOUNDED);
                }
            }
        }
    }

    /// Frees the large objects the marking did not reach and clears the
    /// mark of the others.
    fn sweep_large(&mut self) {
        let mut freed_large = 0;
        self.large.retain(|&p, &mut size| {
            // SAFETY: a large object of this heap, not freed yet.
            let m = unsafe { meta(p) };
            debug_assert!(m & LARGE != 0);
            if m & MARK != 0 {
                // SAFETY: as above.
                unsafe { set_meta(p, m & !MARK) };
                true
            } else {
                freed_large += size;
                // SAFETY: allocated by `gc_core::large::alloc` with this
                // size and unreachable: no root, slot or weak entry refers
                // to it (termination cleared its weak entries).
                unsafe { gc_core::large::free(p.as_raw().cast(), size) };
                false
            }
        });
        self.large_bytes -= freed_large;
        self.freed += freed_large as u64;
    }
}
