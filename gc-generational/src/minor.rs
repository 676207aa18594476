//! The minor collection: Cheney copying of the young generation, with
//! copy chains, and the pretenuring decision it feeds.
//!
//! See the crate docs ("Minor collection", "Copy order", "Pretenuring")
//! for the algorithm. The invariants this file keeps:
//!
//! * During a minor collection, a young object is in a from-space (the
//!   nursery or the survivor from-space, listed in `young_ranges`) until
//!   it is forwarded, and the from-spaces hold nothing else; so whether a
//!   reference must be forwarded is decided by its address alone, without
//!   touching the object it names ([`State::in_from_space`]).
//! * Every object copied is scanned exactly once, by the Cheney cursor of
//!   the survivor to-space or from the queue of promoted copies; a slot
//!   rewritten by a copy chain no longer points into a from-space, so the
//!   scan skips it, and the chain remembers an old parent on the spot.
//! * When the collection ends, every old object that refers to a young one
//!   is on the remembered set, the nursery and the survivor from-space are
//!   empty, and the to-space has become the survivor space.

use std::sync::atomic::Ordering::Relaxed;

use gc_core::{ObjPtr, RawValue, Safepoint};

use crate::State;
use crate::barrier::CARD_SLOTS;
use crate::copy::move_object;
use crate::header::{AGE_MASK, AGE_SHIFT, REMEMBERED, forwardee, is_young, meta, set_meta};
use crate::pacer::{PRETENURE_STREAK, PRETENURE_SURVIVAL};

/// How many slots of a just-copied object are searched for a child to
/// copy right behind it, and how long such a chain may get.
const EAGER_SLOTS: usize = 8;
const EAGER_CHAIN: usize = 64;

impl State {
    /// Copies a young object out of the nursery or survivor from-space
    /// (minor collection) and leaves a forwarding address; then copies a
    /// chain of first children right behind it (see "Copy order").
    ///
    /// # Safety
    ///
    /// 1. A minor collection is running and `p` lies in one of its
    ///    from-spaces ([`State::in_from_space`]).
    #[inline]
    unsafe fn forward_minor(&mut self, p: ObjPtr) -> ObjPtr {
        // SAFETY: obligation 1: a from-space object, allocated until the
        // collection ends; a forwarding word in it was written by
        // `move_object`.
        let m = unsafe { meta(p) };
        // SAFETY: `m` is `p`'s meta word.
        if let Some(to) = unsafe { forwardee(m) } {
            return to;
        }
        // SAFETY: `p` is a from-space object that is not forwarded yet.
        let to = unsafe { self.copy_minor(p, m) };
        let mut x = to;
        for _ in 0..EAGER_CHAIN {
            // SAFETY: `x` is a complete copy in a to-space.
            let slots = unsafe { x.slots() };
            let next = slots.iter().take(EAGER_SLOTS).find_map(|s| {
                let c = RawValue::from_bits(s.load(Relaxed)).as_ptr()?;
                // SAFETY: `c` is in a from-space (checked first), so
                // allocated, and its meta word is read from it.
                (self.in_from_space(c) && unsafe { forwardee(meta(c)) }.is_none()).then_some((s, c))
            });
            let Some((slot, c)) = next else { break };
            // SAFETY: `c` is a from-space object that is not forwarded.
            let cto = unsafe { self.copy_minor(c, meta(c)) };
            slot.store(RawValue::from_ptr(cto).to_bits(), Relaxed);
            // The scan skips slots that no longer point into a from-space,
            // so an old object left referring to a young one is
            // remembered here.
            // SAFETY: `x` and `cto` are complete copies; `x` is old when
            // `remember` is called.
            unsafe {
                if !is_young(x) && is_young(cto) {
                    self.remember(x);
                }
            }
            x = cto;
        }
        to
    }

    /// The copy half of `forward_minor`: copies `p`, whose state word is
    /// `m`, to the survivor to-space, or to the old space once it is old
    /// enough (or when the collection promotes everything), born black if
    /// a major cycle is marking, and queued for the old-space scan.
    ///
    /// # Safety
    ///
    /// 1. A minor collection is running, `p` lies in one of its
    ///    from-spaces and is not forwarded, and `m` is its meta word.
    #[inline]
    unsafe fn copy_minor(&mut self, p: ObjPtr, m: u64) -> ObjPtr {
        // SAFETY: obligation 1: a young object with a normal header is a
        // complete object.
        let size = unsafe { p.size() };
        let age = ((m & AGE_MASK) >> AGE_SHIFT) + 1;
        if age >= self.promotion_age || self.promote_all {
            self.promoted += size as u64;
            self.old_debt += size;
            let new_meta = self.born_old();
            if self.marking {
                self.marked += size;
            }
            // SAFETY: `p` is complete and stays allocated until its
            // from-space is reset at the end of the collection; the memory
            // is fresh old space.
            let to = unsafe { move_object(p, size, self.old.alloc(size, false), new_meta) };
            self.promoted_queue.push(to);
            to
        } else {
            let mem = self.survivors_to.alloc(size);
            // SAFETY: as above; the memory is fresh survivor to-space.
            unsafe { move_object(p, size, mem, age << AGE_SHIFT) }
        }
    }

    /// Whether `p` lies in a from-space of the current minor collection
    /// (decided by address, so that scanning an old object's slots does
    /// not touch the old objects they refer to: a remembered 100,000-slot
    /// table would otherwise cost 100,000 cache misses per minor).
    #[inline]
    fn in_from_space(&self, p: ObjPtr) -> bool {
        let a = p.addr();
        self.young_ranges.iter().any(|&(s, e)| a >= s && a < e)
    }

    /// Forwards every young reference in `obj`'s slots; returns whether a
    /// young reference remains (the object must then be remembered if old).
    ///
    /// # Safety
    ///
    /// 1. A minor collection is running and `obj` is a complete object
    ///    outside its from-spaces (a copy, or an old object), whose
    ///    references name objects of this heap.
    #[inline]
    unsafe fn scan_minor(&mut self, obj: ObjPtr) -> bool {
        // SAFETY: obligation 1, passed on.
        unsafe { self.scan_minor_range(obj, 0, usize::MAX) }
    }

    /// [`scan_minor`](Self::scan_minor) for slots `from..to` of `obj`
    /// (`to` clamped to its length).
    ///
    /// # Safety
    ///
    /// 1. As for [`scan_minor`](Self::scan_minor).
    #[inline]
    unsafe fn scan_minor_range(&mut self, obj: ObjPtr, from: usize, to: usize) -> bool {
        let mut young_left = false;
        // SAFETY: obligation 1: `obj` is a live (copied or old) object.
        let slots = unsafe { obj.slots() };
        for s in &slots[from.min(slots.len())..to.min(slots.len())] {
            let v = RawValue::from_bits(s.load(Relaxed));
            if let Some(c) = v.as_ptr() {
                if !self.in_from_space(c) {
                    // Old or large: every young object is in a from-space
                    // until it is forwarded, and a slot is scanned once.
                    continue;
                }
                // SAFETY: `c` is in a from-space (checked above).
                let to = unsafe { self.forward_minor(c) };
                s.store(RawValue::from_ptr(to).to_bits(), Relaxed);
                // SAFETY: `to` is a complete copy.
                young_left |= unsafe { is_young(to) };
            }
        }
        young_left
    }

    /// A minor collection: copies every young object reachable from the
    /// roots and the remembered set out of the nursery and the survivor
    /// from-space. Returns the objects visited, the size of the remembered
    /// set it started from and the bytes it freed.
    pub(crate) fn minor(&mut self, sp: &mut Safepoint<'_>) -> (u64, u64, usize) {
        let young_before = self.nursery.used() + self.survivors.used();
        let promoted_before = self.promoted;
        let surv_before = self.survivors_to.used();
        let mut ranges = std::mem::take(&mut self.young_ranges);
        ranges.clear();
        self.nursery.ranges(&mut ranges);
        self.survivors.ranges(&mut ranges);
        self.young_ranges = ranges;
        let mut surv_cursor = self.survivors_to.cursor_at_end();
        // Take the remembered set first: copying (roots included) may
        // remember new objects (see "Copy order"), which belong to the
        // next cycle's set.
        let remembered = std::mem::take(&mut self.remembered);
        for &o in &remembered {
            // SAFETY: the remembered set holds live old objects.
            unsafe { set_meta(o, meta(o) & !REMEMBERED) };
        }
        sp.for_each_root(|p| {
            if self.in_from_space(*p) {
                // SAFETY: `*p` is in a from-space (checked).
                *p = unsafe { self.forward_minor(*p) };
            }
        });
        let mut visited = remembered.len() as u64;
        for &o in &remembered {
            if let Some(mut cards) = self.cards.remove(&o) {
                // A large object: only its dirty cards, and it stays
                // remembered with those that still refer to young objects.
                let mut left = false;
                for (w, word) in cards.iter_mut().enumerate() {
                    let mut bits = *word;
                    while bits != 0 {
                        let c = w * 64 + bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        let from = c * CARD_SLOTS;
                        // SAFETY: as below.
                        if !unsafe { self.scan_minor_range(o, from, from + CARD_SLOTS) } {
                            *word &= !(1 << (c % 64));
                        }
                    }
                    left |= *word != 0;
                }
                if left {
                    // SAFETY: a live old object whose flag was cleared
                    // above; its cards go back with it.
                    unsafe { self.enlist(o, meta(o)) };
                    self.cards.insert(o, cards);
                }
                continue;
            }
            // SAFETY: a live old object (outside the from-spaces), whose
            // `REMEMBERED` flag was cleared above.
            unsafe {
                if self.scan_minor(o) {
                    self.remember(o);
                }
            }
        }
        loop {
            let mut progress = false;
            // SAFETY: the cursor is the to-space's, made above; every
            // allocation in it since is a whole copy (`move_object`).
            while let Some(o) = unsafe { surv_cursor.next(&self.survivors_to) } {
                // SAFETY: a complete copy.
                unsafe { self.scan_minor(o) };
                visited += 1;
                progress = true;
            }
            // The promoted copies: the old space is not appended to in
            // order (promotion fills holes), so they are queued instead.
            while let Some(o) = self.promoted_queue.pop() {
                // SAFETY: a complete copy, old (promoted).
                unsafe {
                    if self.scan_minor(o) {
                        self.remember(o);
                    }
                }
                visited += 1;
                progress = true;
            }
            if !progress {
                break;
            }
        }
        sp.for_each_weak(|_, t| {
            if let Some(p) = *t
                && self.in_from_space(p)
            {
                // SAFETY: a from-space object: its meta word is the
                // forwarding word of its copy, or it died.
                *t = unsafe { forwardee(meta(p)) };
            }
        });
        let copied =
            (self.promoted - promoted_before) as usize + self.survivors_to.used() - surv_before;
        self.nursery.reset();
        self.survivors.reset();
        std::mem::swap(&mut self.survivors, &mut self.survivors_to);
        self.settle();
        self.measure_survival(young_before, copied);
        (visited, remembered.len() as u64, young_before - copied)
    }

    /// The pretenuring decision after a minor collection that found
    /// `young_before` bytes young and copied `copied` of them: a streak of
    /// high-survival collections switches allocation to the old space
    /// (see "Pretenuring").
    fn measure_survival(&mut self, young_before: usize, copied: usize) {
        if young_before >= self.nursery_bytes / 2
            && copied as f64 >= PRETENURE_SURVIVAL * young_before as f64
        {
            self.high_survival += 1;
            self.pretenure = self.high_survival >= PRETENURE_STREAK;
        } else {
            self.high_survival = 0;
        }
    }
}
