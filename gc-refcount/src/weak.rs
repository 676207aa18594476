//! Weak handles: a side table from objects to their weak entries.
//!
//! An object with weak entries is flagged `WEAK` and has its entry indices
//! in `State::weak`. When [`State::release`] frees it, its indices move to
//! `State::dead_weak`, and [`State::clear_dead_weak`] clears those entries
//! at the end of the same safepoint, before any allocation can reuse the
//! cell. The heap verifier checks that every uncleared weak entry is in
//! the table.

use gc_core::{ObjPtr, Safepoint};

use crate::State;
use crate::header::{WEAK, add, remove};

impl State {
    /// Records the weak entry `index` of `obj`.
    ///
    /// # Safety
    ///
    /// 1. `obj` is a live object of this collector.
    pub(crate) unsafe fn weak_added(&mut self, index: u32, obj: ObjPtr) {
        // SAFETY: obligation 1.
        unsafe { add(obj, WEAK) };
        self.weak.entry(obj).or_default().push(index);
    }

    /// Forgets the weak entry `index` of `obj`.
    ///
    /// # Safety
    ///
    /// 1. `obj` is a live object of this collector.
    pub(crate) unsafe fn weak_removed(&mut self, index: u32, obj: ObjPtr) {
        if let Some(v) = self.weak.get_mut(&obj) {
            v.retain(|&i| i != index);
            if v.is_empty() {
                self.weak.remove(&obj);
                // SAFETY: obligation 1.
                unsafe { remove(obj, WEAK) };
            }
        }
    }

    /// Clears the weak entries of the objects freed in this safepoint.
    pub(crate) fn clear_dead_weak(&mut self, sp: &mut Safepoint<'_>) {
        for i in self.dead_weak.drain(..) {
            if let Some(t) = sp.weak_mut(i) {
                *t = None;
            }
        }
    }
}
