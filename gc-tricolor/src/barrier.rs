//! The write barrier: what `write_slot` and weak upgrades do while marking.
//!
//! The barrier is Yuasa's deletion barrier. While a cycle marks, a store
//! into a slot first shades the value it overwrites, and a weak upgrade
//! shades its target: a path that existed at the root snapshot can only be
//! cut by overwriting a slot, so every object reachable at the snapshot
//! stays reachable from a grey object or is already marked (crate docs,
//! "Colours", item 2). Outside marking a store is a plain `Relaxed` store.
//!
//! The barrier does not shade on the mutator's fast path: it skips objects
//! already marked and appends the others to the mutator's buffer, which is
//! shaded into the shared injector when it is full and at every safepoint
//! (termination flushes it before it checks for quiescence, so no grey
//! object hides there when marking ends).
//!
//! While marking, slot stores are `Release` (markers load slots with
//! `Acquire`): a marker that finds a pointer sees the object's
//! initialisation (crate docs, "Memory ordering").

use gc_core::{ObjPtr, RawValue};

use crate::Tricolor;
use crate::grey::Grey;
use crate::span::SpanRef;
use crate::sync::faults::{Fault, on as fault};
use crate::sync::{Ordering, lock};

/// Barrier buffer entries before a flush to the injector: large enough
/// that the lock and the markers' wake-up are paid once per many writes,
/// small enough that the markers get the work early.
pub(crate) const BUFFER_CAP: usize = 256;

impl Tricolor {
    /// `Collector::write_slot`: stores `value` into slot `index` of `obj`,
    /// shading the old value while marking.
    ///
    /// # Safety
    ///
    /// 1. `obj` is a live object of this collector.
    /// 2. `index < obj`'s length.
    /// 3. If `value` is a reference, it is a live object of this collector.
    #[inline]
    pub(crate) unsafe fn store_slot(&self, obj: ObjPtr, index: usize, value: RawValue) {
        // SAFETY: obligations 1 and 2.
        let slot = unsafe { &obj.slots()[index] };
        if self.m.marking.get() {
            if !fault(self.shared.faults, Fault::NoDeletionBarrier)
                && let Some(old) = RawValue::from_bits(slot.load(Ordering::Relaxed)).as_ptr()
            {
                // SAFETY: `old` is in a slot of the live object `obj`, so
                // it is a live object of this collector.
                unsafe { self.remember(old) };
            }
            let release = !fault(self.shared.faults, Fault::RelaxedPublish);
            let order = if release {
                Ordering::Release
            } else {
                Ordering::Relaxed
            };
            self.shared.mirror.store(slot, value.to_bits(), order);
        } else {
            slot.store(value.to_bits(), Ordering::Relaxed);
        }
    }

    /// `Collector::weak_upgraded`: shades the target while marking.
    ///
    /// # Safety
    ///
    /// 1. `obj` is a live object of this collector.
    pub(crate) unsafe fn shade_upgraded(&self, obj: ObjPtr) {
        if self.m.marking.get() {
            // SAFETY: obligation 1.
            unsafe { self.remember(obj) };
        }
    }

    /// Queues `p` for shading (the barrier's slow path).
    ///
    /// # Safety
    ///
    /// 1. `p` is a live object of this collector.
    #[inline]
    unsafe fn remember(&self, p: ObjPtr) {
        // SAFETY: obligation 1: `p` is live, so its span exists.
        let span = unsafe { SpanRef::of(p) }.get();
        if span.is_marked(span.cell_index(p.addr())) {
            return;
        }
        let mut b = self.m.buffer.borrow_mut();
        b.push(p);
        if b.len() >= BUFFER_CAP {
            drop(b);
            self.flush_buffer();
        }
    }

    /// Shades the barrier buffer's objects into the injector.
    pub(crate) fn flush_buffer(&self) {
        let mut b = self.m.buffer.borrow_mut();
        if b.is_empty() {
            return;
        }
        let mut bytes = 0;
        for p in b.drain(..) {
            // SAFETY: buffered objects were live when buffered and are kept
            // by the snapshot until termination, which flushes first.
            if let Some(n) = unsafe { self.shared.shade(p) } {
                bytes += n;
                self.shared.injector.push(Grey::whole(p));
            }
        }
        drop(b);
        lock(&self.shared.ctl).marked += bytes;
        self.shared.kick();
    }
}
