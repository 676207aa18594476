//! Allocation: where a new object's cell comes from.
//!
//! A small object (up to the largest size class and the configuration's
//! `large_object_bytes`) takes a cell of its class's span in the mutator's
//! cache: the cache holds, per class, one span that the mutator owns while
//! it allocates in it, and one 64-bit word of that span's free cells
//! (`!alloc`), so the fast path is a `trailing_zeros` and a bit clear. When
//! the span is used up it is filed as full and [`Tricolor::refill`] takes
//! another: a swept span with free cells, or an unswept span of the class
//! that it sweeps itself (giving up after [`REFILL_SWEEPS`] full ones, so
//! that no allocation sweeps without bound), or a fresh block. A large
//! object gets a span of its own, filed as full.
//!
//! Invariants:
//!
//! * The allocator only ever allocates in swept spans (termination files
//!   the cached spans for sweeping and empties the cache, and a refill
//!   sweeps a span before it hands it out), so the stale "unmarked" state of a cell in a span that
//!   sweeping has not reached is never mistaken for death (crate docs,
//!   "Colours", item 3).
//! * While marking, a new object's mark bit is set before the allocator
//!   returns it ([`Tricolor::born`]: allocate black).
//! * [`Tricolor::check_limit`] refuses an allocation that would pass the
//!   heap limit before anything changes (Collector obligation 8).
//! * `allocated - freed` is the live bytes of [`Tricolor::live`];
//!   `paced` counts the bytes marked at the last termination plus those
//!   allocated since (the pacer's measure, `pacer.rs`).

use std::ptr::NonNull;

use gc_core::{AllocError, HeapCounters, ObjPtr, SlotInit};

use crate::Tricolor;
use crate::pacer::SWEEP_PER_REFILL;
use crate::span::{self, LARGE, SIZE_CLASSES, Span, SpanRef};
use crate::sync::faults::{Fault, on as fault};
use crate::sync::{Ordering, lock};

/// Unswept spans a refill sweeps that turn out to have no free cell before
/// it takes a fresh block instead (Go's `spanBudget` in
/// `mcentral.cacheSpan`). When most of a class's spans are still live, as
/// in a heap of long-lived objects overwritten in turn, an unbounded
/// refill would sweep hundreds of full spans (up to 0.9 ms for one
/// allocation on `gcbench --workload window`). The spans left unswept are
/// swept by the background sweeper and by the allocation's sweep credit.
const REFILL_SWEEPS: usize = 16;

/// The mutator's allocation state for one class.
#[derive(Clone, Copy, Default)]
pub(crate) struct Cache {
    pub(crate) span: Option<SpanRef>,
    /// Index of the bitmap word `free` came from.
    word: usize,
    /// Free cells of that word not yet handed out.
    free: u64,
}

/// Bits of bitmap word `w` that name real cells.
#[inline]
fn valid_bits(cells: usize, w: usize) -> u64 {
    let rest = cells - w * 64;
    if rest >= 64 { !0 } else { (1u64 << rest) - 1 }
}

impl Tricolor {
    /// `Collector::alloc`.
    ///
    /// # Safety
    ///
    /// 1. Every reference in `slots` is a live object of this collector.
    #[inline]
    pub(crate) unsafe fn alloc_object(
        &self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
    ) -> Result<ObjPtr, AllocError> {
        let size = gc_core::object::checked_size(&slots, bytes)?;
        let (mem, s, i) = match SIZE_CLASSES
            .class_of(size)
            .filter(|_| size <= self.m.small_max)
        {
            Some(class) => self.alloc_small(class, size),
            None => self.alloc_large(size),
        }
        .inspect_err(|_| self.m.oom.set(true))?;
        // SAFETY: `mem` is a free cell of at least `size` bytes, 8-aligned;
        // the size was checked; references in `slots` are live
        // (obligation 1).
        let obj = unsafe { ObjPtr::init(mem, kind, slots, bytes, 0, 0) };
        self.born(s.get(), i);
        Ok(obj)
    }

    /// The live bytes: allocated minus freed by sweeping (which refreshes
    /// `freed_seen`).
    pub(crate) fn live(&self) -> u64 {
        let freed = self.shared.freed.load(Ordering::Relaxed);
        self.m.freed_seen.set(freed);
        self.m.allocated.get() - freed
    }

    /// `Collector::counters`.
    pub(crate) fn heap_counters(&self) -> HeapCounters {
        let freed = self.shared.freed.load(Ordering::Relaxed);
        let live = self.m.allocated.get() - freed;
        HeapCounters {
            allocated_bytes: self.m.allocated.get(),
            allocated_objects: self.m.objects.get(),
            freed_bytes: freed,
            promoted_bytes: 0,
            live_bytes: live,
            peak_bytes: self.m.peak.get().max(live),
        }
    }

    /// Sets the mark bit of a fresh object if marking (allocate black).
    #[inline]
    fn born(&self, span: &Span, i: usize) {
        let (w, bit) = (i / 64, 1u64 << (i % 64));
        let a = &span.alloc[w];
        // The allocator owns the span: nobody else writes its alloc bits.
        a.store(a.load(Ordering::Relaxed) | bit, Ordering::Release);
        if self.m.marking.get() && !fault(self.shared.faults, Fault::AllocateWhite) {
            span.mark[w].fetch_or(bit, Ordering::Release);
            self.m.black.set(self.m.black.get() + span.cell as u64);
        }
    }

    fn check_limit(&self, size: usize, cell: u64) -> Result<(), AllocError> {
        let est = self.m.allocated.get() - self.m.freed_seen.get();
        if est + cell <= self.m.limit {
            return Ok(());
        }
        // Sweeping may free enough (dead memory only: this is not a
        // collection, so it may happen inside `mutate`).
        loop {
            let live = self.live();
            if live + cell <= self.m.limit {
                return Ok(());
            }
            if !self.shared.sweep_one() {
                return Err(AllocError::OutOfMemory {
                    requested: size,
                    limit: self.m.limit as usize,
                    in_use: live as usize,
                });
            }
        }
    }

    #[inline]
    fn account(&self, cell: u64) {
        let a = self.m.allocated.get() + cell;
        self.m.allocated.set(a);
        self.m.paced.set(self.m.paced.get() + cell);
        self.m.objects.set(self.m.objects.get() + 1);
        if a - self.m.freed_seen.get() > self.m.peak.get() {
            // Refresh: background sweeping may have freed since.
            let live = self.live();
            if live > self.m.peak.get() {
                self.m.peak.set(live);
            }
        }
    }

    fn alloc_small(
        &self,
        class: usize,
        size: usize,
    ) -> Result<(NonNull<u8>, SpanRef, usize), AllocError> {
        let cell = SIZE_CLASSES.size(class) as u64;
        self.check_limit(size, cell)?;
        let slot = &self.m.cache[class];
        let mut c = slot.get();
        loop {
            if c.free != 0 {
                let s = c.span.expect("free bits come from a cached span");
                let i = c.word * 64 + c.free.trailing_zeros() as usize;
                c.free &= c.free - 1;
                slot.set(c);
                self.account(cell);
                return Ok((s.get().cell_addr(i), s, i));
            }
            if let Some(s) = c.span {
                let span = s.get();
                if c.word + 1 < span.alloc.len() {
                    c.word += 1;
                    c.free = !span.alloc[c.word].load(Ordering::Relaxed)
                        & valid_bits(span.cells, c.word);
                    continue;
                }
                lock(&self.shared.lists).full[class].push(s);
                c = Cache::default();
                slot.set(c);
            }
            let s = self.refill(class).ok_or(AllocError::OutOfMemory {
                requested: size,
                limit: self.m.limit as usize,
                in_use: self.live() as usize,
            })?;
            let span = s.get();
            c = Cache {
                span: Some(s),
                word: 0,
                free: !span.alloc[0].load(Ordering::Relaxed) & valid_bits(span.cells, 0),
            };
        }
    }

    /// A swept span of `class` with free cells, owned by the caller: a
    /// partly free one, or an unswept one that it sweeps itself (at most
    /// [`REFILL_SWEEPS`] that turn out full), or a fresh block.
    fn refill(&self, class: usize) -> Option<SpanRef> {
        self.live();
        let mut full = 0;
        loop {
            let mut l = lock(&self.shared.lists);
            if let Some(s) = l.partial[class].pop() {
                return Some(s);
            }
            if full < REFILL_SWEEPS
                && let Some(s) = l.unswept[class].pop()
            {
                drop(l);
                // SAFETY: just taken from the unswept list, which held the
                // only reference to it.
                if let Some(s) = unsafe { self.shared.sweep_span(s, Some(class)) } {
                    self.sweep_credit(SWEEP_PER_REFILL);
                    return Some(s);
                }
                // It was full (and is filed as such).
                full += 1;
                continue;
            }
            let block = l.pool.pop().map(|b| b.0);
            drop(l);
            self.sweep_credit(SWEEP_PER_REFILL);
            let block = block.or_else(span::alloc_block)?;
            let sg = self.shared.sweepgen.load(Ordering::Relaxed);
            return SpanRef::new(class, Some(block), 0, sg);
        }
    }

    fn alloc_large(&self, size: usize) -> Result<(NonNull<u8>, SpanRef, usize), AllocError> {
        let err = |live: u64| AllocError::OutOfMemory {
            requested: size,
            limit: self.m.limit as usize,
            in_use: live as usize,
        };
        let cell = size as u64;
        if cell > self.m.limit {
            return Err(err(self.live()));
        }
        self.check_limit(size, cell)?;
        self.sweep_credit(SWEEP_PER_REFILL * (1 + size / span::BLOCK));
        let sg = self.shared.sweepgen.load(Ordering::Relaxed);
        let s = SpanRef::new(LARGE, None, size, sg).ok_or_else(|| err(self.live()))?;
        lock(&self.shared.lists).full[LARGE].push(s);
        self.account(cell);
        Ok((s.get().cell_addr(0), s, 0))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use gc_core::{Collector, HeapConfig, SlotInit};

    use super::REFILL_SWEEPS;
    use crate::Tricolor;
    use crate::pacer::SWEEP_PER_REFILL;
    use crate::span::SpanRef;
    use crate::sync::lock;

    /// A heap whose spans of one class are all full of live objects and
    /// unswept (as after a termination that marked them all): a refill
    /// sweeps at most `REFILL_SWEEPS` of them (plus its sweep credit)
    /// before it takes a fresh block, instead of all of them.
    #[test]
    fn a_refill_sweeps_a_bounded_number_of_full_spans() {
        const SPANS: usize = 4 * REFILL_SWEEPS;
        // Markers stay asleep: the phase is never set to sweeping, so
        // only the allocator sweeps.
        let t = Tricolor::new(&HeapConfig::default().with_marker_threads(1)).unwrap();
        // SAFETY: no slot holds a reference.
        let alloc = || unsafe { t.alloc_object(1, SlotInit::Copy(&[]), &[]) }.unwrap();
        let first = alloc();
        // SAFETY: the objects of this test live as long as `t`.
        let span_of = |p| unsafe { SpanRef::of(p) };
        let (class, cells) = (span_of(first).get().class, span_of(first).get().cells);
        let mut objects = vec![first];
        objects.extend((1..SPANS * cells).map(|_| alloc()));
        let mut spans: Vec<SpanRef> = objects.iter().map(|&p| span_of(p)).collect();
        spans.dedup();
        assert_eq!(spans.len(), SPANS, "the objects fill whole spans");
        for &p in &objects {
            // SAFETY: allocated above, not freed.
            unsafe { t.shared.shade(p) };
        }
        t.unsweep_all();
        let unswept = || lock(&t.shared.lists).unswept[class].len();
        assert_eq!(unswept(), SPANS);
        let p = alloc();
        let swept = SPANS - unswept();
        assert!(swept < SPANS, "one allocation swept every full span");
        assert!(
            swept <= REFILL_SWEEPS + SWEEP_PER_REFILL,
            "one allocation swept {swept} spans"
        );
        assert!(!spans.contains(&span_of(p)), "a full span was handed out");
    }
}
