//! `NoGc`: bump allocation that never frees.
//!
//! The lower bound of GC cost in every benchmark and the reference backend
//! of the API: objects are bump-allocated from a [`bumpalo::Bump`] and live
//! until the heap is dropped. Allocation past the byte limit returns
//! [`AllocError::OutOfMemory`]. Since nothing moves, the identity hash is a
//! mix of the address.

use std::alloc::Layout;
use std::cell::Cell;
use std::ptr::NonNull;

use bumpalo::Bump;

use crate::collector::{Capabilities, Collector, Safepoint};
use crate::config::{AllocError, ConfigError, HeapConfig};
use crate::object::{ObjPtr, RawValue, SlotInit, checked_size, mix_address};
use crate::stats::HeapCounters;

/// The no-collection backend.
pub struct NoGc {
    bump: Bump,
    limit: usize,
    used: Cell<usize>,
    objects: Cell<u64>,
}

// SAFETY: (1) `alloc` writes objects with `ObjPtr::init` into fresh,
// 8-aligned bump memory that `addressable` accepted; (2, 3, 4) nothing is ever freed or moved before
// the heap (and the Bump) is dropped; (5) `write_slot` stores the value;
// (6) targets never die, so weak entries are never cleared; (7) the hash
// mixes an address that never changes; (8) `used` counts every byte handed
// out and allocation fails before passing the limit; (9) `safepoint` does
// nothing that can panic.
unsafe impl Collector for NoGc {
    const NAME: &'static str = "nogc";
    const CAPABILITIES: Capabilities = Capabilities {
        reclaims: false,
        reclaims_cycles: false,
        moving: false,
        concurrent: false,
    };

    fn new(config: &HeapConfig) -> Result<Self, ConfigError> {
        Ok(NoGc {
            bump: Bump::new(),
            limit: config.heap_limit,
            used: Cell::new(0),
            objects: Cell::new(0),
        })
    }

    #[inline]
    unsafe fn alloc(
        &self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
    ) -> Result<ObjPtr, AllocError> {
        let size = checked_size(&slots, bytes)?;
        let used = self.used.get();
        let oom = || AllocError::OutOfMemory {
            requested: size,
            limit: self.limit,
            in_use: used,
        };
        if size > self.limit - used {
            return Err(oom());
        }
        let layout = Layout::from_size_align(size, 8).expect("checked sizes are valid layouts");
        let mem: NonNull<u8> = self.bump.try_alloc_layout(layout).map_err(|_| oom())?;
        if !crate::object::addressable(mem.as_ptr() as usize, size) {
            return Err(oom());
        }
        self.used.set(used + size);
        self.objects.set(self.objects.get() + 1);
        // SAFETY: `mem` is fresh, 8-aligned and `size` bytes long; `size`
        // came from `object_size`; slot references are live (caller).
        Ok(unsafe { ObjPtr::init(mem, kind, slots, bytes, 0, 0) })
    }

    #[inline]
    unsafe fn write_slot(&self, obj: ObjPtr, index: usize, value: RawValue) {
        // SAFETY: the caller guarantees a live object and an index in
        // bounds; NoGc needs no barrier.
        unsafe { obj.store_slot(index, value) }
    }

    #[inline]
    fn should_yield(&self) -> bool {
        false
    }

    unsafe fn identity_hash(&self, obj: ObjPtr) -> u64 {
        mix_address(obj.addr())
    }

    unsafe fn safepoint(&mut self, _sp: &mut Safepoint<'_>) {}

    fn counters(&self) -> HeapCounters {
        let used = self.used.get() as u64;
        HeapCounters {
            allocated_bytes: used,
            allocated_objects: self.objects.get(),
            freed_bytes: 0,
            promoted_bytes: 0,
            live_bytes: used,
            peak_bytes: used,
        }
    }

    unsafe fn verify(&self, sp: &mut Safepoint<'_>) -> Result<(), String> {
        // Every root and weak target must point into the bump arena's
        // chunks.
        let chunks: Vec<(usize, usize)> = {
            // SAFETY: no allocation happens while we look at the chunks
            // (`&self`, at a safepoint).
            unsafe { self.bump.iter_allocated_chunks_raw() }
                .map(|(p, n)| (p as usize, n))
                .collect()
        };
        sp.verify_references(|p| {
            let a = p.addr();
            chunks.iter().any(|&(s, n)| a >= s && a < s + n)
        })
    }
}
