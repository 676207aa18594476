//! Bump-allocated spaces made of chunks, and the cursors Cheney scans with.
//!
//! A [`Space`] is a list of chunks obtained from the global allocator; it
//! allocates by bumping a pointer in its last chunk and starts a new chunk
//! when an object does not fit (the unused tail of the old chunk is
//! recorded, so walking a chunk stops exactly at its last object). A
//! [`Cursor`] walks the objects of a space in allocation order and can be
//! resumed after more objects are appended: that is Cheney's scan pointer,
//! generalised to a chunked to-space.
//!
//! A space hands out memory; it does not know what is written there. The
//! walks ([`Cursor::next`], [`Space::for_each_object`]) read each object's
//! header to find the next one, so they are `unsafe`: they rely on every
//! byte handed out holding a complete object, laid end to end, which the
//! collector keeps by writing an object (`ObjPtr::init` or a whole copy)
//! into every allocation at once. The module is private to the crate for
//! the same reason.
//!
//! When the space has no chunk, its bump pointer and limit are
//! [`NO_CHUNK`], a non-null address in no chunk: every non-empty
//! allocation then takes the slow path, and the pointer handed out is
//! never null.

use std::alloc::{Layout, alloc, dealloc};
use std::ptr::NonNull;

use gc_core::ObjPtr;

/// The bump pointer, limit and base of a space without a chunk: non-null
/// and 8-aligned (a dangling address, like `NonNull::dangling`), so that
/// `Space::alloc` never builds a null pointer.
pub(crate) const NO_CHUNK: usize = 8;

pub(crate) struct Chunk {
    start: NonNull<u8>,
    pub(crate) cap: usize,
    /// Bytes used; for the last chunk of a space, `Space::cur` is the
    /// authority while it is being bumped.
    pub(crate) used: usize,
}

impl Chunk {
    /// A fresh chunk of `cap` bytes, 16-aligned and addressable by a
    /// value; `None` if the system refuses.
    pub(crate) fn new(cap: usize) -> Option<Chunk> {
        if cap == 0 {
            return None;
        }
        let layout = Layout::from_size_align(cap, 16).ok()?;
        // SAFETY: `cap` is non-zero (checked above).
        let start = NonNull::new(unsafe { alloc(layout) })?;
        if !gc_core::object::addressable(start.as_ptr() as usize, cap) {
            // SAFETY: just allocated with this layout; never handed out.
            unsafe { dealloc(start.as_ptr(), layout) };
            return None;
        }
        Some(Chunk {
            start,
            cap,
            used: 0,
        })
    }

    /// The chunk's start address.
    pub(crate) fn addr(&self) -> usize {
        self.start.as_ptr() as usize
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // SAFETY: allocated in `Chunk::new` with this layout.
        unsafe {
            dealloc(
                self.start.as_ptr(),
                Layout::from_size_align_unchecked(self.cap, 16),
            )
        }
    }
}

/// A chunked bump-allocated space.
pub(crate) struct Space {
    chunks: Vec<Chunk>,
    /// Empty standard-size chunks kept for reuse.
    spare: Vec<Chunk>,
    /// Most chunks `reset` keeps (in use or spare).
    keep: usize,
    chunk_size: usize,
    /// Bump pointer and limit in the last chunk ([`NO_CHUNK`] when there
    /// is none).
    cur: usize,
    end: usize,
    /// Start of the last chunk ([`NO_CHUNK`] when there is none).
    base: usize,
    /// Bytes used in all chunks but the last.
    full_bytes: usize,
}

impl Space {
    /// An empty space whose chunks are `chunk_size` bytes (or bigger, for
    /// an object that needs more); `reset` keeps up to `keep` of them for
    /// reuse, so that a space that is filled and emptied again and again
    /// does not fault its memory in every time.
    pub(crate) fn new(chunk_size: usize, keep: usize) -> Space {
        Space {
            chunks: Vec::new(),
            spare: Vec::new(),
            keep: keep.max(1),
            chunk_size,
            cur: NO_CHUNK,
            end: NO_CHUNK,
            base: NO_CHUNK,
            full_bytes: 0,
        }
    }

    /// Bump allocation of `size` bytes, 8-aligned if every earlier `size`
    /// was a multiple of 8; `None` if the system refuses a chunk.
    ///
    /// `size` must not be 0 (objects have a header): debug builds assert
    /// it; in release builds a zero-byte request gets a non-null pointer
    /// valid for no bytes.
    #[inline(always)]
    pub(crate) fn alloc(&mut self, size: usize) -> Option<NonNull<u8>> {
        debug_assert!(size > 0, "zero-byte allocation from a space");
        if self.end - self.cur >= size {
            let p = self.cur;
            self.cur += size;
            // SAFETY: `cur` lies inside (or one past) a live chunk, or is
            // NO_CHUNK: either way non-null.
            return Some(unsafe { NonNull::new_unchecked(p as *mut u8) });
        }
        self.alloc_slow(size)
    }

    #[cold]
    #[inline(never)]
    fn alloc_slow(&mut self, size: usize) -> Option<NonNull<u8>> {
        // Get the chunk first: if the system refuses, the space is
        // unchanged (sealing first would count the last chunk twice).
        let chunk = match self.spare.pop() {
            Some(c) if c.cap >= size => c,
            other => {
                if let Some(c) = other {
                    self.spare.push(c);
                }
                Chunk::new(self.chunk_size.max(size))?
            }
        };
        self.seal();
        self.cur = chunk.addr();
        self.base = chunk.addr();
        self.end = chunk.addr() + chunk.cap;
        self.chunks.push(chunk);
        self.alloc(size)
    }

    /// Records the last chunk's use before a new chunk is started.
    fn seal(&mut self) {
        if let Some(last) = self.chunks.last_mut() {
            last.used = self.cur - last.addr();
            self.full_bytes += last.used;
        }
    }

    /// Bytes of objects in the space.
    #[inline]
    pub(crate) fn used(&self) -> usize {
        self.full_bytes + (self.cur - self.base)
    }

    /// Empties the space, keeping up to `keep` standard-size chunks for
    /// reuse and returning the others to the system.
    pub(crate) fn reset(&mut self) {
        let size = self.chunk_size;
        for mut c in self.chunks.drain(..) {
            if c.cap == size && self.spare.len() < self.keep {
                c.used = 0;
                self.spare.push(c);
            }
        }
        self.full_bytes = 0;
        self.cur = NO_CHUNK;
        self.base = NO_CHUNK;
        self.end = NO_CHUNK;
    }

    /// Appends the address ranges of the space's chunks to `out`.
    pub(crate) fn ranges(&self, out: &mut Vec<(usize, usize)>) {
        out.extend(self.chunks.iter().map(|c| (c.addr(), c.addr() + c.cap)));
    }

    /// A cursor at the current end: it will visit objects allocated from
    /// now on.
    pub(crate) fn cursor_at_end(&self) -> Cursor {
        match self.chunks.last() {
            Some(c) => Cursor {
                chunk: self.chunks.len() - 1,
                off: self.cur - c.addr(),
            },
            None => Cursor { chunk: 0, off: 0 },
        }
    }

    /// Calls `f` on every object, in allocation order.
    ///
    /// # Safety
    ///
    /// 1. Every byte the space handed out since it was made or last reset
    ///    holds a complete object (written by `ObjPtr::init` or copied
    ///    whole), laid end to end, whose header gives its size (its `meta`
    ///    word may be anything, a forwarding word included), and stays so
    ///    while the walk reads it.
    pub(crate) unsafe fn for_each_object(&self, mut f: impl FnMut(ObjPtr)) {
        let mut c = Cursor { chunk: 0, off: 0 };
        // SAFETY: obligation 1; the cursor starts at the space's start.
        while let Some(p) = unsafe { c.next(self) } {
            f(p)
        }
    }
}

/// A resumable walk over a space's objects (Cheney's scan pointer).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor {
    chunk: usize,
    off: usize,
}

impl Cursor {
    /// The next object, or `None` if the cursor has caught up with the
    /// allocation pointer.
    ///
    /// # Safety
    ///
    /// 1. The cursor was made by `space` (its start, or
    ///    [`Space::cursor_at_end`]) since `space` was last reset, and has
    ///    been advanced only over `space`.
    /// 2. Every byte `space` handed out from the cursor's position on holds
    ///    a complete object (written by `ObjPtr::init` or copied whole),
    ///    laid end to end, whose header gives its size (its `meta` word
    ///    may be anything, a forwarding word included).
    #[inline]
    pub(crate) unsafe fn next(&mut self, space: &Space) -> Option<ObjPtr> {
        loop {
            let chunk = space.chunks.get(self.chunk)?;
            let used = if self.chunk + 1 == space.chunks.len() {
                space.cur - chunk.addr()
            } else {
                chunk.used
            };
            if self.off < used {
                // SAFETY: obligations 1 and 2: `off` is the start of an
                // object (the previous one ended here) in a chunk of
                // `space`, so non-null.
                let p = unsafe {
                    ObjPtr::from_raw(NonNull::new_unchecked(
                        (chunk.addr() + self.off) as *mut gc_core::object::ObjHeader,
                    ))
                };
                // SAFETY: obligation 2: a complete object.
                self.off += unsafe { p.size() };
                return Some(p);
            }
            if self.chunk + 1 >= space.chunks.len() {
                return None;
            }
            self.chunk += 1;
            self.off = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gc_core::{RawValue, SlotInit};

    fn obj(space: &mut Space, n: usize) -> ObjPtr {
        let size = gc_core::object::object_size(n, 0).unwrap();
        let mem = space.alloc(size).unwrap();
        // SAFETY: fresh memory of the right size.
        unsafe { ObjPtr::init(mem, 1, SlotInit::Fill(RawValue::NIL, n), &[], 0, 0) }
    }

    #[test]
    fn cursor_walks_across_chunks_and_resumes() {
        let mut s = Space::new(64 << 10, 1);
        let mut c = s.cursor_at_end();
        let mut made = Vec::new();
        for i in 0..5000 {
            made.push(obj(&mut s, i % 7));
        }
        assert!(s.chunks.len() > 1, "spans several chunks");
        let mut seen = Vec::new();
        // SAFETY: every allocation of `s` holds an object (`obj`), and `c`
        // is `s`'s.
        while let Some(p) = unsafe { c.next(&s) } {
            seen.push(p);
        }
        // Appending after the cursor caught up: it resumes.
        for _ in 0..10 {
            made.push(obj(&mut s, 3));
        }
        // SAFETY: every allocation of `s` holds an object (`obj`), and `c`
        // is `s`'s.
        while let Some(p) = unsafe { c.next(&s) } {
            seen.push(p);
        }
        assert_eq!(seen, made);
        // SAFETY: the objects are live in `s`.
        let total: usize = made.iter().map(|p| unsafe { p.size() }).sum();
        assert_eq!(s.used(), total);
        s.reset();
        assert_eq!(s.used(), 0);
        assert_eq!((s.chunks.len(), s.spare.len()), (0, 1));
        obj(&mut s, 1);
        assert_eq!(
            (s.chunks.len(), s.spare.len()),
            (1, 0),
            "the spare chunk is reused"
        );
        s.reset();
        let mut n = 0;
        // SAFETY: `s` is empty.
        unsafe { s.for_each_object(|_| n += 1) };
        assert_eq!(n, 0);
    }
}
