//! Spans: the memory the tri-color collector allocates objects in.
//!
//! A *block* is 64 KiB of memory aligned to 64 KiB. Its first word points
//! at the block's `Span` descriptor, so the span of any object is one
//! mask and one load away (`addr & !(BLOCK - 1)`), with no lookup table.
//! A small-object span cuts its block into equal cells of one size class;
//! a large object gets a block of its own (longer than 64 KiB if needed,
//! still 64 KiB-aligned, object right after the descriptor pointer).
//!
//! Each span has two side bitmaps, one bit per cell:
//!
//! * `alloc`: the cell holds an object (set by the allocator, which owns
//!   the span while it allocates in it; rewritten by the sweeper);
//! * `mark`: the cell was reached in the current (or last finished) mark
//!   phase, or allocated black. Markers set bits with one atomic OR
//!   (`fetch_or`), so two markers shading the same object agree on which
//!   of them pushes it.
//!
//! Sweeping a span is bitmap work only: `alloc = mark; mark = 0`, the
//! difference being the cells freed. A span's `sweepgen` says whether that
//! has happened for the current cycle (Go's protocol, see `mgcsweep.go`):
//! with the heap's generation `sg` (advanced by 2 at every mark
//! termination), `sweepgen == sg - 2` means "needs sweeping",
//! `sg - 1` "being swept", `sg` "swept". A sweeper claims a span with a
//! compare-and-swap from `sg - 2` to `sg - 1`, so no span is swept twice,
//! and publishes the result by storing `sg` with `Release`.

use std::alloc::{Layout, alloc, dealloc};
use std::ptr::NonNull;

use gc_core::{ObjPtr, SizeClasses};

use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// Size and alignment of a block.
pub(crate) const BLOCK: usize = 64 << 10;
/// Bytes at the start of a block before the first cell (the descriptor
/// pointer).
pub(crate) const BLOCK_HEADER: usize = 8;

/// Cell sizes of the small-object classes (multiples of 8; the smallest
/// holds a header and one slot). Between 1 and 2 KiB the steps are Go's
/// (1152, 1280, 1408, ...), so that a 1 KiB payload with its header and
/// a slot wastes 9% of its cell, not 22%.
const CLASS_SIZES: [u32; 38] = [
    32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 192, 224, 256, 288, 320, 384, 448, 512, 576,
    640, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2560, 3072, 4096, 5120, 6144, 8192,
    10912, 16376,
];
/// Number of small-object classes.
pub(crate) const CLASSES: usize = CLASS_SIZES.len();
/// The class of large-object spans.
pub(crate) const LARGE: usize = CLASSES;

/// The small-object classes; sizes up to 1024 bytes are classed by one
/// table lookup (129 entries), larger ones by a binary search.
pub(crate) static SIZE_CLASSES: SizeClasses<129> = SizeClasses::new(&CLASS_SIZES);

/// A span descriptor. Its fields other than the atomics never change
/// after construction; a block whose span is freed gets a new descriptor
/// when it is reused.
pub(crate) struct Span {
    pub(crate) block: NonNull<u8>,
    /// Bytes of the block allocation.
    pub(crate) block_bytes: usize,
    pub(crate) class: usize,
    pub(crate) cell: usize,
    pub(crate) cells: usize,
    pub(crate) sweepgen: AtomicU32,
    pub(crate) alloc: Box<[AtomicU64]>,
    pub(crate) mark: Box<[AtomicU64]>,
}

/// A span pointer that can travel between threads and sit in lists. The
/// span it names is owned by the collector's span lists (exactly one list,
/// the mutator's cache, or a sweeper that claimed it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct SpanRef(pub(crate) NonNull<Span>);

// SAFETY: a SpanRef is an address; the descriptor it names is only mutated
// through atomics, and its ownership moves between threads through the
// span lists' mutex.
unsafe impl Send for SpanRef {}
// SAFETY: as for Send.
unsafe impl Sync for SpanRef {}

/// What sweeping a span found.
pub(crate) struct Swept {
    /// Bytes in cells that were allocated and unmarked.
    pub(crate) freed: u64,
    /// Cells still allocated.
    pub(crate) live: usize,
}

fn bitmap(cells: usize) -> Box<[AtomicU64]> {
    (0..cells.div_ceil(64)).map(|_| AtomicU64::new(0)).collect()
}

impl SpanRef {
    /// Makes a span in fresh memory: a small-object span of class `class`
    /// over `block` (a 64 KiB block from [`alloc_block`]), or with
    /// `class == LARGE` a large-object span of `bytes` bytes (allocated
    /// here). Returns `None` if the system allocator refuses.
    pub(crate) fn new(
        class: usize,
        block: Option<NonNull<u8>>,
        bytes: usize,
        sweepgen: u32,
    ) -> Option<SpanRef> {
        let (block, block_bytes, cell, cells) = if class == LARGE {
            let block_bytes = (BLOCK_HEADER + bytes).next_multiple_of(4096);
            (alloc_raw(block_bytes)?, block_bytes, bytes, 1)
        } else {
            let cell = SIZE_CLASSES.size(class);
            (block?, BLOCK, cell, (BLOCK - BLOCK_HEADER) / cell)
        };
        let span = Box::new(Span {
            block,
            block_bytes,
            class,
            cell,
            cells,
            sweepgen: AtomicU32::new(sweepgen),
            alloc: bitmap(cells),
            mark: bitmap(cells),
        });
        let span = NonNull::from(Box::leak(span));
        // SAFETY: the block is at least BLOCK_HEADER bytes, 8-aligned, and
        // owned by this new span; its first word is the descriptor pointer.
        unsafe { block.cast::<*mut Span>().write(span.as_ptr()) };
        Some(SpanRef(span))
    }

    /// The descriptor.
    #[inline]
    pub(crate) fn get<'a>(self) -> &'a Span {
        // SAFETY: a SpanRef names a descriptor from `new` that is freed
        // only by `destroy`, which consumes the last SpanRef of it (span
        // lists hold each span once; see the crate docs' ownership rules).
        unsafe { self.0.as_ref() }
    }

    /// The span of the object at `p`.
    ///
    /// # Safety
    ///
    /// 1. `p` is an object allocated by this collector whose span has not
    ///    been destroyed.
    #[inline]
    pub(crate) unsafe fn of(p: ObjPtr) -> SpanRef {
        let block = p.addr() & !(BLOCK - 1);
        // SAFETY: obligation 1: `p` lies in the first BLOCK bytes of its
        // block (cells of small spans, and a large object right after the
        // header), whose first word is the descriptor pointer written by
        // `new`.
        unsafe { SpanRef(NonNull::new_unchecked(*(block as *const *mut Span))) }
    }

    /// Frees the descriptor and, for a large span, its memory. Returns the
    /// block of a small span, for reuse.
    ///
    /// # Safety
    ///
    /// 1. No object in the span is reachable or named by a weak entry, and
    ///    no other `SpanRef` to it is used again.
    pub(crate) unsafe fn destroy(self) -> Option<NonNull<u8>> {
        // SAFETY: obligation 1; the descriptor came from Box::leak in `new`.
        let span = unsafe { Box::from_raw(self.0.as_ptr()) };
        if span.class == LARGE {
            // SAFETY: the block was allocated by `alloc_raw` with this size.
            unsafe { dealloc_raw(span.block, span.block_bytes) };
            None
        } else {
            Some(span.block)
        }
    }
}

impl Span {
    /// Address of cell `i`.
    #[inline]
    pub(crate) fn cell_addr(&self, i: usize) -> NonNull<u8> {
        debug_assert!(i < self.cells);
        // SAFETY: cell `i` lies inside the block.
        unsafe { self.block.add(BLOCK_HEADER + i * self.cell) }
    }

    /// Index of the cell at `addr`, which must be a cell start.
    #[inline]
    pub(crate) fn cell_index(&self, addr: usize) -> usize {
        let off = addr - self.block.as_ptr() as usize - BLOCK_HEADER;
        if self.class == LARGE {
            0
        } else {
            off / self.cell
        }
    }

    /// Whether `addr` is the start of a cell of this span.
    pub(crate) fn is_cell_start(&self, addr: usize) -> bool {
        let base = self.block.as_ptr() as usize + BLOCK_HEADER;
        addr >= base
            && (addr - base).is_multiple_of(self.cell)
            && (addr - base) / self.cell < self.cells
    }

    /// Whether cell `i` is marked.
    #[inline]
    pub(crate) fn is_marked(&self, i: usize) -> bool {
        self.mark[i / 64].load(Ordering::Relaxed) & (1 << (i % 64)) != 0
    }

    /// Marks cell `i`; true if this call set the bit. `racy` is the broken
    /// twin's load-then-store.
    #[inline]
    pub(crate) fn try_mark(&self, i: usize, racy: bool) -> bool {
        let (w, bit) = (&self.mark[i / 64], 1u64 << (i % 64));
        if w.load(Ordering::Relaxed) & bit != 0 {
            return false;
        }
        if racy {
            let old = w.load(Ordering::Relaxed);
            w.store(old | bit, Ordering::Relaxed);
            return old & bit == 0;
        }
        w.fetch_or(bit, Ordering::AcqRel) & bit == 0
    }

    /// Whether cell `i` holds an object.
    #[inline]
    pub(crate) fn is_allocated(&self, i: usize) -> bool {
        self.alloc[i / 64].load(Ordering::Acquire) & (1 << (i % 64)) != 0
    }

    /// Sweeps the span: cells allocated but unmarked are freed, marks are
    /// cleared (unless `keep_marks`, a broken twin). The caller has claimed
    /// the span.
    pub(crate) fn sweep(&self, keep_marks: bool) -> Swept {
        let mut freed_cells = 0u64;
        let mut live = 0usize;
        for (a, m) in self.alloc.iter().zip(self.mark.iter()) {
            let marks = if keep_marks {
                m.load(Ordering::Acquire)
            } else {
                m.swap(0, Ordering::AcqRel)
            };
            let alloc = a.load(Ordering::Relaxed);
            let dead = alloc & !marks;
            freed_cells += u64::from(dead.count_ones());
            live += marks.count_ones() as usize;
            if cfg!(debug_assertions) && dead != 0 {
                self.poison(a, dead);
            }
            a.store(marks, Ordering::Release);
        }
        Swept {
            freed: freed_cells * self.cell as u64,
            live,
        }
    }

    /// Debug builds overwrite freed cells, so that a use after free reads
    /// garbage (and the verifier's header checks fail) instead of stale
    /// data that happens to look right.
    fn poison(&self, word: &AtomicU64, dead: u64) {
        let w = (word as *const AtomicU64 as usize - self.alloc.as_ptr() as usize) / 8;
        let mut bits = dead;
        while bits != 0 {
            let i = w * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if i < self.cells {
                // SAFETY: cell `i` is inside the block, unallocated now, and
                // owned by the sweeper that claimed this span.
                unsafe { self.cell_addr(i).as_ptr().write_bytes(0xA5, self.cell) };
            }
        }
    }
}

fn alloc_raw(bytes: usize) -> Option<NonNull<u8>> {
    let layout = Layout::from_size_align(bytes, BLOCK).ok()?;
    // SAFETY: the layout has a non-zero size.
    let p = NonNull::new(unsafe { alloc(layout) })?;
    if gc_core::object::addressable(p.as_ptr() as usize, bytes) {
        Some(p)
    } else {
        // SAFETY: just allocated with this layout.
        unsafe { dealloc(p.as_ptr(), layout) };
        None
    }
}

/// # Safety
///
/// 1. `p` came from `alloc_raw(bytes)` and is not used again.
unsafe fn dealloc_raw(p: NonNull<u8>, bytes: usize) {
    let layout = Layout::from_size_align(bytes, BLOCK).expect("layout was valid at allocation");
    // SAFETY: obligation 1.
    unsafe { dealloc(p.as_ptr(), layout) }
}

/// A fresh 64 KiB block, or `None` if the system allocator refuses.
pub(crate) fn alloc_block() -> Option<NonNull<u8>> {
    alloc_raw(BLOCK)
}

/// Returns a block to the system.
///
/// # Safety
///
/// 1. `p` came from [`alloc_block`] and no span uses it any more.
pub(crate) unsafe fn free_block(p: NonNull<u8>) {
    // SAFETY: obligation 1.
    unsafe { dealloc_raw(p, BLOCK) }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_every_small_size() {
        SIZE_CLASSES
            .check(gc_core::object::HEADER_BYTES, 0.5)
            .unwrap();
        assert_eq!(SIZE_CLASSES.class_of(16384), None);
        // Every class fits at least 4 cells in a block.
        for c in 0..SIZE_CLASSES.len() {
            let cell = SIZE_CLASSES.size(c);
            assert!((BLOCK - BLOCK_HEADER) / cell >= 4, "{cell}");
        }
    }
}
