//! Bump-allocated spaces made of chunks, and the cursors Cheney scans with.
//!
//! A [`Space`] is a list of chunks obtained from the global allocator; it
//! allocates by bumping a pointer in its last chunk and starts a new chunk
//! when an object does not fit (the unused tail of the old chunk is
//! recorded, so walking a chunk stops exactly at its last object). A
//! [`Cursor`] walks the objects of a space in allocation order and can be
//! resumed after more objects are appended: that is Cheney's scan pointer,
//! generalised to a chunked to-space.

use std::alloc::{Layout, alloc, dealloc};
use std::ptr::NonNull;

use gc_core::ObjPtr;

struct Chunk {
    start: NonNull<u8>,
    cap: usize,
    /// Bytes used; for the last chunk of a space, `Space::cur` is the
    /// authority while it is being bumped.
    used: usize,
}

impl Chunk {
    fn new(cap: usize) -> Option<Chunk> {
        let layout = Layout::from_size_align(cap, 16).ok()?;
        // SAFETY: `cap` is non-zero (spaces use at least 64 KiB chunks).
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

    fn addr(&self) -> usize {
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
pub struct Space {
    chunks: Vec<Chunk>,
    /// Empty standard-size chunks kept for reuse.
    spare: Vec<Chunk>,
    /// Most chunks `reset` keeps (in use or spare).
    keep: usize,
    chunk_size: usize,
    /// Bump pointer and limit in the last chunk (0, 0 when there is none).
    cur: usize,
    end: usize,
    /// Start of the last chunk (0 when there is none).
    base: usize,
    /// Bytes used in all chunks but the last.
    full_bytes: usize,
}

impl Space {
    /// An empty space whose chunks are `chunk_size` bytes (or bigger, for
    /// an object that needs more); `reset` keeps up to `keep` of them for
    /// reuse, so that a space that is filled and emptied again and again
    /// does not fault its memory in every time.
    pub fn new(chunk_size: usize, keep: usize) -> Space {
        Space {
            chunks: Vec::new(),
            spare: Vec::new(),
            keep: keep.max(1),
            chunk_size,
            cur: 0,
            end: 0,
            base: 0,
            full_bytes: 0,
        }
    }

    /// Bump allocation of `size` bytes (a multiple of 8).
    #[inline(always)]
    pub fn alloc(&mut self, size: usize) -> Option<NonNull<u8>> {
        if self.end - self.cur >= size {
            let p = self.cur;
            self.cur += size;
            // SAFETY: `cur` lies inside a live chunk, so it is non-null.
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
    pub fn used(&self) -> usize {
        self.full_bytes + (self.cur - self.base)
    }

    /// Bytes obtained from the system.
    pub fn mapped(&self) -> usize {
        self.chunks.iter().chain(&self.spare).map(|c| c.cap).sum()
    }

    /// Empties the space, keeping up to `keep` standard-size chunks for
    /// reuse and returning the others to the system.
    pub fn reset(&mut self) {
        let size = self.chunk_size;
        for mut c in self.chunks.drain(..) {
            if c.cap == size && self.spare.len() < self.keep {
                c.used = 0;
                self.spare.push(c);
            }
        }
        self.full_bytes = 0;
        self.cur = 0;
        self.base = 0;
        self.end = 0;
    }

    /// Appends the address ranges of the space's chunks to `out`.
    pub fn ranges(&self, out: &mut Vec<(usize, usize)>) {
        out.extend(self.chunks.iter().map(|c| (c.addr(), c.addr() + c.cap)));
    }

    /// Whether `addr` lies in one of the space's chunks.
    pub fn contains(&self, addr: usize) -> bool {
        self.chunks
            .iter()
            .any(|c| addr >= c.addr() && addr < c.addr() + c.cap)
    }

    /// A cursor at the current end: it will visit objects allocated from
    /// now on.
    pub fn cursor_at_end(&self) -> Cursor {
        match self.chunks.last() {
            Some(c) => Cursor {
                chunk: self.chunks.len() - 1,
                off: self.cur - c.addr(),
            },
            None => Cursor { chunk: 0, off: 0 },
        }
    }

    /// Calls `f` on every object, in allocation order.
    pub fn for_each_object(&self, mut f: impl FnMut(ObjPtr)) {
        let mut c = Cursor { chunk: 0, off: 0 };
        while let Some(p) = c.next(self) {
            f(p)
        }
    }
}

/// A resumable walk over a space's objects (Cheney's scan pointer).
#[derive(Clone, Copy, Debug)]
pub struct Cursor {
    chunk: usize,
    off: usize,
}

impl Cursor {
    /// The next object, or `None` if the cursor has caught up with the
    /// allocation pointer.
    #[inline]
    pub fn next(&mut self, space: &Space) -> Option<ObjPtr> {
        loop {
            let chunk = space.chunks.get(self.chunk)?;
            let used = if self.chunk + 1 == space.chunks.len() {
                space.cur - chunk.addr()
            } else {
                chunk.used
            };
            if self.off < used {
                // SAFETY: `off` is the start of an object written by
                // ObjPtr::init or copied whole (objects are laid end to end
                // and each header gives its size).
                let p = unsafe {
                    ObjPtr::from_raw(NonNull::new_unchecked(
                        (chunk.addr() + self.off) as *mut gc_core::object::ObjHeader,
                    ))
                };
                // SAFETY: as above, a complete object.
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
        while let Some(p) = c.next(&s) {
            seen.push(p);
        }
        // Appending after the cursor caught up: it resumes.
        for _ in 0..10 {
            made.push(obj(&mut s, 3));
        }
        while let Some(p) = c.next(&s) {
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
        s.for_each_object(|_| n += 1);
        assert_eq!(n, 0);
    }
}
