//! Allocation: the nursery's inlined bump, and the cold path for large,
//! pretenured and over-limit objects.
//!
//! Every allocation checks `live + size` against the heap limit before it
//! takes memory, and writes the object (`ObjPtr::init`) into the memory at
//! once, so every byte a space hands out holds a complete object (what
//! the space walks rely on). Objects born old (large or pretenured) are
//! counted in `settled` and as old-generation debt (`src/pacer.rs`), born
//! black while a major cycle marks (`src/major.rs`) and, if they refer to
//! young objects, remembered.

use gc_core::object::checked_size;
use gc_core::{AllocError, ObjPtr, SlotInit};

use crate::Generational;
use crate::header::{LARGE, is_young};

impl Generational {
    /// Allocates and writes an object: the fast path (a small object into
    /// the nursery), inlined into the embedder, where the slot and byte
    /// counts are usually constants, so that the object is written with a
    /// few stores instead of two `memmove` calls.
    ///
    /// # Safety
    ///
    /// 1. As for [`Collector::alloc`](gc_core::Collector::alloc):
    ///    references in `slots` name live objects of this heap.
    #[inline(always)]
    pub(crate) unsafe fn alloc_object(
        &self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
    ) -> Result<ObjPtr, AllocError> {
        let st = self.st();
        let size = checked_size(&slots, bytes)?;
        let live = st.live();
        if size < st.large_threshold
            && !st.pretenure
            && size <= st.limit - live
            && let Some(mem) = st.nursery.alloc(size)
        {
            st.allocated += size as u64;
            st.allocated_objects += 1;
            st.peak = st.peak.max(live + size);
            // SAFETY: fresh memory of `size` bytes, 8-aligned; slot
            // references are live objects (obligation 1).
            return Ok(unsafe { ObjPtr::init(mem, kind, slots, bytes, 0, 0) });
        }
        // SAFETY: obligation 1, passed on.
        unsafe { self.alloc_slow(kind, slots, bytes, size, live) }
    }

    /// Every allocation the inlined fast path does not take: large
    /// objects, pretenured ones, one over the limit, and a nursery chunk
    /// the system refused. `size` and `live` are what the fast path
    /// computed (`checked_size` of the request, `State::live`).
    ///
    /// # Safety
    ///
    /// 1. As for [`Collector::alloc`](gc_core::Collector::alloc):
    ///    references in `slots` name live objects of this heap.
    #[cold]
    #[inline(never)]
    unsafe fn alloc_slow(
        &self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
        size: usize,
        live: usize,
    ) -> Result<ObjPtr, AllocError> {
        let st = self.st();
        let out_of_memory = AllocError::OutOfMemory {
            requested: size,
            limit: st.limit,
            in_use: live,
        };
        if size > st.limit - live {
            return Err(out_of_memory);
        }
        let large = size >= st.large_threshold;
        let old = large || st.pretenure;
        let mem = if large {
            gc_core::large::alloc(size)
        } else if st.pretenure {
            st.old.alloc(size, true)
        } else {
            st.nursery.alloc(size)
        };
        let mem = mem.ok_or(out_of_memory)?;
        st.allocated += size as u64;
        st.allocated_objects += 1;
        st.peak = st.peak.max(live + size);
        let meta = match (large, old) {
            (true, _) => st.born_old() | LARGE,
            (false, true) => st.born_old(),
            (false, false) => 0,
        };
        // SAFETY: fresh memory of `size` bytes, 8-aligned; slot references
        // are live objects (obligation 1).
        let p = unsafe { ObjPtr::init(mem, kind, slots, bytes, meta, 0) };
        if old {
            if large {
                st.large.insert(p, size);
                st.large_bytes += size;
            }
            if st.marking {
                st.marked += size;
            }
            st.old_debt += size;
            // The old space may also have swept lazily to find room.
            st.settle();
            let mut young = false;
            // SAFETY: slot references are live objects (obligation 1).
            slots.for_each_ref(|c| young |= unsafe { is_young(c) });
            if young {
                // SAFETY: `p` was just written, old.
                unsafe { st.remember(p) };
            }
        }
        Ok(p)
    }
}
