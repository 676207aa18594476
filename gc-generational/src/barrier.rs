//! The write barrier: the remembered set it fills, and the deletion
//! barrier of the major cycle's marking.
//!
//! A minor collection scans the roots and the *remembered set*: the old
//! objects that may refer to young ones (an object-granularity card
//! table). The invariant, checked by the verifier after every collection:
//! every old object that refers to a young one is flagged `REMEMBERED`
//! and is on `State::remembered`, exactly once (the flag guards the
//! push). The barrier keeps it for stores into old objects; allocation
//! keeps it for objects born old with young references; the minor
//! collection keeps it for objects it promotes or leaves referring to
//! young copies.
//!
//! While a major cycle marks, a store into an old object first shades the
//! object its slot held (Yuasa's snapshot-at-the-beginning barrier; why
//! that is enough is argued in `src/major.rs`). Stores into young objects
//! need no shading: the survivors' old references were shaded when the
//! cycle started, and every other young object is newer than the
//! snapshot.

use gc_core::{ObjPtr, RawValue};

use crate::header::{OLD, REMEMBERED, is_young, meta, set_meta};
use crate::{Generational, State};

impl Generational {
    /// Stores `value` into slot `index` of `obj`: while a major cycle
    /// marks, first shades the object the slot held if `obj` is old (the
    /// deletion barrier); after the store, remembers `obj` if it is old,
    /// not yet remembered, and `value` is a young object.
    ///
    /// # Safety
    ///
    /// 1. As for [`Collector::write_slot`](gc_core::Collector::write_slot):
    ///    `obj` is a live object of this heap, `index` is in bounds, and a
    ///    reference in `value` names a live object of this heap.
    #[inline(always)]
    pub(crate) unsafe fn barriered_store(&self, obj: ObjPtr, index: usize, value: RawValue) {
        let st = self.st();
        if st.marking {
            // SAFETY: obligation 1, passed on.
            unsafe { st.shade_overwritten(obj, index) };
        }
        // SAFETY: obligation 1: a live object and an index in bounds.
        unsafe { obj.store_slot(index, value) };
        if let Some(v) = value.as_ptr()
            // SAFETY: obligation 1: `obj` and `v` are live objects.
            && unsafe { meta(obj) & (OLD | REMEMBERED) == OLD && is_young(v) }
        {
            // SAFETY: `obj` is a live old object.
            unsafe { st.remember(obj) };
        }
    }
}

impl State {
    /// The deletion barrier: shades what slot `index` of `obj` holds, if
    /// `obj` is old (out of line: it runs only while a cycle marks).
    ///
    /// # Safety
    ///
    /// 1. `obj` is a live object of this heap and `index` is in bounds.
    #[cold]
    #[inline(never)]
    unsafe fn shade_overwritten(&mut self, obj: ObjPtr, index: usize) {
        // SAFETY: obligation 1: a live object and an index in bounds; the
        // slot names a live object (or none).
        unsafe {
            if meta(obj) & OLD != 0
                && let Some(old) = obj.load_slot(index).as_ptr()
            {
                self.shade(old);
            }
        }
    }

    /// Puts the old object `p` on the remembered set, unless it is on it.
    ///
    /// # Safety
    ///
    /// 1. `p` is a live old object of this heap (not forwarded).
    #[inline]
    pub(crate) unsafe fn remember(&mut self, p: ObjPtr) {
        // SAFETY: obligation 1.
        let m = unsafe { meta(p) };
        if m & REMEMBERED == 0 {
            // SAFETY: obligation 1.
            unsafe { set_meta(p, m | REMEMBERED) };
            self.remembered.push(p);
        }
    }
}
