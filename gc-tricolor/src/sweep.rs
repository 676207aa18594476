//! Lazy sweeping: the span lists and the sweepers that move spans between
//! them after a termination.
//!
//! A span is in exactly one place: one of the lists below, the mutator's
//! cache, or the hands of the one sweeper that claimed it. Termination
//! advances the heap's sweep generation `sg` by two, which makes every
//! span unswept at once, and moves the `full` and `partial` lists to
//! `unswept` (a pointer copy per span). Then sweepers (the allocator
//! refilling a class, proportional sweep credit, safepoints, and idle
//! markers in the background) take spans off `unswept`, claim each by
//! compare-and-swap of its `sweepgen` from `sg - 2` to `sg - 1`, sweep its
//! bitmaps and publish the result by storing `sg` with `Release` (Go's
//! protocol, `span.rs`), and file it as full, partial, or (if empty)
//! return its block to the pool. The background sweeper takes and files
//! spans in batches ([`SWEEP_BATCH`] per acquisition of the lists lock)
//! and every sweeper returns blocks to the system outside that lock, so
//! that the allocator, which takes the lock on every refill, is rarely
//! kept waiting.
//!
//! Invariants:
//!
//! * No span is swept twice in a sweep phase (the claim fails otherwise,
//!   and `sweep_span` asserts it).
//! * `pending_sweep` counts the spans unswept or being swept; a new cycle
//!   starts only once it is zero ([`Tricolor::finish_sweep`], called by the
//!   cycle start), so marks of a new cycle never land on a span whose
//!   marks of the last cycle have not been consumed.
//! * Sweeping frees only cells unmarked at the last termination: dead
//!   objects, whose weak entries that termination cleared.

use std::ptr::NonNull;
use std::time::Duration;

use gc_core::stats::Phase;
use gc_core::{PauseWork, Safepoint};

use crate::span::{self, CLASSES, SpanRef};
use crate::sync::faults::{Fault, on as fault};
use crate::sync::{Ordering, lock, wait};
use crate::{SWEEPING, Shared, Tricolor, Unwinding};

/// Empty blocks kept for reuse instead of being returned to the system
/// (16 MiB: returning them sooner costs TLB shootdowns on every sweep).
const POOL_BLOCKS: usize = 256;

/// Span lists, by class (`LARGE` last). A span is in exactly one list, or
/// in the mutator's cache, or claimed by one sweeper.
pub(crate) struct Lists {
    /// Swept spans with free cells.
    pub(crate) partial: Vec<Vec<SpanRef>>,
    /// Swept spans without free cells, and live large objects.
    pub(crate) full: Vec<Vec<SpanRef>>,
    /// Spans to sweep in this sweep phase.
    pub(crate) unswept: Vec<Vec<SpanRef>>,
    /// Empty blocks for reuse.
    pub(crate) pool: Vec<BlockPtr>,
}

/// An empty block in the pool.
#[derive(Clone, Copy)]
pub(crate) struct BlockPtr(pub(crate) NonNull<u8>);
// SAFETY: an empty block is plain memory owned by whichever list holds it.
unsafe impl Send for BlockPtr {}

impl Lists {
    pub(crate) fn new() -> Lists {
        let v = || (0..=CLASSES).map(|_| Vec::new()).collect();
        Lists {
            partial: v(),
            full: v(),
            unswept: v(),
            pool: Vec::new(),
        }
    }

    fn pop_unswept_any(&mut self) -> Option<SpanRef> {
        self.unswept.iter_mut().find_map(|l| l.pop())
    }

    /// Makes every span unswept for a new sweep phase (at termination);
    /// returns how many there are.
    pub(crate) fn unsweep_all(&mut self) -> usize {
        let Lists {
            partial,
            full,
            unswept,
            ..
        } = self;
        let mut n = 0;
        for c in 0..=CLASSES {
            debug_assert!(unswept[c].is_empty());
            // O(1) for the big list: the pause must not grow with the
            // heap (appending 16,000 spans takes 0.1-0.3 ms at 1 GB).
            std::mem::swap(&mut unswept[c], &mut full[c]);
            unswept[c].append(&mut partial[c]);
            n += unswept[c].len();
        }
        n
    }

    /// Frees every span in the lists and in `cached`, and the pooled
    /// blocks.
    ///
    /// # Safety
    ///
    /// 1. No object of the heap is used again, and no sweeper or marker
    ///    runs: the heap is being dropped.
    /// 2. `cached` are the spans of the mutator's cache: with the lists,
    ///    every span there is.
    pub(crate) unsafe fn free_all(&mut self, cached: impl Iterator<Item = SpanRef>) {
        let Lists {
            partial,
            full,
            unswept,
            pool,
        } = self;
        let mut spans: Vec<SpanRef> = partial
            .iter_mut()
            .chain(full.iter_mut())
            .chain(unswept.iter_mut())
            .flat_map(|v| v.drain(..))
            .chain(cached)
            .collect();
        // A span is in one place; the loom suite's broken twins may break
        // that, and must not turn it into a double free.
        spans.sort_by_key(|s| s.0);
        spans.dedup();
        for s in spans {
            // SAFETY: obligations 1 and 2: no object is reachable, and
            // after deduplication this is the only use of each span.
            if let Some(b) = unsafe { s.destroy() } {
                // SAFETY: its span was just destroyed.
                unsafe { span::free_block(b) };
            }
        }
        for b in pool.drain(..) {
            // SAFETY: pooled blocks belong to no span.
            unsafe { span::free_block(b.0) };
        }
    }
}

impl Shared {
    /// Sweeps one span and files it. Returns it instead if it has free
    /// cells and `want` is its class (the allocator's refill).
    ///
    /// # Safety
    ///
    /// 1. `s` was taken off an unswept list in this sweep phase: the
    ///    caller holds the only reference to it.
    pub(crate) unsafe fn sweep_span(&self, s: SpanRef, want: Option<usize>) -> Option<SpanRef> {
        // SAFETY: obligation 1.
        let found = unsafe { self.sweep_claimed(s, want) };
        let (ret, release) = self.file(&mut lock(&self.lists), found, want);
        release_block(release);
        self.swept(1);
        ret
    }

    /// Claims and sweeps `s` (no lock held): what it found, to be filed.
    /// An empty span is destroyed here, unless `want` is its class.
    ///
    /// # Safety
    ///
    /// 1. As for [`sweep_span`](Self::sweep_span).
    unsafe fn sweep_claimed(&self, s: SpanRef, want: Option<usize>) -> Found {
        let sg = self.sweepgen.load(Ordering::Relaxed);
        let span = s.get();
        let claimed = span
            .sweepgen
            .compare_exchange(
                sg.wrapping_sub(2),
                sg.wrapping_sub(1),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok();
        assert!(claimed, "tricolor: span {:p} swept twice", span.block);
        let guard = Unwinding(self, Some(&self.pending_sweep));
        let swept = span.sweep(fault(self.faults, Fault::KeepMarks));
        std::mem::forget(guard);
        span.sweepgen.store(sg, Ordering::Release);
        self.freed.fetch_add(swept.freed, Ordering::Relaxed);
        if swept.live == 0 && want != Some(span.class) {
            // SAFETY: no cell is allocated: nothing refers to the span,
            // and this sweeper holds its only SpanRef (obligation 1).
            Found::Empty(unsafe { s.destroy() })
        } else if swept.live == span.cells {
            Found::Full(s)
        } else {
            Found::Free(s)
        }
    }

    /// Files what sweeping a span found (under the lists lock): returns
    /// the span if the caller wants it, and a block to give back to the
    /// system once the lock is released.
    fn file(
        &self,
        l: &mut Lists,
        found: Found,
        want: Option<usize>,
    ) -> (Option<SpanRef>, Option<NonNull<u8>>) {
        match found {
            Found::Empty(Some(b)) if l.pool.len() < POOL_BLOCKS => l.pool.push(BlockPtr(b)),
            Found::Empty(b) => return (None, b),
            Found::Full(s) => l.full[s.get().class].push(s),
            Found::Free(s) if want == Some(s.get().class) => return (Some(s), None),
            Found::Free(s) => l.partial[s.get().class].push(s),
        }
        (None, None)
    }

    /// Ends the sweep of `n` filed spans: wakes a waiting cycle start
    /// when no span is left.
    fn swept(&self, n: usize) {
        if self.pending_sweep.fetch_sub(n, Ordering::AcqRel) == n {
            let _g = lock(&self.ctl);
            self.idle_cv.notify_all();
        }
    }

    /// Sweeps one unswept span, of any class; false if none was left.
    pub(crate) fn sweep_one(&self) -> bool {
        let Some(s) = lock(&self.lists).pop_unswept_any() else {
            return false;
        };
        // SAFETY: just taken off an unswept list.
        unsafe { self.sweep_span(s, None) };
        true
    }

    /// Background sweeping: sweeps spans until none is left, claiming and
    /// filing up to [`SWEEP_BATCH`] spans per acquisition of the lists
    /// lock, so that the allocator (which takes it on every refill and
    /// for its sweep credit) rarely finds it taken. With one acquisition
    /// per span the two threads meet on the lock often enough that one
    /// `window` allocation can block on it a dozen times in a row, about
    /// 1 ms when each futex wake-up costs tens of microseconds.
    pub(crate) fn sweep_all(&self) {
        let mut batch = [None; SWEEP_BATCH];
        while self.phase.load(Ordering::Acquire) == SWEEPING {
            let n = {
                let mut l = lock(&self.lists);
                let mut n = 0;
                while n < SWEEP_BATCH
                    && let Some(s) = l.pop_unswept_any()
                {
                    batch[n] = Some(s);
                    n += 1;
                }
                n
            };
            if n == 0 {
                return;
            }
            let mut found = [const { Found::Empty(None) }; SWEEP_BATCH];
            for (f, s) in found.iter_mut().zip(&mut batch[..n]) {
                let s = s.take().expect("claimed above");
                // SAFETY: just taken off an unswept list.
                *f = unsafe { self.sweep_claimed(s, None) };
            }
            let mut release = [None; SWEEP_BATCH];
            {
                let mut l = lock(&self.lists);
                for (r, f) in release.iter_mut().zip(found.into_iter().take(n)) {
                    *r = self.file(&mut l, f, None).1;
                }
            }
            release.into_iter().for_each(release_block);
            self.swept(n);
        }
    }
}

/// Gives a block that [`Shared::file`] handed out back to the system,
/// outside the lists lock (`free` may trim memory with a system call).
fn release_block(b: Option<NonNull<u8>>) {
    if let Some(b) = b {
        // SAFETY: `file` hands out only blocks of destroyed spans.
        unsafe { span::free_block(b) };
    }
}

/// What sweeping a span found.
enum Found {
    /// No cell was live: the span is destroyed, its block (none for a
    /// large object) to be pooled or freed.
    Empty(Option<NonNull<u8>>),
    /// Every cell is live.
    Full(SpanRef),
    /// Some cells are free.
    Free(SpanRef),
}

/// Spans the background sweeper claims per acquisition of the lists lock
/// (two under loom, so that the models exercise a batch).
#[cfg(not(loom))]
const SWEEP_BATCH: usize = 16;
#[cfg(loom)]
const SWEEP_BATCH: usize = 2;

impl Tricolor {
    /// Proportional sweeping (Go's `deductSweepCredit`): for every span's
    /// worth of allocation, the allocator sweeps `n` unswept spans, so that
    /// the sweep phase ends long before the next cycle is due (the trigger
    /// leaves at least 0.5 x live bytes of allocation) and the cycle start
    /// rarely has anything left to sweep in its pause.
    pub(crate) fn sweep_credit(&self, n: usize) {
        if self.shared.pending_sweep.load(Ordering::Relaxed) == 0 {
            return;
        }
        for _ in 0..n {
            if !self.shared.sweep_one() {
                return;
            }
        }
    }

    /// Sweeps for at most `budget` at a safepoint, recorded as a `Sweep`
    /// pause if it swept anything; true if nothing is left to sweep (sweeps
    /// in flight elsewhere aside).
    pub(crate) fn sweep_for(&mut self, sp: &mut Safepoint<'_>, budget: Duration) -> bool {
        let mut done = false;
        sp.pause(Phase::Sweep, self, Tricolor::live, |this, _| {
            let t = std::time::Instant::now();
            let mut n = 0;
            done = loop {
                if !this.shared.sweep_one() {
                    break true;
                }
                n += 1;
                if t.elapsed() >= budget {
                    break false;
                }
            };
            (n > 0).then_some(PauseWork {
                visited: n,
                ..PauseWork::default()
            })
        });
        done
    }

    /// Sweeps everything still unswept and waits for sweeps in flight. If
    /// a sweep phase was open, records it as a `Sweep` pause: its length is
    /// the mutator's part (what the background sweep left, and the wait),
    /// its `freed` the whole phase's, wherever it was swept.
    pub(crate) fn finish_sweep(&mut self, sp: &mut Safepoint<'_>) {
        sp.pause(Phase::Sweep, self, Tricolor::live, |this, _| {
            let sh = &*this.shared;
            let mut n = 0;
            while sh.sweep_one() {
                n += 1;
            }
            if !fault(sh.faults, Fault::NoSweepWait) {
                let mut g = lock(&sh.ctl);
                while sh.pending_sweep.load(Ordering::Acquire) != 0 {
                    sh.check_poisoned();
                    g = wait(&sh.idle_cv, g);
                }
            }
            let (freed0, live0) = this.m.sweep_open.take()?;
            Some(PauseWork {
                visited: n,
                freed: Some(sh.freed.load(Ordering::Relaxed) - freed0),
                live_before: Some(live0),
                ..PauseWork::default()
            })
        });
    }
}
