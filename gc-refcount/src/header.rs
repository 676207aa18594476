//! The collector's bits of an object header, and the list type that
//! indexes objects through them.
//!
//! * `meta` holds the reference count in its low 32 bits and, in its high
//!   32 bits, the object's position in the young set or the candidate
//!   buffer (an object is in at most one of them: [`YOUNG`] and
//!   [`BUFFERED`] say which).
//! * `aux` holds the Bacon-Rajan colour (the low two bits) and the flags
//!   below in its low 12 bits, and in its high 16 bits the **stamp**: the
//!   number of the last mutator epoch (the time between two safepoints) in
//!   which the mutator may have obtained the object without the barrier
//!   seeing it leave the heap's counted graph (module `dying` says why that
//!   matters). A free cell holds the slab's `FREE_MARK` there instead,
//!   whose low half has bits 12 to 15 set: no object's flags do.
//!
//! Both words are only touched by the mutator's thread (at safepoints and
//! in the barrier), so the accessors use relaxed atomics. Each accessor
//! dereferences the header, so each is `unsafe`: the caller must know the
//! object is still allocated. A count never exceeds [`MAX_COUNT`]
//! ([`count_overflow`] refuses more), which leaves room for the candidate
//! pass's one temporary extra count per object on the root stack.

use std::sync::atomic::Ordering::Relaxed;

use gc_core::ObjPtr;

/// The colour bits of `aux`.
pub(crate) const COLOR: u32 = 0b11;
/// Live (or not being examined).
pub(crate) const BLACK: u32 = 0;
/// Reached by the candidate pass's trial deletion.
pub(crate) const GRAY: u32 = 1;
/// Found garbage by a pass (until it is freed).
pub(crate) const WHITE: u32 = 2;
/// A candidate: possibly the root of a garbage cycle.
pub(crate) const PURPLE: u32 = 3;
/// In the candidate buffer (`meta` high bits index it).
pub(crate) const BUFFERED: u32 = 1 << 2;
/// In the young set (`meta` high bits index it).
pub(crate) const YOUNG: u32 = 1 << 3;
/// In the zero-count table.
pub(crate) const IN_ZCT: u32 = 1 << 4;
/// On the root stack at the current safepoint.
pub(crate) const STACK: u32 = 1 << 5;
/// Has weak handles.
pub(crate) const WEAK: u32 = 1 << 6;
/// Reached during the young pass.
pub(crate) const REACHED: u32 = 1 << 7;
/// Allocated since its first ZCT visit.
pub(crate) const NEW: u32 = 1 << 8;
/// Reached during the young pass only through objects the root stack
/// holds in the ZCT.
pub(crate) const VIA_ZCT: u32 = 1 << 9;
/// Left the root stack while new or young: if it is promoted, it becomes a
/// candidate (what it kept alive from the stack was never re-examined).
pub(crate) const LEFT_STACK: u32 = 1 << 10;

/// Dead, waiting in `State::dying` (or `State::partial`) to be
/// dismantled.
pub(crate) const DEAD: u32 = 1 << 11;
/// The flag and colour bits of `aux` (the rest is the stamp).
pub(crate) const FLAG_BITS: u32 = 0xFFF;
/// Where the stamp starts in `aux`.
const STAMP_SHIFT: u32 = 16;

/// The highest epoch a stamp holds; epochs run from 1 to this and wrap to
/// 1 (0, the stamp of a new object, is never current).
pub(crate) const MAX_EPOCH: u32 = (1 << (32 - STAMP_SHIFT)) - 1;

/// The stamp of a flags word (see the module docs).
#[inline(always)]
pub(crate) fn stamp_of(f: u32) -> u32 {
    f >> STAMP_SHIFT
}

/// `f` with its stamp set to `epoch` (below 2^16).
#[inline(always)]
pub(crate) fn with_stamp(f: u32, epoch: u32) -> u32 {
    (f & FLAG_BITS) | (epoch << STAMP_SHIFT)
}

const _: () = assert!(crate::slab::FREE_MARK & 0xF000 == 0xF000 && FLAG_BITS & 0xF000 == 0);

/// Highest count an object may reach through the barrier or a root.
pub(crate) const MAX_COUNT: u32 = u32::MAX - 2;

#[cold]
#[inline(never)]
pub(crate) fn count_overflow() -> ! {
    panic!("gc-refcount: reference count overflow (more than 2^32 - 1 references to one object)")
}

/// The reference count of `p`.
///
/// # Safety
///
/// 1. `p` is an object of this collector that has not been freed.
///
/// (The same obligation holds for every accessor of this module.)
#[inline]
pub(crate) unsafe fn rc(p: ObjPtr) -> u32 {
    // SAFETY: obligation 1: a live header.
    unsafe { p.header() }.meta().load(Relaxed) as u32
}

/// Sets the reference count of `p`.
///
/// # Safety
///
/// 1. As for [`rc`].
#[inline]
pub(crate) unsafe fn set_rc(p: ObjPtr, n: u32) {
    // SAFETY: obligation 1: a live header.
    let m = unsafe { p.header() }.meta();
    m.store((m.load(Relaxed) & !0xFFFF_FFFF) | u64::from(n), Relaxed)
}

/// The position of `p` in the young set or the candidate buffer.
///
/// # Safety
///
/// 1. As for [`rc`].
#[inline]
pub(crate) unsafe fn index(p: ObjPtr) -> usize {
    // SAFETY: obligation 1: a live header.
    (unsafe { p.header() }.meta().load(Relaxed) >> 32) as usize
}

/// Sets the position of `p` in the young set or the candidate buffer.
///
/// # Safety
///
/// 1. As for [`rc`].
#[inline]
pub(crate) unsafe fn set_index(p: ObjPtr, i: usize) {
    // SAFETY: obligation 1: a live header.
    let m = unsafe { p.header() }.meta();
    m.store(
        (m.load(Relaxed) & 0xFFFF_FFFF) | ((i as u64) << 32),
        Relaxed,
    )
}

/// The colour and flags of `p`.
///
/// # Safety
///
/// 1. As for [`rc`].
#[inline]
pub(crate) unsafe fn flags(p: ObjPtr) -> u32 {
    // SAFETY: obligation 1: a live header.
    unsafe { p.header() }.aux().load(Relaxed)
}

/// Sets the colour and flags of `p`.
///
/// # Safety
///
/// 1. As for [`rc`].
#[inline]
pub(crate) unsafe fn set_flags(p: ObjPtr, f: u32) {
    // SAFETY: obligation 1: a live header.
    unsafe { p.header() }.aux().store(f, Relaxed)
}

/// Whether `p` has any of the flags `f`.
///
/// # Safety
///
/// 1. As for [`rc`].
#[inline]
pub(crate) unsafe fn has(p: ObjPtr, f: u32) -> bool {
    // SAFETY: obligation 1.
    unsafe { flags(p) & f != 0 }
}

/// Sets the flags `f` of `p`.
///
/// # Safety
///
/// 1. As for [`rc`].
#[inline]
pub(crate) unsafe fn add(p: ObjPtr, f: u32) {
    // SAFETY: obligation 1.
    unsafe { set_flags(p, flags(p) | f) }
}

/// Clears the flags `f` of `p`.
///
/// # Safety
///
/// 1. As for [`rc`].
#[inline]
pub(crate) unsafe fn remove(p: ObjPtr, f: u32) {
    // SAFETY: obligation 1.
    unsafe { set_flags(p, flags(p) & !f) }
}

/// The colour of `p`.
///
/// # Safety
///
/// 1. As for [`rc`].
#[inline]
pub(crate) unsafe fn color(p: ObjPtr) -> u32 {
    // SAFETY: obligation 1.
    unsafe { flags(p) & COLOR }
}

/// Sets the colour of `p`.
///
/// # Safety
///
/// 1. As for [`rc`].
#[inline]
pub(crate) unsafe fn set_color(p: ObjPtr, c: u32) {
    // SAFETY: obligation 1.
    unsafe { set_flags(p, (flags(p) & !COLOR) | c) }
}

/// Whether `p` has slots (an object without any can be in no cycle).
///
/// # Safety
///
/// 1. As for [`rc`].
#[inline]
pub(crate) unsafe fn has_slots(p: ObjPtr) -> bool {
    // SAFETY: obligation 1: a live header.
    !unsafe { p.header() }.is_empty()
}

/// Calls `f` on every reference in the slots of `p` (with the slot index).
///
/// # Safety
///
/// 1. As for [`rc`].
#[inline]
pub(crate) unsafe fn for_each_child(p: ObjPtr, f: impl FnMut(usize, ObjPtr)) {
    // SAFETY: obligation 1: a live object's slots.
    unsafe { p.for_each_ref(f) }
}

/// A list whose members record their position in the header (`meta` high
/// bits), so membership can end in O(1) when a member is freed. Code that
/// takes the vector out (a pass over the whole list) rebuilds the
/// positions of whatever it puts back, through `push`.
#[derive(Default)]
pub(crate) struct IndexedList(pub(crate) Vec<ObjPtr>);

impl IndexedList {
    /// Appends `p`.
    ///
    /// # Safety
    ///
    /// 1. `p` is an object of this collector that has not been freed, in
    ///    no indexed list.
    pub(crate) unsafe fn push(&mut self, p: ObjPtr) {
        // SAFETY: obligation 1.
        unsafe { set_index(p, self.0.len()) };
        self.0.push(p);
    }

    /// Removes `p`, moving the last member into its place.
    ///
    /// # Safety
    ///
    /// 1. `p` is a member of this list, not freed yet (so is every other
    ///    member).
    pub(crate) unsafe fn remove(&mut self, p: ObjPtr) {
        // SAFETY: obligation 1.
        let i = unsafe { index(p) };
        debug_assert_eq!(self.0[i], p);
        self.0.swap_remove(i);
        if let Some(&moved) = self.0.get(i) {
            // SAFETY: obligation 1: members are live.
            unsafe { set_index(moved, i) };
        }
    }
}
