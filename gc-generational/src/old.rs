//! The old space: non-moving, bump-allocated in chunks, its free space
//! found by an incremental sweeper and reused as *holes*.
//!
//! Objects promoted by a minor collection, and objects allocated old
//! (pretenured), live here until a major cycle finds them unreachable;
//! they never move, so a major cycle needs no to-space and the memory the
//! old generation takes is the memory its chunks take.
//!
//! ## Layout: objects and gaps, end to end
//!
//! A chunk's used part holds, end to end, *objects* (a normal header) and
//! *gaps*: free space whose first word is a gap word (`..10` in the low
//! bits, the gap's length in bytes above them, see [`crate::header`]).
//! A gap can be as short as one word, which an object header (24 bytes)
//! could not describe. The walks ([`OldSpace::for_each_object`], the
//! sweeper) read the first word at each position and skip a gap by its
//! length or an object by its size; that every position they reach holds
//! one or the other is the space's invariant, kept by:
//!
//! * allocation, which writes an object into the memory it hands out at
//!   once (the collector's job) and writes a gap word over whatever is left
//!   of the hole it allocated from;
//! * the sweeper, which writes one gap word over each run of dead objects
//!   and gaps it finds (coalescing them), before it stops, so that no run
//!   is left half-described between two steps.
//!
//! ## Allocation
//!
//! Small objects (at most [`MAX_HOLE_OBJECT`] bytes) are bump-allocated
//! inside the current hole; when it is too small, the allocator takes the
//! next hole in address order (a hole too small for the request is left as
//! it is: a gap, to be coalesced by the next sweep), and when there is no
//! hole it bumps in the last chunk. When that is full too, an allocation by
//! the mutator first sweeps the next chunks if a sweep is under way (lazy
//! sweeping, as Go's `mcentral` does, so that freed memory is reused before
//! new memory is asked for; at most [`LAZY_SWEEP_CHUNKS`] per chunk taken,
//! so that lazy sweeping costs a bounded amount per byte allocated; a
//! minor collection's promotions do not sweep, so that its pause does not
//! grow by the sweep), and only then takes a new chunk. Bigger objects go
//! straight to the bump chunk. Taking holes in address order keeps objects
//! promoted together next to each other (Immix's line allocation follows
//! the same idea).
//!
//! ## Sweeping
//!
//! A major cycle's termination calls [`OldSpace::start_sweep`]: it forgets
//! every hole (they are gaps in memory anyway) and records the chunks that
//! exist and how far the last one is used. Only that part is swept; objects
//! allocated afterwards (into swept holes or beyond the recorded end) are
//! never seen by this sweep, so they need no mark. In the recorded part, a
//! marked object survives and loses its mark; an unmarked one is dead: its
//! bytes join the current free run. A chunk's runs become holes when the
//! sweeper finishes the chunk; a chunk found entirely free becomes a spare
//! when the sweep ends (except the one that was being bumped when the
//! sweep began): new chunks are taken from the spares first, and spares
//! beyond [`SPARE_CHUNKS`] go back to the system a few at a time
//! ([`OldSpace::trim_spares`]), since returning hundreds of chunks at once
//! is a pause of its own.
//! [`OldSpace::sweep`] does a bounded amount of this at a time.

use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use gc_core::ObjPtr;
use gc_core::object::ObjHeader;

use crate::header::{GAP, MARK, TAG, meta, set_meta};
use crate::pacer::Budget;
use crate::space::{Chunk, NO_CHUNK};

/// Free runs shorter than this stay gaps instead of becoming holes.
const MIN_HOLE: usize = 64;
/// Objects up to this size are allocated into holes; bigger ones bump.
pub(crate) const MAX_HOLE_OBJECT: usize = 4096;
/// Chunks swept lazily, at most, before a new chunk is taken.
const LAZY_SWEEP_CHUNKS: usize = 2;
/// Bytes swept between two looks at the clock.
const CLOCK_BYTES: usize = 64 << 10;
/// Empty chunks kept for reuse however long they stay unused.
const SPARE_CHUNKS: usize = 2;

/// The first word at `addr`.
///
/// # Safety
///
/// 1. `addr` is 8-aligned and the 8 bytes at it lie in a chunk of this
///    space (only the mutator's thread touches them).
#[inline]
unsafe fn word<'a>(addr: usize) -> &'a AtomicU64 {
    // SAFETY: obligation 1: aligned, in bounds, and an AtomicU64 has the
    // layout of the u64 (or header `meta` word) stored there.
    unsafe { &*(addr as *const AtomicU64) }
}

/// Writes a gap word describing the `len` free bytes at `addr`.
///
/// # Safety
///
/// 1. As for [`word`], and the `len` bytes at `addr` lie in the same chunk
///    and hold nothing anyone will read as an object again.
#[inline]
unsafe fn write_gap(addr: usize, len: usize) {
    debug_assert!(len >= 8 && len.is_multiple_of(8));
    // SAFETY: obligation 1.
    unsafe { word(addr) }.store(((len as u64) << 2) | GAP, Relaxed);
}

/// What the walk finds at `addr`: `Err(len)` for a gap, `Ok(object)`.
///
/// # Safety
///
/// 1. `addr` is a position of the space's layout invariant (the start of an
///    object or a gap) below its chunk's used end.
#[inline]
unsafe fn item(addr: usize) -> Result<ObjPtr, usize> {
    // SAFETY: obligation 1: at least one word is there.
    let w = unsafe { word(addr) }.load(Relaxed);
    if w & TAG == GAP {
        Err((w >> 2) as usize)
    } else {
        // SAFETY: obligation 1: a complete object starts here.
        Ok(unsafe { ObjPtr::from_raw(NonNull::new_unchecked(addr as *mut ObjHeader)) })
    }
}

/// A sweep under way (see the module docs).
struct Sweep {
    /// The chunk being swept and the offset reached in it.
    chunk: usize,
    off: usize,
    /// The chunks the sweep covers (those that existed when it began) and
    /// the used end of the last of them at that moment.
    chunks: usize,
    last_limit: usize,
    /// Whether the current chunk had a surviving object so far.
    chunk_live: bool,
    /// Free runs of the current chunk, handed to the allocator once the
    /// chunk is finished (unless the whole chunk is free).
    pending: Vec<(usize, usize)>,
    /// Chunks found entirely free, released when the sweep ends.
    empty: Vec<usize>,
}

/// The old space (see the module docs).
pub(crate) struct OldSpace {
    chunks: Vec<Chunk>,
    spare: Vec<Chunk>,
    chunk_size: usize,
    /// Bump pointer and limit in the last chunk ([`NO_CHUNK`] when there
    /// is none).
    cur: usize,
    end: usize,
    /// The hole being allocated from (`hole_cur == hole_end`: none).
    hole_cur: usize,
    hole_end: usize,
    /// Holes still to allocate from, in address order.
    holes: VecDeque<(usize, usize)>,
    /// Bytes of objects (not gaps) in the space, dead ones included until
    /// they are swept.
    live: usize,
    /// Bytes of the chunks in use.
    capacity: usize,
    sweep: Option<Sweep>,
    /// Bytes freed by the sweeper since [`OldSpace::take_swept`].
    swept: usize,
}

impl OldSpace {
    /// An empty old space of `chunk_size` chunks.
    pub(crate) fn new(chunk_size: usize) -> OldSpace {
        OldSpace {
            chunks: Vec::new(),
            spare: Vec::new(),
            chunk_size,
            cur: NO_CHUNK,
            end: NO_CHUNK,
            hole_cur: 0,
            hole_end: 0,
            holes: VecDeque::new(),
            live: 0,
            capacity: 0,
            sweep: None,
            swept: 0,
        }
    }

    /// Bytes of objects in the space (dead ones not yet swept included).
    #[inline]
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Bytes of memory the space's chunks take.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes the sweeper freed since the last call.
    pub(crate) fn take_swept(&mut self) -> usize {
        std::mem::take(&mut self.swept)
    }

    /// Allocates `size` bytes (a multiple of 8, not 0), 8-aligned; `None`
    /// if the system refuses a chunk. The caller writes an object into
    /// them at once (the layout invariant). With `lazy`, a sweep under way
    /// may be advanced first (see "Allocation"); a minor collection
    /// promotes without it, so that its pause does not grow by the sweep.
    #[inline]
    pub(crate) fn alloc(&mut self, size: usize, lazy: bool) -> Option<NonNull<u8>> {
        debug_assert!(size > 0 && size.is_multiple_of(8));
        let p = if self.hole_end - self.hole_cur >= size {
            self.take_hole(size)
        } else {
            self.alloc_slow(size, lazy)?
        };
        self.live += size;
        // SAFETY: an address inside a chunk, never null.
        Some(unsafe { NonNull::new_unchecked(p as *mut u8) })
    }

    /// Takes `size` bytes from the front of the current hole and describes
    /// the rest of it as a gap.
    #[inline]
    fn take_hole(&mut self, size: usize) -> usize {
        let p = self.hole_cur;
        self.hole_cur += size;
        if self.hole_cur < self.hole_end {
            // SAFETY: the rest of the hole: free memory of a chunk.
            unsafe { write_gap(self.hole_cur, self.hole_end - self.hole_cur) };
        }
        p
    }

    #[cold]
    #[inline(never)]
    fn alloc_slow(&mut self, size: usize, lazy: bool) -> Option<usize> {
        if size <= MAX_HOLE_OBJECT {
            let mut swept = 0;
            loop {
                if let Some((s, e)) = self.holes.pop_front() {
                    if e - s >= size {
                        (self.hole_cur, self.hole_end) = (s, e);
                        return Some(self.take_hole(size));
                    }
                    continue;
                }
                // No hole: bump if the last chunk has room; before taking a
                // new chunk, sweep lazily, a chunk at a time and at most
                // `LAZY_SWEEP_CHUNKS` chunks per new chunk, so that the
                // lazy sweeping costs a bounded amount per byte allocated
                // even in a heap with nothing to free.
                if !lazy || self.end - self.cur >= size || swept == LAZY_SWEEP_CHUNKS {
                    break;
                }
                swept += 1;
                // SAFETY: a sweep under way was started by
                // `start_sweep`, whose caller vouched that every object
                // still reachable is marked.
                if !unsafe { self.sweep_one_chunk() } {
                    break;
                }
            }
        }
        self.bump(size)
    }

    /// Bump allocation in the last chunk, or in a new one.
    fn bump(&mut self, size: usize) -> Option<usize> {
        if self.end - self.cur < size {
            let chunk = match self.spare.pop() {
                Some(c) if c.cap >= size => c,
                other => {
                    self.spare.extend(other);
                    Chunk::new(self.chunk_size.max(size))?
                }
            };
            if let Some(last) = self.chunks.last_mut() {
                last.used = self.cur - last.addr();
            }
            self.capacity += chunk.cap;
            (self.cur, self.end) = (chunk.addr(), chunk.addr() + chunk.cap);
            self.chunks.push(chunk);
        }
        let p = self.cur;
        self.cur += size;
        Some(p)
    }

    /// The used end (offset) of chunk `i`.
    fn used_of(&self, i: usize) -> usize {
        let c = &self.chunks[i];
        if i + 1 == self.chunks.len() {
            self.cur - c.addr()
        } else {
            c.used
        }
    }

    /// Calls `f` on every object, in address order within each chunk,
    /// with whether it lies in the part of the space a sweep under way has
    /// not reached yet (where an unmarked object is dead, and may refer to
    /// memory already freed).
    ///
    /// # Safety
    ///
    /// 1. The space's layout invariant holds (every allocation it handed
    ///    out holds a complete object, see the module docs).
    pub(crate) unsafe fn for_each_object(&self, mut f: impl FnMut(ObjPtr, bool)) {
        for i in 0..self.chunks.len() {
            let (base, used) = (self.chunks[i].addr(), self.used_of(i));
            let mut off = 0;
            while off < used {
                // SAFETY: obligation 1: `off` is a layout position.
                match unsafe { item(base + off) } {
                    Err(len) => off += len,
                    Ok(p) => {
                        f(p, self.unswept(i, off));
                        // SAFETY: a complete object.
                        off += unsafe { p.size() };
                    }
                }
            }
        }
    }

    /// Whether offset `off` of chunk `i` lies in the part a sweep under way
    /// has not reached.
    fn unswept(&self, i: usize, off: usize) -> bool {
        self.sweep.as_ref().is_some_and(|sw| {
            let limit = if i + 1 == sw.chunks {
                sw.last_limit
            } else {
                usize::MAX
            };
            i < sw.chunks && (i > sw.chunk || (i == sw.chunk && off >= sw.off)) && off < limit
        })
    }

    /// Begins sweeping everything allocated so far (see "Sweeping"). From
    /// here on, allocation may sweep lazily, so the obligation is owed at
    /// once.
    ///
    /// # Safety
    ///
    /// 1. Every object of the space that anything (a root, a live object's
    ///    slot, a weak entry) can still reach is marked, and stays so until
    ///    the sweeper reaches it: an unmarked object will be freed.
    pub(crate) unsafe fn start_sweep(&mut self) {
        debug_assert!(self.sweep.is_none(), "a sweep is already under way");
        (self.hole_cur, self.hole_end) = (0, 0);
        self.holes.clear();
        let Some(last) = self.chunks.last() else {
            return;
        };
        self.sweep = Some(Sweep {
            chunk: 0,
            off: 0,
            chunks: self.chunks.len(),
            last_limit: self.cur - last.addr(),
            chunk_live: false,
            pending: Vec::new(),
            empty: Vec::new(),
        });
    }

    /// Sweeps within `budget` (bytes of objects and gaps walked, and
    /// time); returns whether the sweep is finished, and the bytes walked.
    ///
    /// # Safety
    ///
    /// 1. The obligation of [`OldSpace::start_sweep`] holds for the sweep
    ///    under way: every object still reachable is marked.
    pub(crate) unsafe fn sweep(&mut self, budget: Budget) -> (bool, usize) {
        let mut walked = 0;
        while self.sweep.is_some() && walked < budget.work && !budget.expired() {
            let left = (budget.work - walked).min(CLOCK_BYTES);
            // SAFETY: obligation 1.
            walked += unsafe { self.sweep_in_chunk(left) };
        }
        (self.sweep.is_none(), walked)
    }

    /// Sweeps the rest of the current chunk; returns whether there was a
    /// sweep to advance.
    ///
    /// # Safety
    ///
    /// 1. As for [`OldSpace::sweep`].
    unsafe fn sweep_one_chunk(&mut self) -> bool {
        let Some(sw) = &self.sweep else {
            return false;
        };
        let chunk = sw.chunk;
        while self.sweep.as_ref().is_some_and(|sw| sw.chunk == chunk) {
            // SAFETY: obligation 1.
            unsafe { self.sweep_in_chunk(usize::MAX) };
        }
        true
    }

    /// Sweeps at most about `budget` bytes of the current chunk, moving on
    /// to the next chunk (and ending the sweep) when it is done; returns
    /// the bytes walked.
    ///
    /// # Safety
    ///
    /// 1. As for [`OldSpace::sweep`].
    unsafe fn sweep_in_chunk(&mut self, budget: usize) -> usize {
        let n_chunks = self.chunks.len();
        let Some(sw) = self.sweep.as_mut() else {
            return 0;
        };
        if sw.chunk >= sw.chunks {
            self.finish_sweep();
            return 0;
        }
        let base = self.chunks[sw.chunk].addr();
        let limit = if sw.chunk + 1 == sw.chunks {
            sw.last_limit
        } else {
            // A chunk before the last one was sealed when its successor
            // was started.
            debug_assert!(sw.chunk + 1 < n_chunks);
            self.chunks[sw.chunk].used
        };
        let start = sw.off;
        let (mut run_start, mut run_len) = (sw.off, 0);
        while sw.off < limit && sw.off - start < budget {
            let a = base + sw.off;
            // SAFETY: `off` is a layout position below the chunk's used
            // end (the sweep walks from 0 by sizes).
            let (len, free) = match unsafe { item(a) } {
                Err(len) => (len, true),
                Ok(p) => {
                    // SAFETY: a complete object.
                    let (m, size) = unsafe { (meta(p), p.size()) };
                    if m & MARK != 0 {
                        // SAFETY: a live object of the space.
                        unsafe { set_meta(p, m & !MARK) };
                        (size, false)
                    } else {
                        // Dead (obligation 1): its bytes are free.
                        self.live -= size;
                        self.swept += size;
                        (size, true)
                    }
                }
            };
            if free {
                if run_len == 0 {
                    run_start = sw.off;
                }
                run_len += len;
            } else {
                sw.chunk_live = true;
                // SAFETY: the run is what this walk found dead or free
                // since `run_start`, in the chunk being swept.
                unsafe { close_run(&mut sw.pending, base + run_start, run_len) };
                run_len = 0;
            }
            sw.off += len;
        }
        // SAFETY: as above; no run is left open between two steps.
        unsafe { close_run(&mut sw.pending, base + run_start, run_len) };
        let walked = sw.off - start;
        if sw.off >= limit {
            let pending = std::mem::take(&mut sw.pending);
            // The chunk that was being bumped when the sweep began is never
            // released (objects may have been allocated past its limit).
            if !sw.chunk_live && sw.chunk + 1 < sw.chunks {
                sw.empty.push(sw.chunk);
            } else {
                self.holes
                    .extend(pending.into_iter().filter(|&(s, e)| e - s >= MIN_HOLE));
            }
            sw.chunk += 1;
            sw.off = 0;
            sw.chunk_live = false;
            if sw.chunk >= sw.chunks {
                self.finish_sweep();
            }
        }
        walked
    }

    /// Returns at most `n` spare chunks beyond [`SPARE_CHUNKS`] to the
    /// system.
    pub(crate) fn trim_spares(&mut self, n: usize) {
        for _ in 0..n {
            if self.spare.len() <= SPARE_CHUNKS {
                break;
            }
            self.spare.pop();
        }
    }

    /// Ends the sweep: the chunks found entirely free become spares.
    fn finish_sweep(&mut self) {
        let Some(sw) = self.sweep.take() else {
            return;
        };
        if sw.empty.is_empty() {
            return;
        }
        let mut empty = sw.empty.iter().copied().peekable();
        let old = std::mem::take(&mut self.chunks);
        for (i, c) in old.into_iter().enumerate() {
            if empty.next_if_eq(&i).is_some() {
                self.capacity -= c.cap;
                // Freed a few at a time by `trim_spares`: returning
                // hundreds of chunks to the system at once is a pause.
                self.spare.push(c);
            } else {
                self.chunks.push(c);
            }
        }
    }
}

/// Describes the free run of `len` bytes at `addr` as one gap and, if it
/// is big enough to allocate from, records it as a hole.
///
/// # Safety
///
/// 1. The `len` bytes at `addr` lie in one chunk of the space and hold
///    only dead objects and gaps, laid end to end from `addr`.
unsafe fn close_run(pending: &mut Vec<(usize, usize)>, addr: usize, len: usize) {
    if len == 0 {
        return;
    }
    // SAFETY: obligation 1: nothing will read those bytes as an object
    // again.
    unsafe { write_gap(addr, len) };
    if len >= MIN_HOLE {
        pending.push((addr, addr + len));
    }
}
