//! The write barrier: counting references as they are stored and dropped,
//! and the two buffers that the drops fill.
//!
//! Every store into a slot ([`State::write_slot`]) and every persistent
//! root added or removed adjusts counts: the new target is incremented,
//! the old one decremented. Nothing is freed here (the mutator's locals are
//! not counted, so a zero count proves nothing until the next safepoint):
//!
//! * an object whose count drops to zero goes into the **zero-count
//!   table** (`State::zct`, flag `IN_ZCT`), which the next safepoint
//!   drains (`zct`);
//! * an object decremented to a non-zero count may have become the last
//!   outside reference into a garbage cycle: it becomes a **candidate**
//!   ([`State::possible_root`], Bacon and Rajan's purple objects, flag
//!   `BUFFERED`), unless it is new or young (the young pass examines it
//!   anyway) or has no slots (it can be in no cycle); such an object is
//!   **stamped** with the current epoch instead, so that dismantling from
//!   allocation does not free it while the mutator may hold it in a local
//!   (module `dying`).
//!
//! An increment never takes an object out of candidacy: the increment may
//! come from a store made through an uncounted local, whose death
//! decrements nothing.

use gc_core::{ObjPtr, RawValue};

use crate::State;
use crate::header::{
    BUFFERED, COLOR, IN_ZCT, MAX_COUNT, NEW, PURPLE, YOUNG, count_overflow, flags, has_slots, rc,
    set_flags, set_rc, with_stamp,
};

impl State {
    /// The barrier of `Collector::write_slot`: stores `value` into slot
    /// `index` of `obj` and adjusts the counts of the new and old targets.
    ///
    /// # Safety
    ///
    /// 1. `obj` is a live object of this collector and `index` is below
    ///    its length.
    /// 2. If `value` is a reference, it names a live object of this
    ///    collector.
    #[inline]
    pub(crate) unsafe fn write_slot(&mut self, obj: ObjPtr, index: usize, value: RawValue) {
        // SAFETY: obligation 1; the barrier follows.
        let old = unsafe { obj.load_slot(index) };
        if let Some(n) = value.as_ptr() {
            // SAFETY: obligation 2.
            unsafe { self.inc(n) };
        }
        // SAFETY: obligation 1.
        unsafe { obj.store_slot(index, value) };
        if let Some(o) = old.as_ptr() {
            // SAFETY: the slot held a counted reference to `o`, which is
            // therefore live with a count of at least one.
            unsafe { self.dec(o) };
        }
    }

    /// Counts a new reference to `p`.
    ///
    /// # Safety
    ///
    /// 1. `p` is a live object of this collector.
    #[inline]
    pub(crate) unsafe fn inc(&mut self, p: ObjPtr) {
        // SAFETY: obligation 1.
        let n = unsafe { rc(p) };
        // Leave headroom for the candidate pass's temporary +1 per stacked
        // object (which must not be able to wrap a count).
        if n >= MAX_COUNT {
            count_overflow();
        }
        // Bacon and Rajan blacken an incremented candidate ("live for
        // now"). That is only sound when every reference is counted: here
        // the increment may come from a store made through an uncounted
        // local (say, of the object into its own slot), and when the local
        // dies nothing is decremented. So a candidate stays purple until a
        // pass has looked at it.
        // SAFETY: obligation 1.
        unsafe { set_rc(p, n + 1) };
    }

    /// Drops a counted reference to `p`.
    ///
    /// # Safety
    ///
    /// 1. `p` is a live object of this collector.
    /// 2. The reference dropped was counted (so the count is at least one).
    #[inline]
    pub(crate) unsafe fn dec(&mut self, p: ObjPtr) {
        // SAFETY: obligations 1 and 2 (no underflow).
        unsafe {
            let n = rc(p) - 1;
            set_rc(p, n);
            if n == 0 {
                self.push_zct(p);
            } else {
                self.possible_root(p);
            }
        }
    }

    /// Puts `p` into the zero-count table unless it is there already.
    ///
    /// # Safety
    ///
    /// 1. `p` is a live object of this collector.
    #[inline]
    pub(crate) unsafe fn push_zct(&mut self, p: ObjPtr) {
        // SAFETY: obligation 1.
        let f = unsafe { flags(p) };
        if f & IN_ZCT == 0 {
            // SAFETY: obligation 1.
            unsafe { set_flags(p, f | IN_ZCT) };
            self.zct.push(p);
        }
    }

    /// Bacon-Rajan `PossibleRoot`: colour purple and buffer, unless the
    /// object cannot be in a cycle or is examined anyway (young).
    ///
    /// # Safety
    ///
    /// 1. `p` is a live object of this collector.
    #[inline]
    pub(crate) unsafe fn possible_root(&mut self, p: ObjPtr) {
        // SAFETY: obligation 1 for every access to `p`; a buffered object
        // is not pushed twice.
        unsafe {
            let f = flags(p);
            if f & (YOUNG | NEW) != 0 || !has_slots(p) {
                // Not buffered, so stamped: the mutator may hold it while
                // its count falls to zero (module `dying`).
                set_flags(p, with_stamp(f, self.epoch));
                return;
            }
            set_flags(p, (f & !COLOR) | PURPLE | BUFFERED);
            if f & BUFFERED == 0 {
                self.candidates.push(p);
            }
        }
    }
}
