//! Grey work: an entry of the grey queue is an object and a range of its
//! slots, so that a big object is scanned in bounded pieces (Go's
//! *oblets*, `scanobject` in `mgcmark.go`).
//!
//! An object whose slots take more than [`OBLET_SLOTS`] x 8 bytes
//! (128 KiB, Go's `maxObletBytes`) is never scanned in one piece. Shading
//! pushes it as a [`Grey::whole`] entry, like any other object. A drainer
//! that takes an entry covering more than one step first pushes the rest
//! of the range back onto its own deque, as at most two entries (a rest
//! longer than an oblet is cut in halves at an oblet multiple), and then
//! scans only the first step ([`Grey::split`]). A background marker's step
//! is one oblet; an assisting mutator's is [`ASSIST_STEP`] slots, so that
//! it reads the clock often enough to end its assist on time. The rest is
//! grey work like any other: another marker may steal either half, an
//! assisting mutator may take it (or hand it to the markers when its
//! budget runs out), and each piece splits again when it is taken. An
//! object of `n` oblets is scanned by markers in `n` steps, and at most
//! about `2 log2 n` of its entries are queued at once.
//!
//! Invariants:
//!
//! * **Bounded steps.** One scan step reads at most [`OBLET_SLOTS`] slots
//!   (an assist's at most [`ASSIST_STEP`]) and pushes at most two entries
//!   besides the objects it shades. The drain loop reads the clock once
//!   [`CHECK_WORK`] units of work have been done since it last did (one
//!   unit per slot, [`ENTRY_WORK`] per entry), so after every whole assist
//!   step: a bounded assist overruns its budget by at most one step and 64
//!   small objects, whatever the sizes of the objects in the queue. The
//!   mark-termination pause scans nothing: it flushes the barrier buffer
//!   (shading, not scanning) and decides from the queue being empty.
//! * **Every range is scanned before termination.** The rest of a range
//!   is pushed onto the drainer's own deque before it scans the first
//!   step, while the drainer holds `busy`. So the rest is always somewhere
//!   the quiescence test looks (a deque whose owner is busy, or the
//!   injector once shared or handed off): "injector empty, then
//!   `busy == 0`" still means no grey range exists anywhere (crate docs,
//!   "Termination"). A drainer that requeued the rest after leaving `busy`
//!   would let a termination decide in between, and lose everything only
//!   that rest reaches (the loom model `m10` checks this, with its broken
//!   twin).
//! * **Marked once, counted once.** Only the whole entry is made by
//!   shading, so an object is still pushed whole at most once per cycle
//!   and its bytes counted once; only the step that scans slot 0 counts
//!   it as scanned.
//!
//! ## Soundness with the mutator writing a partly scanned object
//!
//! The deletion barrier's guarantee is per slot, not per object: while
//! marking, the first overwrite of a slot shades the value the slot held
//! at the snapshot (later overwrites shade values that were themselves
//! stored during marking, which are snapshot-reachable or black). So for
//! every slot `i` of a grey object and the object `x` it held at the
//! snapshot, either the drainer that scans the range holding `i` reads
//! `x` there (it was not overwritten before the read), or the mutator
//! overwrote `i` first and the barrier shaded `x`. Which ranges were
//! scanned before the write, and whether another marker scans another
//! range of the same object at the same time, does not enter the
//! argument: a whole-object scan was never atomic with respect to the
//! mutator either (it reads the slots one at a time while the mutator
//! writes them). The values the mutator stores into any range, scanned
//! or not, need no scan: under the snapshot invariant they are
//! snapshot-reachable (marked by the same argument) or allocated black.
//! The object itself cannot be freed under a partial scan: it is marked
//! when its whole entry is pushed, and sweeping starts only after a
//! termination, which waits for all its ranges.

use gc_core::ObjPtr;

/// Slots of one oblet: 128 KiB of slots (Go's `maxObletBytes`). Under
/// loom, two slots, so that the models split small objects.
#[cfg(not(loom))]
pub(crate) const OBLET_SLOTS: u32 = (128 << 10) / 8;
/// Slots of one oblet: 128 KiB of slots (Go's `maxObletBytes`). Under
/// loom, two slots, so that the models split small objects.
#[cfg(loom)]
pub(crate) const OBLET_SLOTS: u32 = 2;

/// Slots of one step of an assisting mutator: 8 KiB of slots, about a
/// microsecond of scanning when they hold no references and tens of
/// microseconds when every one shades an object that misses the cache.
/// Under loom, one slot.
#[cfg(not(loom))]
pub(crate) const ASSIST_STEP: u32 = 1024;
/// Slots of one step of an assisting mutator: 8 KiB of slots, about a
/// microsecond of scanning when they hold no references and tens of
/// microseconds when every one shades an object that misses the cache.
/// Under loom, one slot.
#[cfg(loom)]
pub(crate) const ASSIST_STEP: u32 = 1;

/// Work units after which the drain loop looks at the clock: one per slot
/// scanned and [`ENTRY_WORK`] per entry, so 64 slot-less objects or one
/// assist step between looks.
pub(crate) const CHECK_WORK: u64 = 1024;
/// Work units of taking one entry (besides its slots).
pub(crate) const ENTRY_WORK: u64 = 16;

/// An entry of the grey queue: slots `from..to` of `obj` (`to` clamped to
/// the object's length when it is scanned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Grey {
    pub(crate) obj: ObjPtr,
    pub(crate) from: u32,
    pub(crate) to: u32,
}

/// What a drainer does with one entry: scan `scan`, push `rest` (the
/// range left, already cut in at most two entries) first.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) scan: std::ops::Range<usize>,
    pub(crate) rest: [Option<Grey>; 2],
}

impl Grey {
    /// The whole of `obj`, as shading pushes it.
    #[inline]
    pub(crate) fn whole(obj: ObjPtr) -> Grey {
        Grey {
            obj,
            from: 0,
            to: u32::MAX,
        }
    }

    /// Cuts this entry of an object of `len` slots into the first `step`
    /// slots, to scan now, and the rest, to push back.
    #[inline]
    pub(crate) fn split(self, len: usize, step: u32) -> Step {
        debug_assert!((1..=OBLET_SLOTS).contains(&step));
        // Object lengths are at most `MAX_SLOTS` (`u32::MAX`).
        let to = self.to.min(len as u32);
        let from = self.from.min(to);
        if to - from <= step {
            return Step {
                scan: from as usize..to as usize,
                rest: [None, None],
            };
        }
        let end = from + step;
        let piece = |from, to| Some(Grey { to, from, ..self });
        let rest = if to - end <= OBLET_SLOTS {
            [piece(end, to), None]
        } else {
            // More than an oblet left: halve at an oblet multiple.
            let mid = end + (to - end).div_ceil(OBLET_SLOTS) / 2 * OBLET_SLOTS;
            [piece(end, mid), piece(mid, to)]
        };
        Step {
            scan: from as usize..end as usize,
            rest,
        }
    }

    /// Slots this entry covers in an object of `len` slots.
    #[cfg(test)]
    pub(crate) fn slots(self, len: usize) -> usize {
        let to = self.to.min(len as u32);
        (to - self.from.min(to)) as usize
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use gc_core::{RawValue, SlotInit};
    use std::ptr::NonNull;

    /// A slot-less object in the caller's `mem` (`split` only does
    /// arithmetic on the lengths it is given; the entries need a real
    /// object).
    fn obj(mem: &mut [u64; 4]) -> ObjPtr {
        let mem = NonNull::from(mem).cast::<u8>();
        // SAFETY: 32 bytes, 8-aligned and writable, hold a header with no
        // slots or bytes; no slot holds a reference.
        unsafe { ObjPtr::init(mem, 0, SlotInit::Copy(&[] as &[RawValue]), &[], 0, 0) }
    }

    /// Scans `len` slots from a whole entry the way a drainer does (LIFO)
    /// in steps of `step`, checking the bound at every step; returns the
    /// slots covered.
    fn drain(len: usize, step: u32) -> Vec<bool> {
        let mut seen = vec![false; len];
        let mut mem = [0u64; 4];
        let mut queue = vec![Grey::whole(obj(&mut mem))];
        let mut steps = 0;
        while let Some(g) = queue.pop() {
            let s = g.split(len, step);
            assert!(s.scan.len() <= step as usize);
            assert!(queue.len() < 64, "the rest stays a few entries");
            let rest: usize = s.rest.iter().flatten().map(|r| r.slots(len)).sum();
            assert_eq!(
                s.scan.len() + rest,
                g.slots(len),
                "ranges are cut, not lost"
            );
            for i in s.scan {
                assert!(!seen[i], "slot {i} scanned twice");
                seen[i] = true;
            }
            queue.extend(s.rest.into_iter().flatten());
            steps += 1;
        }
        if step == OBLET_SLOTS {
            assert_eq!(steps, len.div_ceil(OBLET_SLOTS as usize).max(1));
        }
        seen
    }

    #[test]
    fn every_slot_is_scanned_once_in_bounded_steps() {
        let o = OBLET_SLOTS as usize;
        for len in [0, 1, o - 1, o, o + 1, 2 * o, 3 * o + 5, 1_000_000] {
            for step in [OBLET_SLOTS, ASSIST_STEP, 1000] {
                assert!(drain(len, step).into_iter().all(|s| s), "len {len}");
            }
        }
    }

    #[test]
    fn small_objects_are_one_step() {
        let mut mem = [0u64; 4];
        let s = Grey::whole(obj(&mut mem)).split(100, OBLET_SLOTS);
        assert_eq!(s.scan, 0..100);
        assert_eq!(s.rest, [None, None]);
    }
}
