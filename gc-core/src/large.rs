//! Large objects: one system allocation each.
//!
//! Objects too big for a backend's pages or spaces get an allocation of
//! their own from the global allocator, 8-aligned and at an address that
//! values can box ([`crate::object::addressable`]). Every backend that does
//! this allocates and frees them through these two functions, so the
//! layout is written once.

use std::alloc::Layout;
use std::ptr::NonNull;

use crate::object::addressable;

/// The layout of a large object of `size` bytes.
fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).expect("object sizes are valid layouts")
}

/// Memory for a large object of `size` bytes (at most `isize::MAX`, as
/// every size from [`crate::object::object_size`] is), 8-aligned and
/// addressable; `None` if `size` is zero or the system refuses.
pub fn alloc(size: usize) -> Option<NonNull<u8>> {
    if size == 0 {
        return None;
    }
    // SAFETY: the layout has a non-zero size.
    let mem = NonNull::new(unsafe { std::alloc::alloc(layout(size)) })?;
    if !addressable(mem.as_ptr() as usize, size) {
        // SAFETY: just allocated with this layout; never handed out.
        unsafe { std::alloc::dealloc(mem.as_ptr(), layout(size)) };
        return None;
    }
    Some(mem)
}

/// Returns a large object's memory to the system.
///
/// # Safety
///
/// 1. `mem` came from [`alloc`] with this `size` and was not freed since.
/// 2. Nothing uses the memory afterwards.
pub unsafe fn free(mem: NonNull<u8>, size: usize) {
    // SAFETY: obligation 1: allocated with this layout.
    unsafe { std::alloc::dealloc(mem.as_ptr(), layout(size)) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn alloc_and_free() {
        assert!(super::alloc(0).is_none());
        let m = super::alloc(100_000).unwrap();
        assert_eq!(m.as_ptr() as usize % 8, 0);
        // SAFETY: allocated just above with this size.
        unsafe { super::free(m, 100_000) };
    }
}
