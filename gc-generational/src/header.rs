//! The header words: what `meta` and `aux` hold in this collector.
//!
//! `meta` is either a *forwarding word* or the object's *state word*,
//! told apart by its low two bits:
//!
//! * `..01` ([`FORWARDED`]): during a collection, the object has been
//!   copied and the rest of the word is the copy's address (objects are
//!   8-aligned, so the address's low bits are free). Only from-space
//!   objects carry one, and only until the collection ends.
//! * `..10` ([`GAP`]): not an object but free space in the old space,
//!   as long as the rest of the word says (see `src/old.rs`); only the
//!   old space's walks and its sweeper ever see one.
//! * `..00`: the state word: the age in minor collections survived
//!   (bits 2-5, [`AGE_MASK`]) and the flags [`OLD`], [`REMEMBERED`],
//!   [`LARGE`] and [`MARK`].
//!
//! `aux` holds the identity hash once one was asked for (0: none yet).
//! Copying moves the whole header, so both words travel with the object.
//!
//! The accessors here read and write the header of an object they are
//! given; their callers vouch that the object's memory is still allocated
//! (a live object, or a from-space object during the collection that is
//! emptying it).

use std::ptr::NonNull;
use std::sync::atomic::Ordering::Relaxed;

use gc_core::ObjPtr;
use gc_core::object::ObjHeader;

/// Low bits of a forwarding word.
pub(crate) const FORWARDED: u64 = 0b01;
/// Low bits of a gap word (free space in the old space, see `src/old.rs`).
pub(crate) const GAP: u64 = 0b10;
/// The bits that tell a forwarding word or a gap word from a state word.
pub(crate) const TAG: u64 = 0b11;
/// Where the age (minor collections survived) starts in a state word.
pub(crate) const AGE_SHIFT: u32 = 2;
/// The age bits of a state word.
pub(crate) const AGE_MASK: u64 = 0xF << AGE_SHIFT;
/// In the old generation (old space or large-object space).
pub(crate) const OLD: u64 = 1 << 6;
/// On the remembered set (an old object that may refer to young ones).
pub(crate) const REMEMBERED: u64 = 1 << 7;
/// A large object: allocated on its own, never copied.
pub(crate) const LARGE: u64 = 1 << 8;
/// Reached by the marking phase of the current major collection.
pub(crate) const MARK: u64 = 1 << 9;

/// The `meta` word of `p`.
///
/// # Safety
///
/// 1. `p` is an object of this collector whose memory is still allocated:
///    a live object, or a from-space object during the collection that is
///    emptying it.
#[inline]
pub(crate) unsafe fn meta(p: ObjPtr) -> u64 {
    // SAFETY: obligation 1: the header is allocated memory (only the
    // mutator's thread runs the collector, and `meta` is an atomic).
    unsafe { p.header() }.meta().load(Relaxed)
}

/// Sets the `meta` word of `p`.
///
/// # Safety
///
/// 1. As for [`meta`].
#[inline]
pub(crate) unsafe fn set_meta(p: ObjPtr, m: u64) {
    // SAFETY: obligation 1, as in `meta`.
    unsafe { p.header() }.meta().store(m, Relaxed)
}

/// Whether `p` is in the young generation (nursery or survivor space).
///
/// # Safety
///
/// 1. `p` is a live object of this collector, not forwarded (the bits of
///    a forwarding word are an address, not flags).
#[inline]
pub(crate) unsafe fn is_young(p: ObjPtr) -> bool {
    // SAFETY: obligation 1.
    (unsafe { meta(p) } & OLD) == 0
}

/// The copy a forwarding word `m` names, or `None` if `m` is a state word.
///
/// # Safety
///
/// 1. `m` was read from the `meta` word of an object of this collector
///    (so a forwarding word in it was written by
///    [`move_object`](crate::copy::move_object) and names a complete copy).
#[inline]
pub(crate) unsafe fn forwardee(m: u64) -> Option<ObjPtr> {
    (m & TAG == FORWARDED).then(|| {
        // SAFETY: obligation 1: the rest of the word is the address of
        // the copy, a non-null header written whole.
        unsafe {
            ObjPtr::from_raw(NonNull::new_unchecked(
                (m & !TAG) as usize as *mut ObjHeader,
            ))
        }
    })
}
