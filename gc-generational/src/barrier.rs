//! The write barrier: the remembered set it fills, and the deletion
//! barrier of the major cycle's marking.
//!
//! A minor collection scans the roots and the *remembered set*: the old
//! objects that may refer to young ones. The invariant, checked by the
//! verifier after every collection: every old object that refers to a
//! young one is flagged `REMEMBERED` and is on `State::remembered`,
//! exactly once (the flag guards the push). The barrier keeps it for
//! stores into old objects; allocation keeps it for objects born old with
//! young references; the minor collection keeps it for objects it
//! promotes or leaves referring to young copies.
//!
//! The set has object granularity, except for large objects (never
//! moved, at least `large_object_bytes`), which are *carded*: a remembered
//! large object also has a bitmap in `State::cards`, one bit per
//! [`CARD_SLOTS`] slots, and the invariant is per card: every slot of a
//! large old object that refers to a young one lies in a dirty card. The
//! barrier dirties the card of each young store into a large object (so,
//! unlike for small objects, such a store takes the slow path even when
//! the object is remembered already); [`State::remember`] without a slot
//! (allocation) dirties every card; a minor collection scans only the
//! dirty cards and cleans those left without young references. Without
//! cards, every minor collection would read every slot of a remembered
//! table: about 1 ms for the 200,000-slot table of `gcbench --workload
//! window`.
//!
//! While a major cycle marks, a store into an old object first shades the
//! object its slot held (Yuasa's snapshot-at-the-beginning barrier; why
//! that is enough is argued in `src/major.rs`). Stores into young objects
//! need no shading: the survivors' old references were shaded when the
//! cycle started, and every other young object is newer than the
//! snapshot.

use gc_core::{ObjPtr, RawValue};

use crate::header::{LARGE, OLD, REMEMBERED, is_young, meta, set_meta};
use crate::{Generational, State};

/// Slots per card of a large object (2 KiB of slots).
pub(crate) const CARD_SLOTS: usize = 256;

impl Generational {
    /// Stores `value` into slot `index` of `obj`: while a major cycle
    /// marks, first shades the object the slot held if `obj` is old (the
    /// deletion barrier); after the store, if `obj` is old and `value` is
    /// a young object, remembers `obj` (unless it is remembered already)
    /// and, for a large `obj`, dirties the card of slot `index`.
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
        if let Some(v) = value.as_ptr() {
            // SAFETY: obligation 1: `obj` is a live object.
            let m = unsafe { meta(obj) };
            // A remembered small object needs nothing more; a large one
            // needs the store's card dirtied.
            if m & OLD != 0
                && m & (REMEMBERED | LARGE) != REMEMBERED
                // SAFETY: obligation 1: `v` is a live object.
                && unsafe { is_young(v) }
            {
                // SAFETY: `obj` is a live old object; `index` is in
                // bounds (obligation 1).
                unsafe { st.remember_slot(obj, index) };
            }
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

    /// Puts the old object `p` on the remembered set, unless it is on it;
    /// a large one with every card dirty.
    ///
    /// # Safety
    ///
    /// 1. `p` is a live old object of this heap (not forwarded).
    #[inline]
    pub(crate) unsafe fn remember(&mut self, p: ObjPtr) {
        // SAFETY: obligation 1.
        let m = unsafe { meta(p) };
        if m & LARGE != 0 {
            // SAFETY: obligation 1.
            let cards = self.cards_of(p, unsafe { p.slots() }.len());
            cards.fill(!0);
        }
        // SAFETY: obligation 1.
        unsafe { self.enlist(p, m) };
    }

    /// Remembers the old object `p` for a young reference stored in its
    /// slot `index`: for a large object, dirties that slot's card.
    ///
    /// # Safety
    ///
    /// 1. `p` is a live old object of this heap and `index` is in bounds.
    #[cold]
    #[inline(never)]
    unsafe fn remember_slot(&mut self, p: ObjPtr, index: usize) {
        // SAFETY: obligation 1.
        let m = unsafe { meta(p) };
        if m & LARGE != 0 {
            // SAFETY: obligation 1.
            let cards = self.cards_of(p, unsafe { p.slots() }.len());
            let c = index / CARD_SLOTS;
            cards[c / 64] |= 1 << (c % 64);
        }
        // SAFETY: obligation 1.
        unsafe { self.enlist(p, m) };
    }

    /// The card bitmap of the large object `p` with `slots` slots (made
    /// clean if it has none).
    fn cards_of(&mut self, p: ObjPtr, slots: usize) -> &mut Vec<u64> {
        self.cards
            .entry(p)
            .or_insert_with(|| vec![0; slots.div_ceil(CARD_SLOTS).div_ceil(64)])
    }

    /// Flags `p` (whose meta word is `m`) and pushes it onto the
    /// remembered set, unless it is flagged already.
    ///
    /// # Safety
    ///
    /// 1. `p` is a live old object of this heap (not forwarded).
    #[inline]
    pub(crate) unsafe fn enlist(&mut self, p: ObjPtr, m: u64) {
        if m & REMEMBERED == 0 {
            // SAFETY: obligation 1.
            unsafe { set_meta(p, m | REMEMBERED) };
            self.remembered.push(p);
        }
    }
}
