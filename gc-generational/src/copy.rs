//! Moving one object: the copy both collections make.
//!
//! A minor collection copies young objects to the survivor to-space or
//! the old space; a major collection copies every marked small object into
//! a fresh old space. Both copy the whole object (header included, so the
//! identity hash in `aux` moves with it), give the copy its new state word
//! and leave a forwarding word in the original, which is how every later
//! reference to the original finds the copy (see [`crate::header`]).
//!
//! A copy never fails: a collection cannot stop half-way (the heap would
//! be left with some references to originals and some to copies), so a
//! to-space chunk the system refuses aborts the process.

use std::ptr::NonNull;

use gc_core::ObjPtr;

use crate::header::{FORWARDED, set_meta};

/// Copies the complete object `p` (`size` bytes) into `mem`, gives the
/// copy the state word `new_meta` and leaves a forwarding word in `p`.
/// `mem` is `None` when the to-space could not grow: the process aborts.
///
/// # Safety
///
/// 1. `p` is a complete object of this collector, `size` bytes long, whose
///    memory stays allocated until the collection ends.
/// 2. `mem`, if `Some`, is fresh memory of `size` bytes, 8-aligned, that
///    does not overlap `p`.
#[inline]
pub(crate) unsafe fn move_object(
    p: ObjPtr,
    size: usize,
    mem: Option<NonNull<u8>>,
    new_meta: u64,
) -> ObjPtr {
    let mem = mem.unwrap_or_else(|| copy_space_exhausted(size));
    // SAFETY: obligations 1 and 2: `size` readable bytes at `p`, `size`
    // writable bytes at `mem`, disjoint; nothing else is writing either (a
    // collection runs at a safepoint, on the mutator's thread).
    unsafe { std::ptr::copy_nonoverlapping(p.as_raw().as_ptr().cast::<u8>(), mem.as_ptr(), size) };
    // SAFETY: the copy is a complete object.
    let to = unsafe { ObjPtr::from_raw(mem.cast()) };
    // SAFETY: `to` is the fresh copy and `p` is allocated (obligation 1).
    unsafe {
        set_meta(to, new_meta);
        set_meta(p, to.addr() as u64 | FORWARDED);
    }
    to
}

#[cold]
#[inline(never)]
fn copy_space_exhausted(size: usize) -> ! {
    // The system allocator refused a to-space chunk in the middle of a
    // copy: the heap cannot be left half-copied (obligation 9), and there
    // is no memory to unwind with.
    eprintln!("gc-generational: out of system memory for a {size}-byte copy during collection");
    std::process::abort()
}
