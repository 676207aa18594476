//! The zero-count table drain, and freeing.
//!
//! At a safepoint no mutator locals exist, so an object in the ZCT whose
//! count is still zero is garbage unless the root stack refers to it
//! (flag `STACK`). [`State::drain_zct`] takes such objects off the table:
//!
//! * garbage the last `mutate` both made and dropped (still `NEW`) is
//!   freed at once: its children are decremented and those that reach
//!   zero join the same worklist (one loop, no recursion). Freeing it
//!   costs about what making it did, so the pause is bounded by the
//!   mutator's own work since the last safepoint;
//! * older garbage is retired (module `dying`): dismantled in bounded
//!   steps at safepoints and from allocation, so dropping the last
//!   reference to a big old structure is never one long pause.
//!
//! Objects that left the table with a count are kept: a new one joins the
//! young set (if it has slots), an old one becomes a candidate (it lost
//! every reference and gained one back, possibly from a cycle that has
//! since become garbage). Stack-referenced zero-count objects stay in the
//! table for the next safepoint.
//!
//! [`State::release`] is the one place an object's memory is given back:
//! it takes the object out of the candidate buffer and the young set,
//! moves its weak entries to `dead_weak` (cleared before the safepoint
//! ends, so before the cell can be reused) and frees the cell. It never
//! touches the counts of the object's children: each caller decides that
//! (the ZCT drain and dismantling decrement them, the cycle passes only
//! those outside the garbage).

use gc_core::ObjPtr;

use crate::State;
use crate::header::{
    BUFFERED, IN_ZCT, NEW, STACK, WEAK, YOUNG, add, flags, for_each_child, has_slots, rc, set_flags,
};
use crate::slab::footprint;

impl State {
    /// Frees a dead object's memory and bookkeeping (not its children's
    /// counts: callers decide that).
    ///
    /// # Safety
    ///
    /// 1. `p` is a live object of this collector, not in the ZCT and not
    ///    on the root stack.
    /// 2. Nothing refers to it any more, or everything that does is freed
    ///    in the same pass before it is read again (white or young
    ///    garbage); no root, stack slot or uncleared weak entry does after
    ///    the safepoint (inside `mutate`: none does now, module `dying`).
    pub(crate) unsafe fn release(&mut self, p: ObjPtr) {
        // SAFETY: obligation 1: a live header.
        let f = unsafe { flags(p) };
        // SAFETY: obligation 1; `f` is its flags.
        unsafe { self.leave_lists(p, f) };
        debug_assert!(f & (IN_ZCT | STACK) == 0, "freeing a ZCT or stack object");
        // SAFETY: obligation 1: the object is live until this point.
        let size = unsafe { p.size() };
        let fp = footprint(size);
        self.live -= fp;
        self.freed += fp as u64;
        self.freed_objects += 1;
        // SAFETY: `p` came from `slab.alloc(size)`; nothing reads it as an
        // object afterwards (obligation 2), and it has left every list
        // above (obligation 1 for the ZCT and the stack).
        unsafe { self.slab.free(p.as_raw().cast(), size) };
    }

    /// Takes a dead object out of the candidate buffer and the young set,
    /// and queues its weak entries for clearing (at the end of the
    /// safepoint).
    ///
    /// # Safety
    ///
    /// 1. `p` is a live object of this collector and `f` its flags.
    pub(crate) unsafe fn leave_lists(&mut self, p: ObjPtr, f: u32) {
        if f & BUFFERED != 0 {
            // SAFETY: BUFFERED: a member of the buffer (invariant 4).
            unsafe { self.candidates.remove(p) };
        }
        if f & YOUNG != 0 {
            // SAFETY: YOUNG: a member of the young set (invariant 4).
            unsafe { self.young.remove(p) };
        }
        if f & WEAK != 0
            && let Some(entries) = self.weak.remove(&p)
        {
            self.dead_weak.extend(entries);
        }
    }

    /// Frees zero-count objects until the table holds only objects the root
    /// stack refers to. New objects that leave the table with a count join
    /// the young set. Returns whether the table held anything.
    pub(crate) fn drain_zct(&mut self) -> bool {
        let mut worked = false;
        let mut deferred = std::mem::take(&mut self.scratch);
        while let Some(p) = self.zct.pop() {
            worked = true;
            // SAFETY: ZCT members are live (invariant 1); a freed object's
            // children are live (invariant 2) and had a counted reference
            // from it; `p` is released with a zero count, off the stack,
            // after leaving the table (so nothing refers to it).
            unsafe {
                let f = flags(p);
                if rc(p) > 0 {
                    set_flags(p, f & !(IN_ZCT | NEW));
                    if f & NEW != 0 {
                        if has_slots(p) {
                            add(p, YOUNG);
                            self.young.push(p);
                        }
                    } else {
                        // An old object that lost every reference and gained
                        // one back: the new reference may come from a cycle
                        // that has since become garbage, so it is a candidate
                        // like any object decremented to a non-zero count.
                        self.possible_root(p);
                    }
                    continue;
                }
                if f & STACK != 0 {
                    deferred.push(p);
                    continue;
                }
                set_flags(p, f & !(IN_ZCT | NEW));
                if f & NEW != 0 {
                    // Garbage the last mutate both made and dropped: freed
                    // now, as cheaply as it was made (its children that
                    // reach zero join this loop).
                    for_each_child(p, |_, c| self.dec(c));
                    self.release(p);
                } else {
                    // Older garbage is retired and dismantled in bounded
                    // steps (module `dying`).
                    self.retire(p);
                }
            }
        }
        self.zct.append(&mut deferred);
        self.scratch = deferred;
        worked
    }
}
