//! The major collection: mark, evacuate in address order, fix references,
//! sweep the large objects.
//!
//! See the crate docs ("Major collection") for the algorithm. The
//! invariants this file keeps:
//!
//! * Marking sets `MARK` on every reachable object (and clears its
//!   `REMEMBERED` flag: the remembered set is rebuilt empty, since no young
//!   object survives a major collection); nothing else sets it.
//! * Evacuation copies every marked small object into a fresh old space,
//!   space by space in address order (old, survivors, nursery), so the
//!   new old space keeps the allocation order; the originals keep a
//!   forwarding word until their spaces are reset at the end.
//! * After the fix-up pass, no slot, root or weak entry refers to an
//!   original: each names a copy or a marked large object, or (a weak
//!   entry) is cleared. Large objects that were not marked are freed, and
//!   every surviving large object has its `MARK` cleared again.

use std::sync::atomic::Ordering::Relaxed;

use gc_core::{ObjPtr, RawValue, Safepoint};

use crate::copy::move_object;
use crate::header::{LARGE, MARK, OLD, REMEMBERED, forwardee, meta, set_meta};
use crate::space::Space;
use crate::{CHUNK, State};

/// Marks `p` (if not yet marked) and queues it for scanning.
///
/// # Safety
///
/// 1. `p` is a live object of this heap, before evacuation.
#[inline]
unsafe fn mark(p: ObjPtr, stack: &mut Vec<ObjPtr>) {
    // SAFETY: obligation 1.
    unsafe {
        let m = meta(p);
        if m & MARK == 0 {
            set_meta(p, (m | MARK) & !REMEMBERED);
            stack.push(p);
        }
    }
}

/// Copies the marked objects of `space`, in address order, to
/// `to_space`, leaving forwarding addresses.
///
/// # Safety
///
/// 1. Every allocation of `space` holds a complete object of this heap,
///    and none is forwarded yet.
unsafe fn evacuate_in_order(space: &Space, to_space: &mut Space) {
    let evacuate = |p: ObjPtr| {
        // SAFETY: a complete object of `space` (obligation 1), allocated
        // until `space` is reset after the collection.
        unsafe {
            if meta(p) & MARK == 0 {
                return; // dead
            }
            let size = p.size();
            move_object(p, size, to_space.alloc(size), OLD);
        }
    };
    // SAFETY: obligation 1: the walk reads each object's size before the
    // callback forwards it (forwarding rewrites only `meta`).
    unsafe { space.for_each_object(evacuate) };
}

/// Where a reference to a live object points after evacuation.
///
/// # Safety
///
/// 1. Evacuation has run and `p` is a marked object of this heap (a
///    forwarded original, or a large object).
#[inline]
unsafe fn relocated(p: ObjPtr) -> ObjPtr {
    // A forwarding word is an address: test for it first. Otherwise
    // the object is large (not moved).
    // SAFETY: obligation 1: the original is allocated until its space is
    // reset, and its meta word is read from it.
    unsafe { forwardee(meta(p)) }.unwrap_or(p)
}

/// Rewrites every reference in `obj`'s slots to the relocated object.
///
/// # Safety
///
/// 1. Evacuation has run and `obj` is a complete live object (a copy or
///    a marked large object), whose references name marked objects.
#[inline]
unsafe fn fix_slots(obj: ObjPtr) {
    // SAFETY: obligation 1.
    for s in unsafe { obj.slots() } {
        if let Some(c) = RawValue::from_bits(s.load(Relaxed)).as_ptr() {
            // SAFETY: obligation 1: `c` is marked.
            s.store(
                RawValue::from_ptr(unsafe { relocated(c) }).to_bits(),
                Relaxed,
            );
        }
    }
}

impl State {
    /// A major collection: marks everything reachable, then evacuates the
    /// survivors of every space, in address order, into a fresh old space
    /// (see "Major collection"). Returns the objects visited.
    pub(crate) fn major(&mut self, sp: &mut Safepoint<'_>) -> u64 {
        // 1. Mark, with an explicit stack (no recursion on heap depth).
        let mut stack = std::mem::take(&mut self.scratch);
        // SAFETY: roots name live objects (obligation of the heap).
        sp.for_each_root(|p| unsafe { mark(*p, &mut stack) });
        let mut visited = 0;
        while let Some(o) = stack.pop() {
            visited += 1;
            // SAFETY: a live object of this heap (marked from a root).
            for s in unsafe { o.slots() } {
                if let Some(c) = RawValue::from_bits(s.load(Relaxed)).as_ptr() {
                    // SAFETY: a slot of a live object names a live object.
                    unsafe { mark(c, &mut stack) };
                }
            }
        }
        self.scratch = stack;
        // 2. Evacuate in address order: the old space first (it holds the
        // oldest objects, in the order they were allocated or promoted),
        // then the survivors, then the nursery. Large objects stay.
        let mut to_space = Space::new(CHUNK, 1);
        // SAFETY: the spaces hold complete objects end to end (every
        // allocation is written at once), none forwarded between
        // collections.
        unsafe {
            evacuate_in_order(&self.old, &mut to_space);
            evacuate_in_order(&self.survivors, &mut to_space);
            evacuate_in_order(&self.nursery, &mut to_space);
        }
        // 3. Fix references: in the copies, in marked large objects, in
        // roots and in weak entries.
        // SAFETY: `to_space` holds only whole copies of marked objects,
        // whose slots name marked objects.
        unsafe { to_space.for_each_object(|p| fix_slots(p)) };
        for (&p, _) in &self.large {
            // SAFETY: a large object is live until swept below; a marked
            // one refers only to marked objects.
            unsafe {
                if meta(p) & MARK != 0 {
                    fix_slots(p);
                }
            }
        }
        // SAFETY: roots were marked.
        sp.for_each_root(|p| *p = unsafe { relocated(*p) });
        sp.for_each_weak(|_, t| {
            if let Some(p) = *t {
                // SAFETY: a weak entry names an object of this heap that
                // is still allocated (its space is reset, or it is swept,
                // only below).
                let m = unsafe { meta(p) };
                // SAFETY: `m` is `p`'s meta word.
                *t = match unsafe { forwardee(m) } {
                    Some(to) => Some(to),
                    None if m & LARGE != 0 && m & MARK != 0 => Some(p),
                    None => None,
                };
            }
        });
        self.sweep_large();
        self.remembered.clear();
        self.nursery.reset();
        self.survivors.reset();
        self.survivors_to.reset();
        self.old = to_space;
        self.settle();
        // Start measuring survival afresh.
        self.pretenure = false;
        self.high_survival = 0;
        self.set_major_trigger();
        visited
    }

    /// Frees the large objects the marking did not reach and clears the
    /// mark of the others.
    fn sweep_large(&mut self) {
        let mut freed_large = 0;
        self.large.retain(|&p, &mut size| {
            // SAFETY: a large object of this heap, not freed yet.
            let m = unsafe { meta(p) };
            if m & MARK != 0 {
                // SAFETY: as above.
                unsafe { set_meta(p, m & !MARK) };
                true
            } else {
                freed_large += size;
                // SAFETY: allocated by `gc_core::large::alloc` with this
                // size and unreachable: no root, slot or weak entry refers
                // to it.
                unsafe { gc_core::large::free(p.as_raw().cast(), size) };
                false
            }
        });
        self.large_bytes -= freed_large;
    }
}
