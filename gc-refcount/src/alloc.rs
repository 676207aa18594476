//! Allocation: a slab cell, initialised as an object that starts in the
//! zero-count table.
//!
//! A new object's count is zero (nothing in the heap refers to it yet) and
//! it is flagged `NEW | IN_ZCT`: the next safepoint's ZCT drain frees it if
//! nothing stored it anywhere, or moves it to the young set. The counts of
//! the objects its slots refer to are incremented, after checking that
//! none can overflow, so that nothing can fail between taking the cell and
//! initialising it (the verifier's walk of the slab relies on every cell it
//! handed out holding an initialised header). The heap limit is checked
//! against cell sizes before anything changes.
//!
//! While dead objects wait to be dismantled (module `dying`), each
//! allocation first dismantles about as many bytes of them as it takes,
//! and everything it can when it would pass the limit (unless the request
//! is bigger than the whole limit). An allocation that fails may so have
//! given dead memory back first: the counters change, nothing reachable
//! does.

use std::ptr::NonNull;

use gc_core::object::checked_size;
use gc_core::{AllocError, ObjPtr, SlotInit};

use crate::State;
use crate::header::{IN_ZCT, MAX_COUNT, NEW, count_overflow, rc};
use crate::slab::footprint;

impl State {
    /// The allocation of `Collector::alloc`.
    ///
    /// # Safety
    ///
    /// 1. Every reference in `slots` is a live object of this collector.
    // Inlined into the embedder, where slot and byte counts are usually
    // constants (the object is then written with a few stores, not two
    // `memmove` calls: whole-program optimisation otherwise keeps this
    // out of line).
    #[inline(always)]
    pub(crate) unsafe fn alloc(
        &mut self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
    ) -> Result<ObjPtr, AllocError> {
        let size = checked_size(&slots, bytes)?;
        let fp = footprint(size);
        if self.has_dying() && fp <= self.limit {
            // Dead objects wait: give back about as much as is taken
            // (module `dying`), before the limit check.
            self.pay_for(fp);
        }
        let oom = AllocError::OutOfMemory {
            requested: fp,
            limit: self.limit,
            in_use: self.live,
        };
        if fp > self.limit - self.live {
            return Err(oom);
        }
        // Check that the counts can take the new references before anything
        // changes: a panic after the cell is taken would leave it
        // uninitialised below its page's bump offset.
        let refs = slots.len() as u64;
        slots.for_each_ref(|c| {
            // SAFETY: obligation 1.
            if u64::from(unsafe { rc(c) }) + refs > u64::from(MAX_COUNT) {
                count_overflow()
            }
        });
        let mem: NonNull<u8> = self.slab.alloc(size).ok_or(oom)?;
        // SAFETY: obligation 1; the counts were checked above.
        slots.for_each_ref(|c| unsafe { self.inc(c) });
        // SAFETY: a fresh cell of at least `size` bytes, 8-aligned; slot
        // references are live objects (obligation 1).
        let p = unsafe { ObjPtr::init(mem, kind, slots, bytes, 0, NEW | IN_ZCT) };
        self.zct.push(p);
        self.live += fp;
        self.peak = self.peak.max(self.live);
        self.allocated += fp as u64;
        self.allocated_objects += 1;
        self.since_safepoint += fp;
        Ok(p)
    }
}
