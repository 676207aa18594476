//! Bounded freeing: dead objects are retired at once and dismantled in
//! bounded steps, at safepoints and from allocation.
//!
//! Freeing a dead structure means visiting all of it: every object's
//! children are decremented, and those that reach zero are freed in turn.
//! Done at once, releasing the last reference to a 100 MB tree is a pause
//! of tens of milliseconds. So freeing has two steps:
//!
//! 1. **Retiring** ([`State::retire`]) decides that an object is dead: it
//!    leaves the young set and the candidate buffer, its weak entries are
//!    queued for clearing, it is flagged `DEAD` and pushed onto
//!    `State::dying`. Its slots still hold counted references, so its
//!    children keep their counts for now (a conservative state: a child
//!    with an extra count only looks more alive to the cycle passes).
//! 2. **Dismantling** ([`State::dismantle`]) pops dying objects, decrements
//!    their children and gives the cell back, until a work budget is spent
//!    ([`FREE_STEP`] at a safepoint; at allocation, about the size of the
//!    new object, see [`State::pay_for`]). An object with many slots is
//!    dismantled a chunk at a time (`State::partial` holds it and the next
//!    slot), so no step visits more than its budget. `dying` is a stack:
//!    a tree is freed depth first, and the stack holds about one path of
//!    it and the siblings along it (an object with many dead children
//!    pushes them all: a dead 10,000,000-slot array of dead objects makes
//!    the stack 80 MB long, outside the heap limit).
//!
//! A `Full` or stress collection dismantles everything.
//!
//! ## Which children may be retired, and when
//!
//! At a safepoint the mutator holds no locals, so a child whose count
//! reaches zero is dead unless the root stack refers to it (`STACK`): it is
//! retired at once, and its weak entries are cleared before the safepoint
//! ends (before its cell can be reused).
//!
//! Inside `mutate` (dismantling from allocation) a zero count proves
//! nothing by itself: the mutator may hold the child in an uncounted
//! local. A child that reaches zero there is retired at once only if it is
//! **untouched**: not on the root stack, not in the ZCT (so not new),
//! without weak handles (`WEAK`), not in the candidate buffer, and not
//! stamped with the current epoch (module `header`: every barrier decrement
//! that keeps an object out of the ZCT and the buffer, and every weak
//! upgrade, stamps it with the number of the current mutator epoch, which
//! each safepoint advances). Every other child goes into the ZCT, as a
//! barrier decrement would put it, and the next safepoint decides.
//!
//! **Why an untouched child is not held by the mutator.** Suppose the
//! mutator holds an object `x` when dismantling retires it, and take the
//! first such retirement in an epoch. The mutator got `x` in this epoch
//! (locals do not outlive a safepoint) in one of these ways: from the root
//! stack at the safepoint (then `x` is flagged `STACK`), by allocating it
//! (in the ZCT until the next safepoint), by upgrading a weak handle
//! (stamped, or still `WEAK`), through a persistent root (a counted
//! reference, whose removal is a barrier decrement: stamped, buffered or in
//! the ZCT), or by reading it from a slot of an object `y` it held. In the
//! last case the slot's reference was counted when it was read; for `x`'s
//! count to reach zero that reference went away either by a barrier store
//! (stamped, buffered or in the ZCT) or because `y` was dismantled. `y`
//! was dismantled before `x` was retired; a dying object was retired
//! earlier, at a safepoint (then nothing could reach it in this epoch: a
//! zero count, off the stack, no weak entries left) or in this epoch while
//! the mutator held it, which is an earlier retirement of a held object,
//! against the choice of `x`. So `x` was never held.
//!
//! The same induction shows that `x` was already unreachable at the last
//! safepoint (every counted reference it had then came from an object
//! that was dead then, or was retired in this epoch the same way), and it
//! has no weak entries: reusing its memory inside `mutate` is the lazy
//! freeing that `Collector`'s obligation 2 allows.
//!
//! ## Invariants
//!
//! * `DEAD` is set exactly on the members of `dying` and on the object in
//!   `partial`. A dead object's count is zero; it is in no list but
//!   `dying`, has no weak entries, is not on the root stack, and no slot,
//!   root or stack refers to it.
//! * The slots of `partial`'s object below its cursor are nil (their
//!   references were released); every other slot of a dead object still
//!   holds a counted reference.
//! * Dead objects count as live bytes until their cell is given back, so
//!   the heap limit sees them; allocation that would pass the limit
//!   dismantles first.

use gc_core::{ObjPtr, RawValue};

use crate::State;
use crate::header::{
    BUFFERED, COLOR, DEAD, IN_ZCT, STACK, WEAK, YOUNG, flags, rc, set_flags, set_rc, stamp_of,
    with_stamp,
};

/// Work units (one per slot visited, four per cell given back)
/// a safepoint spends dismantling dead objects outside `Full` and stress
/// collections: about half a millisecond on this project's machines.
pub const FREE_STEP: usize = 64 * 1024;

/// Work units of giving one cell back.
const OBJECT_WORK: usize = 4;

/// Slots dismantled between two budget checks of a big object.
const CHUNK: usize = 1024;

impl State {
    /// Decides that `p` is dead (step 1 of the module docs).
    ///
    /// # Safety
    ///
    /// 1. `p` is a live object of this collector with a zero count, not in
    ///    the ZCT, not on the root stack and not dead yet.
    /// 2. Nothing can reach it any more: no slot or root refers to it (a
    ///    zero count), no mutator local holds it, and its weak entries (if
    ///    any) are cleared before the mutator runs again.
    pub(crate) unsafe fn retire(&mut self, p: ObjPtr) {
        // SAFETY: obligation 1: a live header.
        let f = unsafe { flags(p) };
        debug_assert!(f & (IN_ZCT | STACK | DEAD) == 0);
        // SAFETY: obligation 1.
        debug_assert!(unsafe { rc(p) } == 0);
        // SAFETY: obligation 1; `f` is its flags.
        unsafe { self.leave_lists(p, f) };
        // SAFETY: obligation 1.
        // (A retired candidate loses its colour with its buffer slot.)
        unsafe { set_flags(p, (f & !(BUFFERED | YOUNG | WEAK | COLOR)) | DEAD) };
        self.dying.push(p);
    }

    /// Dismantles dying objects until `budget` work units are spent or none
    /// is left; returns the work done. `at_safepoint` says whether the
    /// mutator holds no locals (children that reach zero off the stack are
    /// then retired at once; otherwise only untouched ones are).
    ///
    /// # Safety
    ///
    /// 1. If `at_safepoint`, the mutator holds no locals (the call is made
    ///    from inside `Collector::safepoint`).
    pub(crate) unsafe fn dismantle(&mut self, budget: usize, at_safepoint: bool) -> usize {
        let mut work = 0;
        while work < budget {
            let (p, from) = match self.partial.take() {
                Some(pf) => pf,
                None => match self.dying.pop() {
                    Some(p) => (p, 0),
                    None => break,
                },
            };
            // SAFETY: dying objects are allocated (invariant 1), as are
            // their children (invariant 2: their unreleased slots hold
            // counted references).
            let len = unsafe { p.header() }.len();
            let mut i = from;
            while i < len {
                let end = len.min(i + CHUNK);
                for j in i..end {
                    // SAFETY: `j` is below the object's length; the slot
                    // holds a counted reference to a live object, released
                    // here (and never read again: `p` is freed below or its
                    // released slots are nilled when suspended); obligation
                    // 1 is `release_ref`'s obligation 2.
                    unsafe {
                        if let Some(c) = p.load_slot(j).as_ptr() {
                            self.release_ref(c, at_safepoint);
                        }
                    }
                }
                work += end - i;
                i = end;
                if i < len && work >= budget {
                    for j in from..i {
                        // SAFETY: below the length; the references were
                        // released above.
                        unsafe { p.store_slot(j, RawValue::NIL) };
                    }
                    self.partial = Some((p, i));
                    return work;
                }
            }
            work += OBJECT_WORK;
            // SAFETY: a dead object: off the stack, out of the ZCT and of
            // every list, without weak entries, and nothing refers to it
            // (module invariants); its children were released above.
            unsafe { self.release(p) };
        }
        work
    }

    /// Drops a dismantled object's counted reference to `c`.
    ///
    /// # Safety
    ///
    /// 1. `c` is a live object of this collector and the reference was
    ///    counted.
    /// 2. If `at_safepoint`, the mutator holds no locals.
    #[inline]
    unsafe fn release_ref(&mut self, c: ObjPtr, at_safepoint: bool) {
        // SAFETY: obligation 1 (no underflow), for every access to `c`.
        unsafe {
            let n = rc(c) - 1;
            set_rc(c, n);
            if n > 0 {
                self.possible_root(c);
                return;
            }
            let f = flags(c);
            let retire = if at_safepoint {
                f & (IN_ZCT | STACK) == 0
            } else {
                f & (IN_ZCT | STACK | WEAK | BUFFERED) == 0 && stamp_of(f) != self.epoch
            };
            if retire {
                // Obligation 2 at a safepoint; in the mutator, the module
                // docs' argument: an untouched child is held by no local.
                // Either way its count is zero and it is off the stack; at
                // a safepoint its weak entries are cleared before it ends,
                // in the mutator it has none.
                self.retire(c);
            } else {
                self.push_zct(c);
            }
        }
    }

    /// Dismantling owed by an allocation of `bytes` while objects are
    /// dying: about as many bytes of dead cells as the allocation takes (a
    /// few hundred units at least), so memory is reused as promptly as it
    /// is asked for. When the allocation would pass `limit`, everything
    /// dismantlable is dismantled first.
    #[inline(never)]
    pub(crate) fn pay_for(&mut self, bytes: usize) {
        if bytes > self.limit - self.live {
            while self.has_dying() && bytes > self.limit - self.live {
                // SAFETY: not at a safepoint: no obligation.
                unsafe { self.dismantle(FREE_STEP, false) };
            }
            return;
        }
        let target = self.freed + bytes as u64;
        let mut work = 0;
        let cap = 256 + bytes / 4;
        while self.freed < target && work < cap && self.has_dying() {
            // SAFETY: as above.
            work += unsafe { self.dismantle(64, false) };
        }
    }

    /// Whether any dead object waits to be dismantled.
    #[inline(always)]
    pub(crate) fn has_dying(&self) -> bool {
        !self.dying.is_empty() || self.partial.is_some()
    }

    /// Stamps `p` as touched by the mutator in this epoch.
    ///
    /// # Safety
    ///
    /// 1. `p` is a live object of this collector.
    #[inline]
    pub(crate) unsafe fn touch(&mut self, p: ObjPtr) {
        // SAFETY: obligation 1.
        unsafe { set_flags(p, with_stamp(flags(p), self.epoch)) };
    }
}
