//! Root-stack bookkeeping: which objects the root stack holds at this
//! safepoint, and what leaving it means.
//!
//! References on the root stack are not counted. At each safepoint
//! [`State::update_stack`] flags every object the stack refers to with
//! `STACK` (and lists it in `State::stacked`): such an object is not freed
//! at a zero count, counts as referenced from outside in both cycle
//! passes, and gets one temporary extra count in the candidate pass.
//!
//! An object that was on the stack at the previous safepoint and no longer
//! is has lost an uncounted reference, a decrement the barrier never saw:
//!
//! * with a zero count it goes (back) into the ZCT;
//! * if it is new or young it is flagged `LEFT_STACK`, and becomes a
//!   candidate when the young pass promotes it (what it kept alive from
//!   the stack was never re-examined);
//! * otherwise it becomes a candidate at once.

use gc_core::Safepoint;

use crate::State;
use crate::header::{LEFT_STACK, NEW, STACK, YOUNG, add, has, rc, remove};

impl State {
    /// Flags the objects on the root stack, and treats objects that left it
    /// since the last safepoint as decremented.
    ///
    /// # Safety
    ///
    /// 1. Every reference on `sp`'s root stack names a live object of this
    ///    collector (`Collector::safepoint`'s obligation 2).
    pub(crate) unsafe fn update_stack(&mut self, sp: &mut Safepoint<'_>) {
        let prev = std::mem::take(&mut self.stacked);
        for &p in &prev {
            // SAFETY: objects flagged STACK are live (invariant 1).
            unsafe { remove(p, STACK) };
        }
        let mut now = std::mem::take(&mut self.scratch2);
        sp.for_each_stack_root(|p| {
            let p = *p;
            // SAFETY: obligation 1.
            unsafe {
                if !has(p, STACK) {
                    add(p, STACK);
                    now.push(p);
                }
            }
        });
        for &p in &prev {
            // SAFETY: still live: nothing was freed since the loop above.
            unsafe {
                if !has(p, STACK) {
                    if rc(p) == 0 {
                        self.push_zct(p);
                    } else if has(p, NEW | YOUNG) {
                        add(p, LEFT_STACK);
                    } else {
                        self.possible_root(p);
                    }
                }
            }
        }
        self.stacked = now;
        self.scratch2 = prev;
        self.scratch2.clear();
    }
}
