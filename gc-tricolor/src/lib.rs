//! # gc-tricolor: concurrent tri-color marking with lazy sweeping
//!
//! Go's collector design behind gc-core's [`Collector`] trait: the program
//! keeps running while background threads mark; the stop-the-world pauses
//! are the root snapshot and the termination, and neither grows with the
//! heap; sweeping is paid for lazily, by allocation and by idle markers.
//!
//! ```
//! use gc_core::{CollectKind, Heap, HeapConfig, Value};
//! use gc_tricolor::Tricolor;
//!
//! let mut heap = Heap::<Tricolor>::new(HeapConfig::default()).unwrap();
//! let root = heap.mutate(|m| m.persist(m.alloc(1, &[Value::number(1.0)], &[]).unwrap()));
//! heap.mutate(|m| {
//!     for _ in 0..10_000 {
//!         m.alloc(2, &[], b"garbage").unwrap();
//!     }
//! });
//! heap.collect(CollectKind::Full);
//! heap.mutate(|m| assert_eq!(m.fetch(&root).get(0).as_number(), Some(1.0)));
//! ```
//!
//! ## Phases
//!
//! ```text
//!   idle ──(safepoint, heap ≥ trigger)──▶ mark start (pause: root snapshot)
//!     ▲                                        │
//!     │                              marking (concurrent: markers drain
//!     │                               the grey queue; the mutator runs
//!     │                               with the write barrier on and
//!     │                               allocates black)
//!     │                                        │
//!   sweeping (lazy: allocation and ◀── mark termination (pause: flush the
//!   idle markers sweep spans)          barrier buffer, check quiescence,
//!                                      clear dead weak entries, sg += 2)
//! ```
//!
//! Every transition happens at a safepoint, between `mutate` calls, by the
//! mutator thread. The phase is kept twice: in a `Cell` that only the
//! mutator reads (so the barrier's "is marking on?" is a plain load), and
//! in a shared atomic that markers read after being woken through the
//! control mutex (so they see it with the right happens-before).
//!
//! ## Colours
//!
//! An object is *white* if its mark bit is clear, *grey* if its mark bit is
//! set and it is in the grey queue (a crossbeam injector, the mutator's
//! barrier buffer on its way there, or a marker's local deque), and
//! *black* if its mark bit is set and it has been scanned. Mark bits live
//! in side bitmaps of the object's span (`src/span.rs`); a marker shades a
//! pointer by one atomic `fetch_or`, and only the caller that flipped the
//! bit pushes the object, so an object is pushed once per cycle however
//! many markers find it.
//!
//! The invariant that makes concurrent marking sound is the *weak
//! tri-colour invariant in its snapshot form*: every object that was
//! reachable when the cycle started is marked by the time marking
//! terminates. Three things keep it:
//!
//! 1. **Root snapshot.** At mark start every root (persistent roots and the
//!    root stack) is shaded, in the pause. The root stack has no barrier;
//!    it needs none, because anything stored into it later was either
//!    reachable at the snapshot (so it will be marked) or allocated since
//!    (so it is black).
//! 2. **Deletion barrier (Yuasa).** While marking, [`Collector::write_slot`]
//!    shades the value it overwrites. A path that existed at the snapshot
//!    can only be cut by overwriting a slot, and the barrier preserves the
//!    object that was cut off, so every snapshot-reachable object stays
//!    reachable from a grey object or is already marked. Weak upgrades
//!    shade their target for the same reason (the mutator gains a
//!    reference the snapshot did not show).
//! 3. **Allocate black.** An object allocated while marking has its mark
//!    bit set before the allocator returns it, so it survives the cycle
//!    without being scanned. Objects allocated after termination live in
//!    spans that were swept first (allocation only ever uses swept spans),
//!    so the stale "unmarked" state of their cell is never mistaken for
//!    death: their span is not swept again until after the next cycle,
//!    which sees them through the snapshot.
//!
//! Anything unmarked at termination was unreachable at the snapshot and
//! nothing can make it reachable again (the mutator only obtains references
//! from roots, reachable objects, allocation and weak upgrades): it is
//! garbage. Weak entries naming it are cleared in the termination pause
//! (Collector obligation 6); its cell is reused when the span is swept.
//! This refines gc-core's obligation 2 in one way, recorded in
//! `docs/ARCHITECTURE.md`: the *memory* of a dead object is reused outside
//! a safepoint, but only after the safepoint that established, and
//! published, that no reference to it can exist.
//!
//! ## Termination
//!
//! Marking is done when no grey object exists anywhere. Grey objects hide in
//! three places: the mutator's barrier buffer (flushed at every safepoint),
//! the shared injector, and markers' local deques. A marker increments
//! `busy` *before* it steals and decrements it only once its own deque is
//! empty and every steal failed; only a deque's owner pushes to it. So
//! after the flush, "injector empty, then `busy == 0`" (read in that order,
//! with a `SeqCst` fence between, against the marker's increment, fence,
//! steal) means every grey object has been scanned. This is decided at a
//! safepoint, where the mutator cannot produce new grey objects. If the
//! markers are not done, the mutator carries on and checks again at the
//! next safepoint, unless it has allocated past the heap goal, in which
//! case it assists (drains the queue itself) and then waits for the markers;
//! that time is recorded as an [`Phase::Assist`] pause, never hidden.
//!
//! ## Sweeping
//!
//! Termination advances the sweep generation `sg` by two, which makes every
//! span "unswept" at once, and moves the span lists to the unswept lists
//! (a pointer copy per span; no span is touched). Then:
//!
//! * the allocator, needing a span of class *c*, takes a swept span with
//!   free cells, or sweeps unswept spans of class *c* until one has room,
//!   or takes a fresh block: it never allocates in an unswept span;
//! * idle markers sweep the remaining spans in the background and return
//!   empty blocks to a pool (and beyond it, to the system).
//!
//! A sweeper claims a span by compare-and-swap of its `sweepgen` from
//! `sg - 2` to `sg - 1` and publishes it with `sg` (Go's protocol), so a
//! span is never swept twice. A new cycle starts only when every span is
//! swept (the start pause sweeps what is left and waits for sweeps in
//! flight): marks of the new cycle can never land on a span whose marks of
//! the last cycle have not been consumed.
//!
//! ## Pacing
//!
//! After termination with `L` bytes marked the heap goal is
//! `L * (1 + growth_factor)` (at least 4 MiB, at most the heap limit), and
//! the next cycle is triggered when the heap reaches `L + 0.5 * (goal - L)`,
//! leaving the rest for allocation during marking. [`Collector::should_yield`]
//! asks the mutator for a safepoint when the trigger is reached, when
//! markers have gone quiet (so termination is not delayed), or when the
//! goal is passed (so the mutator can assist).
//!
//! ## Memory ordering
//!
//! * Objects allocated before a cycle are published to markers by the
//!   mark-start pause: it pushes the roots into the injector and wakes the
//!   markers through the control mutex; they acquire it.
//! * During marking, references are stored into slots with `Release` and
//!   markers load slots with `Acquire`. An object's initialisation (and
//!   its span descriptor's) precedes, in program order, every store of a
//!   reference to it, so a marker that finds a pointer sees the object.
//!   (Objects allocated black are never scanned, but their span descriptor
//!   is read to shade them.) On x86-64 these are plain loads and stores
//!   (AArch64 uses `stlr`/`ldar`).
//! * Mark bits are set with `AcqRel` read-modify-writes and read by the
//!   termination check through the `busy` counter's release sequence.
//!
//! All of this goes through the sync shim (`src/sync.rs`), so the loom models in
//! `tests/loom_*.rs` check this code, not a copy. Run them with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
//!     cargo test --release -p gc-tricolor --tests
//! ```
//!
//! (CI runs them with `LOOM_MAX_PREEMPTIONS=2`: about 30 s. At 3, the
//! barrier models take about 1 minute and the allocation models 2; the
//! three-thread models of `loom_markers.rs` did not finish in 10 minutes
//! on the 2-core reference machine.) Each important model has
//! a broken twin that switches on one deliberate bug ([`faults`]) and must
//! fail.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use gc_core::stats::Phase;
use gc_core::{
    AllocError, Capabilities, CollectKind, Collector, ConfigError, HeapConfig, HeapCounters,
    ObjPtr, PauseInfo, RawValue, Request, Safepoint, SlotInit,
};

mod span;
mod sync;

#[doc(hidden)]
pub use sync::faults;

use span::{CLASSES, LARGE, SpanRef};
use sync::deque::{Injector, Steal, Stealer, Worker};
use sync::faults::{Fault, on as fault};
use sync::{
    Arc, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering, SlotMirror,
    fence, lock, thread, wait,
};

/// Smallest heap goal: below this, cycles would be too frequent to pay.
const MIN_GOAL: u64 = 4 << 20;
/// Fraction of the distance from live to goal at which a cycle starts.
const TRIGGER_RATIO: f64 = 0.5;
/// Barrier buffer entries before a flush to the injector.
const BUFFER_CAP: usize = 256;
/// A marker shares half its deque when it holds more than this.
const SHARE_AT: usize = 128;
/// Empty blocks kept for reuse instead of being returned to the system
/// (16 MiB: returning them sooner cost TLB shootdowns on every sweep).
const POOL_BLOCKS: usize = 256;
/// Unswept spans the allocator sweeps per span it allocates in.
const SWEEP_PER_REFILL: usize = 2;
/// Longest a safepoint sweeps before a cycle may start.
const SWEEP_SLICE: Duration = Duration::from_micros(50);
/// Longest a mutator assists at one safepoint before it lets the markers
/// finish alone (unless the heap limit is near).
const ASSIST_BUDGET: Duration = Duration::from_micros(80);
/// After a bounded assist of length `d`, the next waits `d * ASSIST_SPACING`.
const ASSIST_SPACING: u32 = 3;

const IDLE: u32 = 0;
const MARKING: u32 = 1;
const SWEEPING: u32 = 2;

/// The concurrent tri-color collector. See the [crate docs](crate).
pub struct Tricolor {
    shared: Arc<Shared>,
    workers: Vec<thread::JoinHandle<()>>,
    /// The mutator's own deque for assists (nobody steals from it).
    local: Worker<ObjPtr>,
    /// Mutator-side state: touched only by the mutator thread (the
    /// collector is `!Sync` through these cells).
    m: MutatorState,
}

struct MutatorState {
    marking: Cell<bool>,
    /// Per class: the span being allocated in.
    cache: [Cell<Cache>; CLASSES],
    buffer: RefCell<Vec<ObjPtr>>,
    allocated: Cell<u64>,
    objects: Cell<u64>,
    /// `shared.freed` as last read.
    freed_seen: Cell<u64>,
    peak: Cell<u64>,
    /// Bytes allocated black in this cycle.
    black: Cell<u64>,
    trigger: Cell<u64>,
    goal: Cell<u64>,
    limit: u64,
    growth: f64,
    small_max: usize,
    /// Set at termination: the sweep phase is open; `shared.freed` and the
    /// live bytes then.
    sweep_open: Cell<Option<(u64, u64)>>,
    /// Go's `heapLive`: bytes marked at the last termination plus bytes
    /// allocated since. Pacing compares this, not `allocated - freed`,
    /// with the trigger and the goal: garbage not yet swept must not start
    /// the next cycle (the reviewer's finding: it made cycles run back to
    /// back right after a termination that freed most of the heap).
    paced: Cell<u64>,
    /// An allocation failed at the heap limit since the last safepoint.
    oom: Cell<bool>,
    /// No bounded assist before this instant.
    assist_allowed: Cell<Instant>,
    /// A termination happened since the last verification.
    verify_walk: Cell<bool>,
    /// Stress mode: safepoints come often anyway, so `should_yield` does
    /// not add more when markers finish (that made cycles back-to-back at
    /// every 1024 instructions of the Lox VM, each verified).
    stress: bool,
}

#[derive(Clone, Copy, Default)]
struct Cache {
    span: Option<SpanRef>,
    /// Index of the bitmap word `free` came from.
    word: usize,
    /// Free cells of that word not yet handed out.
    free: u64,
}

/// State shared with the marker threads.
struct Shared {
    injector: Injector<ObjPtr>,
    stealers: Vec<Stealer<ObjPtr>>,
    /// Markers (and an assisting mutator) that may hold grey objects.
    busy: AtomicUsize,
    phase: AtomicU32,
    ctl: Mutex<Ctl>,
    /// Markers wait here for work (a new `Ctl::epoch`).
    work_cv: Condvar,
    /// The mutator waits here for markers to go idle.
    idle_cv: Condvar,
    /// A hint for `should_yield`: markers found nothing left to do.
    mark_done: AtomicBool,
    lists: Mutex<Lists>,
    sweepgen: AtomicU32,
    /// Spans unswept or being swept in this sweep phase.
    pending_sweep: AtomicUsize,
    /// Bytes freed by sweeping, ever.
    freed: AtomicU64,
    concurrent_nanos: AtomicU64,
    mirror: SlotMirror,
    /// A marker or sweeper panicked: the heap's state is unknown, and the
    /// next safepoint panics instead of waiting for it forever.
    poisoned: AtomicBool,
    faults: u32,
}

/// Armed while a marker holds `busy` or a sweeper holds a claimed span: if
/// it is dropped by unwinding, it releases the count (so nobody waits
/// forever) and poisons the heap.
struct Unwinding<'a>(&'a Shared, Option<&'a AtomicUsize>);

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        self.0.poisoned.store(true, Ordering::SeqCst);
        if let Some(c) = self.1 {
            c.fetch_sub(1, Ordering::SeqCst);
        }
        let _g = lock(&self.0.ctl);
        self.0.idle_cv.notify_all();
    }
}

impl Shared {
    /// Panics if a collector thread panicked (called by the mutator before
    /// it changes anything, and in its waits).
    fn check_poisoned(&self) {
        assert!(
            !self.poisoned.load(Ordering::SeqCst),
            "gc-tricolor: a collector thread panicked; this heap can no longer collect"
        );
    }
}

/// Control state. The per-cycle counts live here, under the lock, rather
/// than in atomics: they are reset at every cycle start, and a plain reset
/// racing a late increment is exactly what the lock rules out (loom found
/// the atomic version double-counting a cycle).
struct Ctl {
    epoch: u64,
    shutdown: bool,
    /// Bytes marked by shading in this cycle (allocate-black is counted by
    /// the mutator).
    marked: u64,
    /// Objects scanned in this cycle.
    scanned: u64,
}

/// Span lists, by class (`LARGE` last). A span is in exactly one list, or
/// in the mutator's cache, or claimed by one sweeper.
struct Lists {
    /// Swept spans with free cells.
    partial: Vec<Vec<SpanRef>>,
    /// Swept spans without free cells, and live large objects.
    full: Vec<Vec<SpanRef>>,
    /// Spans to sweep in this sweep phase.
    unswept: Vec<Vec<SpanRef>>,
    /// Empty blocks for reuse.
    pool: Vec<BlockPtr>,
}

#[derive(Clone, Copy)]
struct BlockPtr(std::ptr::NonNull<u8>);
// SAFETY: an empty block is plain memory owned by whichever list holds it.
unsafe impl Send for BlockPtr {}

impl Lists {
    fn new() -> Lists {
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
}

impl Shared {
    /// Bumps the work epoch and wakes every marker.
    fn kick(&self) {
        let mut g = lock(&self.ctl);
        // Under the lock: a marker going idle stores `true` under it too,
        // after looking at the injector.
        self.mark_done.store(false, Ordering::Relaxed);
        g.epoch += 1;
        self.work_cv.notify_all();
    }

    /// Shades `p`: sets its mark bit and returns its cell size if this call
    /// set it (the caller then pushes it).
    ///
    /// # Safety
    ///
    /// 1. `p` is an object of this collector that was allocated when the
    ///    cycle started or since, in a span not yet destroyed.
    #[inline]
    unsafe fn shade(&self, p: ObjPtr) -> Option<u64> {
        // SAFETY: obligation 1.
        let span = unsafe { SpanRef::of(p) }.get();
        let i = span.cell_index(p.addr());
        if cfg!(any(loom, debug_assertions)) {
            assert!(
                span.is_allocated(i),
                "tricolor: marker reached {p:?}, a cell that is not allocated"
            );
            assert!(
                span.sweepgen.load(Ordering::Acquire) == self.sweepgen.load(Ordering::Relaxed),
                "tricolor: marking in a span that has not been swept"
            );
        }
        span.try_mark(i, fault(self.faults, Fault::RacyShade))
            .then_some(span.cell as u64)
    }

    /// Blackens `obj`: shades everything it references, pushing newly
    /// grey objects on `out`. Returns the bytes it shaded.
    ///
    /// # Safety
    ///
    /// 1. `obj` is marked and was allocated before the cycle started (so
    ///    it is alive until the cycle's termination).
    unsafe fn scan(&self, obj: ObjPtr, out: &Worker<ObjPtr>) -> u64 {
        let mut bytes = 0;
        // SAFETY: obligation 1.
        for s in unsafe { obj.slots() } {
            let v = RawValue::from_bits(self.mirror.load(s));
            if let Some(p) = v.as_ptr() {
                // SAFETY: `p` was in a slot of a live object, so it is a
                // live object of this collector (or reachable from the
                // snapshot, which keeps it allocated until termination).
                if let Some(b) = unsafe { self.shade(p) } {
                    bytes += b;
                    out.push(p);
                }
            }
        }
        bytes
    }

    fn steal(&self, local: &Worker<ObjPtr>, me: Option<usize>) -> Option<ObjPtr> {
        loop {
            let mut retry = false;
            match self.injector.steal_batch_and_pop(local) {
                Steal::Success(p) => return Some(p),
                s => retry |= s.is_retry(),
            }
            for (i, s) in self.stealers.iter().enumerate() {
                if Some(i) == me {
                    continue;
                }
                match s.steal() {
                    Steal::Success(p) => return Some(p),
                    s => retry |= s.is_retry(),
                }
            }
            if !retry {
                return None;
            }
        }
    }

    /// Drains grey objects until none can be found (or `deadline` passes,
    /// for an assisting mutator). Returns whether it ran out of work.
    fn drain(&self, local: &Worker<ObjPtr>, me: Option<usize>, deadline: Option<Instant>) -> bool {
        self.busy.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let guard = Unwinding(self, Some(&self.busy));
        let (mut bytes, mut objects) = (0, 0u64);
        let mut out_of_work = true;
        while let Some(obj) = local.pop().or_else(|| self.steal(local, me)) {
            // SAFETY: everything in the grey queue is a marked object that
            // was reachable at the snapshot or shaded by the barrier.
            bytes += unsafe { self.scan(obj, local) };
            objects += 1;
            if local.len() > SHARE_AT {
                for _ in 0..SHARE_AT / 2 {
                    match local.pop() {
                        Some(p) => self.injector.push(p),
                        None => break,
                    }
                }
                self.kick();
            }
            if objects % 64 == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
                // Hand what is left to the markers.
                while let Some(p) = local.pop() {
                    self.injector.push(p);
                }
                self.kick();
                out_of_work = false;
                break;
            }
        }
        std::mem::forget(guard);
        let mut g = lock(&self.ctl);
        g.marked += bytes;
        g.scanned += objects;
        if self.busy.fetch_sub(1, Ordering::SeqCst) == 1 {
            if self.injector.is_empty() {
                self.mark_done.store(true, Ordering::Relaxed);
            }
            self.idle_cv.notify_all();
        }
        out_of_work
    }

    /// Whether marking is over: no grey object anywhere. Call after the
    /// barrier buffer was flushed.
    fn quiescent(&self) -> bool {
        if !self.injector.is_empty() {
            return false;
        }
        fence(Ordering::SeqCst);
        // Taking the lock also makes every idle marker's counts and marks
        // visible (they decrement `busy` under it).
        let _g = lock(&self.ctl);
        fault(self.faults, Fault::IgnoreBusyMarkers) || self.busy.load(Ordering::SeqCst) == 0
    }

    /// Sweeps one claimed span and files it. Returns it instead if it has
    /// free cells and `want` is its class (the allocator's refill).
    fn sweep_span(&self, s: SpanRef, want: Option<usize>) -> Option<SpanRef> {
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
        let class = span.class;
        let mut ret = None;
        {
            let mut l = lock(&self.lists);
            if swept.live == 0 && want != Some(class) {
                // SAFETY: no cell is allocated: nothing refers to the span,
                // and this sweeper holds its only SpanRef.
                if let Some(b) = unsafe { s.destroy() } {
                    if l.pool.len() < POOL_BLOCKS {
                        l.pool.push(BlockPtr(b));
                    } else {
                        // SAFETY: the block's span was just destroyed.
                        unsafe { span::free_block(b) };
                    }
                }
            } else if swept.live == span.cells {
                l.full[class].push(s);
            } else if want == Some(class) {
                ret = Some(s);
            } else {
                l.partial[class].push(s);
            }
        }
        if self.pending_sweep.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _g = lock(&self.ctl);
            self.idle_cv.notify_all();
        }
        ret
    }

    /// Sweeps one unswept span, of any class; false if none was left.
    fn sweep_one(&self) -> bool {
        let Some(s) = lock(&self.lists).pop_unswept_any() else {
            return false;
        };
        self.sweep_span(s, None);
        true
    }

    /// Background sweeping: sweeps spans until none is left.
    fn sweep_all(&self) {
        while self.phase.load(Ordering::Acquire) == SWEEPING && self.sweep_one() {}
    }
}

/// Makes the calling marker thread a batch thread on Linux: waking it then
/// does not preempt the mutator that woke it. Without this, on a machine
/// with more runnable threads than cores, the kick at the end of the
/// mark-start pause handed the CPU to the marker for a whole time slice
/// (mark-start p90 of 3-5 ms on a machine at load 4 with 2 cores; 11 us
/// with it).
fn demote_marker_thread() {
    #[cfg(all(target_os = "linux", not(loom)))]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sched_setscheduler with pid 0 changes the calling
        // thread's policy; `param` is a valid, initialised struct that
        // outlives the call. Failure (no permission) leaves the policy as
        // it was, which is fine.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    }
}

fn worker_main(shared: Arc<Shared>, local: Worker<ObjPtr>, me: usize) {
    demote_marker_thread();
    let mut seen = 0;
    loop {
        {
            let mut g = lock(&shared.ctl);
            while g.epoch == seen && !g.shutdown {
                g = wait(&shared.work_cv, g);
            }
            if g.shutdown {
                return;
            }
            seen = g.epoch;
        }
        match shared.phase.load(Ordering::Acquire) {
            MARKING => {
                let t = Instant::now();
                shared.drain(&local, Some(me), None);
                shared
                    .concurrent_nanos
                    .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
            }
            SWEEPING => shared.sweep_all(),
            _ => {}
        }
    }
}

impl Tricolor {
    fn live(&self) -> u64 {
        let freed = self.shared.freed.load(Ordering::Relaxed);
        self.m.freed_seen.set(freed);
        self.m.allocated.get() - freed
    }

    /// Sets the mark bit of a fresh object if marking (allocate black).
    #[inline]
    fn born(&self, span: &span::Span, i: usize) {
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
    ) -> Result<(std::ptr::NonNull<u8>, SpanRef, usize), AllocError> {
        let cell = span::CLASS_SIZES[class] as u64;
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

    /// A swept span of `class` with free cells, owned by the caller.
    fn refill(&self, class: usize) -> Option<SpanRef> {
        self.live();
        loop {
            let mut l = lock(&self.shared.lists);
            if let Some(s) = l.partial[class].pop() {
                return Some(s);
            }
            if let Some(s) = l.unswept[class].pop() {
                drop(l);
                if let Some(s) = self.shared.sweep_span(s, Some(class)) {
                    self.sweep_credit(SWEEP_PER_REFILL);
                    return Some(s);
                }
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

    fn alloc_large(
        &self,
        size: usize,
    ) -> Result<(std::ptr::NonNull<u8>, SpanRef, usize), AllocError> {
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

    /// Proportional sweeping (Go's `deductSweepCredit`): for every span's
    /// worth of allocation, the allocator sweeps `n` unswept spans, so that
    /// the sweep phase ends long before the next cycle is due (the trigger
    /// leaves at least 0.5 x live bytes of allocation) and the cycle start
    /// rarely has anything left to sweep in its pause.
    fn sweep_credit(&self, n: usize) {
        if self.shared.pending_sweep.load(Ordering::Relaxed) == 0 {
            return;
        }
        for _ in 0..n {
            if !self.shared.sweep_one() {
                return;
            }
        }
    }

    /// Sweeps for at most `budget` at a safepoint; true if nothing is left
    /// to sweep (sweeps in flight elsewhere aside).
    fn sweep_for(&self, sp: &mut Safepoint<'_>, budget: Duration) -> bool {
        let t = Instant::now();
        let live_before = self.live();
        let mut n = 0;
        let done = loop {
            if !self.shared.sweep_one() {
                break true;
            }
            n += 1;
            if t.elapsed() >= budget {
                break false;
            }
        };
        if n > 0 {
            sp.record(
                Phase::Sweep,
                t,
                PauseInfo {
                    live_before,
                    live_after: self.live(),
                    freed: live_before.saturating_sub(self.live()),
                    visited: n,
                    ..PauseInfo::default()
                },
            );
        }
        done
    }

    /// Whether `bytes` is within 1/16 of the heap limit: then the mutator
    /// finishes collector work at once instead of in bounded slices.
    fn near_limit(&self, bytes: u64) -> bool {
        bytes + bytes / 16 >= self.m.limit
    }

    /// Whether enough mutator time has passed since the last bounded
    /// assist (assists over the goal are spaced out so that they cannot
    /// take more than 1 / (1 + ASSIST_SPACING) of any stretch of time).
    fn assist_allowed(&self) -> bool {
        Instant::now() >= self.m.assist_allowed.get()
    }

    /// Queues `p` for shading (the barrier's slow path).
    #[inline]
    fn remember(&self, p: ObjPtr) {
        // SAFETY: `p` is live (the caller read it from a live object or was
        // handed it by safe code), so its span exists.
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
    fn flush_buffer(&self) {
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
                self.shared.injector.push(p);
            }
        }
        drop(b);
        lock(&self.shared.ctl).marked += bytes;
        self.shared.kick();
    }

    /// Sweeps everything still unswept and waits for sweeps in flight. If
    /// a sweep phase was open, records it as a `Sweep` pause: its length is
    /// the mutator's part (what the background sweep left, and the wait),
    /// its `freed` the whole phase's, wherever it was swept.
    fn finish_sweep(&self, sp: &mut Safepoint<'_>) {
        let t = Instant::now();
        let mut n = 0;
        while self.shared.sweep_one() {
            n += 1;
        }
        if !fault(self.shared.faults, Fault::NoSweepWait) {
            let mut g = lock(&self.shared.ctl);
            while self.shared.pending_sweep.load(Ordering::Acquire) != 0 {
                self.shared.check_poisoned();
                g = wait(&self.shared.idle_cv, g);
            }
        }
        if let Some((freed0, live0)) = self.m.sweep_open.take() {
            let freed = self.shared.freed.load(Ordering::Relaxed) - freed0;
            sp.record(
                Phase::Sweep,
                t,
                PauseInfo {
                    live_before: live0,
                    live_after: self.live(),
                    freed,
                    visited: n,
                    ..PauseInfo::default()
                },
            );
        }
    }

    fn start_cycle(&mut self, sp: &mut Safepoint<'_>) {
        self.finish_sweep(sp);
        let t = Instant::now();
        let sh = &*self.shared;
        sh.phase.store(IDLE, Ordering::Release);
        {
            let mut g = lock(&sh.ctl);
            g.marked = 0;
            g.scanned = 0;
        }
        self.m.black.set(0);
        self.m.marking.set(true);
        let mut roots = 0u64;
        let mut bytes = 0;
        let mut shade_root = |p: &mut ObjPtr| {
            roots += 1;
            // SAFETY: roots name live objects (safepoint obligation 2).
            if let Some(n) = unsafe { sh.shade(*p) } {
                bytes += n;
                sh.injector.push(*p);
            }
        };
        if fault(sh.faults, Fault::NoStackSnapshot) {
            sp.for_each_persistent_root(&mut shade_root);
        } else {
            sp.for_each_root(&mut shade_root);
        }
        lock(&sh.ctl).marked += bytes;
        sh.phase.store(MARKING, Ordering::Release);
        sh.kick();
        let live = self.live();
        sp.record(
            Phase::MarkStart,
            t,
            PauseInfo {
                live_before: live,
                live_after: live,
                roots,
                ..PauseInfo::default()
            },
        );
    }

    /// Flushes the barrier and terminates marking if nothing grey is left.
    fn try_terminate(&mut self, sp: &mut Safepoint<'_>) -> bool {
        if !fault(self.shared.faults, Fault::NoBufferFlush) {
            self.flush_buffer();
        }
        if !self.shared.quiescent() {
            return false;
        }
        self.terminate(sp);
        true
    }

    /// Helps the markers (and then waits for them) until marking is done,
    /// or until `budget` has passed. Records the time as an assist pause.
    fn assist(&mut self, sp: &mut Safepoint<'_>, budget: Option<Duration>) -> bool {
        let t = Instant::now();
        let deadline = budget.map(|b| t + b);
        let done = loop {
            self.flush_buffer();
            self.shared.drain(&self.local, None, deadline);
            if self.shared.quiescent() {
                break true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break false;
            }
            if deadline.is_some() {
                // The markers hold the remaining work: give them the CPU
                // until the budget runs out, then let the mutator go on.
                thread::yield_now();
                continue;
            }
            let mut g = lock(&self.shared.ctl);
            while self.shared.busy.load(Ordering::SeqCst) != 0 && self.shared.injector.is_empty() {
                self.shared.check_poisoned();
                g = wait(&self.shared.idle_cv, g);
            }
        };
        let now = Instant::now();
        self.m.assist_allowed.set(now + (now - t) * ASSIST_SPACING);
        let live = self.live();
        sp.record(
            Phase::Assist,
            t,
            PauseInfo {
                live_before: live,
                live_after: live,
                ..PauseInfo::default()
            },
        );
        done
    }

    /// Runs the current cycle to its end, in this pause.
    fn finish_cycle(&mut self, sp: &mut Safepoint<'_>) {
        while self.m.marking.get() {
            if !self.try_terminate(sp) {
                self.assist(sp, None);
            }
        }
    }

    fn terminate(&mut self, sp: &mut Safepoint<'_>) {
        let t = Instant::now();
        let sh = &*self.shared;
        let live_before = self.live();
        // Dead weak targets: unmarked at termination.
        let mut cleared = 0;
        sp.for_each_weak(|_, target| {
            if let Some(p) = *target {
                // SAFETY: an uncleared weak entry names an allocated object;
                // its span is not swept before this pause ends.
                let span = unsafe { SpanRef::of(p) }.get();
                if !span.is_marked(span.cell_index(p.addr())) {
                    *target = None;
                    cleared += 1;
                }
            }
        });
        let (marked, scanned) = {
            let g = lock(&sh.ctl);
            (g.marked + self.m.black.get(), g.scanned)
        };
        // Every span becomes unswept; the mutator's cached spans with them.
        let keep_cache = fault(sh.faults, Fault::KeepCacheAtTermination);
        for c in &self.m.cache {
            let e = if keep_cache { c.get() } else { c.take() };
            if let Some(s) = e.span {
                lock(&sh.lists).full[s.get().class].push(s);
            }
        }
        let sg = sh.sweepgen.load(Ordering::Relaxed).wrapping_add(2);
        sh.sweepgen.store(sg, Ordering::Release);
        {
            let mut l = lock(&sh.lists);
            let Lists {
                partial,
                full,
                unswept,
                ..
            } = &mut *l;
            let mut n = 0;
            for c in 0..=CLASSES {
                debug_assert!(unswept[c].is_empty());
                // O(1) for the big list: the pause must not grow with the
                // heap (appending 16,000 spans took 0.1-0.3 ms at 1 GB).
                std::mem::swap(&mut unswept[c], &mut full[c]);
                unswept[c].append(&mut partial[c]);
                n += unswept[c].len();
            }
            sh.pending_sweep.store(n, Ordering::Release);
        }
        self.m.marking.set(false);
        self.m.verify_walk.set(true);
        self.m
            .sweep_open
            .set(Some((sh.freed.load(Ordering::Relaxed), live_before)));
        sh.mirror.clear();
        let goal = ((marked as f64 * (1.0 + self.m.growth)) as u64)
            .max(MIN_GOAL)
            .min(self.m.limit);
        self.m.goal.set(goal);
        self.m.paced.set(marked);
        self.m
            .trigger
            .set(marked + ((goal.saturating_sub(marked)) as f64 * TRIGGER_RATIO) as u64);
        sh.phase.store(SWEEPING, Ordering::Release);
        sh.kick();
        sp.record(
            Phase::MarkTermination,
            t,
            PauseInfo {
                live_before,
                live_after: marked,
                visited: scanned,
                roots: cleared,
                ..PauseInfo::default()
            },
        );
    }
}

/// Bits of bitmap word `w` that name real cells.
#[inline]
fn valid_bits(cells: usize, w: usize) -> u64 {
    let rest = cells - w * 64;
    if rest >= 64 { !0 } else { (1u64 << rest) - 1 }
}

// SAFETY: obligations of `Collector`, argued in the crate docs:
// 1. `alloc` initialises a cell of a span (8-aligned, inside a block that
//    `alloc_raw` checked with `addressable`) that is not allocated.
// 2. Objects never move; cells are reused only by sweeping, which frees
//    cells unmarked at a termination (dead, and cleared from weak entries
//    in that safepoint); the refinement is recorded in ARCHITECTURE.md.
// 3. Marking terminates only when every object reachable from the snapshot
//    is marked (root snapshot + deletion barrier + quiescence).
// 4. Objects allocated during marking are black; otherwise they live in
//    swept spans, which are not swept again before the next termination.
// 5. `write_slot` stores the value (Release when it may reach a marker).
// 6. Weak entries of unmarked targets are cleared at termination; weak
//    targets are not roots, but an uncleared one was marked, so everything
//    it reaches was marked too; upgrades shade.
// 7. Non-moving: the identity hash is a mix of the address.
// 8. `check_limit` refuses allocations beyond the limit before changing
//    anything.
// 9. `safepoint` panics only in assertions that check these invariants.
unsafe impl Collector for Tricolor {
    const NAME: &'static str = "tricolor";
    const CAPABILITIES: Capabilities = Capabilities {
        reclaims: true,
        reclaims_cycles: true,
        moving: false,
        concurrent: true,
    };

    fn new(config: &HeapConfig) -> Result<Self, ConfigError> {
        let n = config.marker_threads.max(1);
        let workers: Vec<Worker<ObjPtr>> = (0..n).map(|_| Worker::new_lifo()).collect();
        let shared = Arc::new(Shared {
            injector: Injector::new(),
            stealers: workers.iter().map(|w| w.stealer()).collect(),
            busy: AtomicUsize::new(0),
            phase: AtomicU32::new(IDLE),
            ctl: Mutex::new(Ctl {
                epoch: 0,
                shutdown: false,
                marked: 0,
                scanned: 0,
            }),
            work_cv: Condvar::new(),
            idle_cv: Condvar::new(),
            mark_done: AtomicBool::new(false),
            lists: Mutex::new(Lists::new()),
            sweepgen: AtomicU32::new(2),
            pending_sweep: AtomicUsize::new(0),
            freed: AtomicU64::new(0),
            concurrent_nanos: AtomicU64::new(0),
            mirror: SlotMirror::new(),
            poisoned: AtomicBool::new(false),
            faults: sync::faults::current(),
        });
        let handles = workers
            .into_iter()
            .enumerate()
            .map(|(i, w)| {
                let sh = shared.clone();
                #[cfg(not(loom))]
                let h = thread::Builder::new()
                    .name(format!("gc-mark-{i}"))
                    .spawn(move || worker_main(sh, w, i))
                    .map_err(|e| ConfigError {
                        field: "marker_threads",
                        value: format!("{n} (spawning thread {i} failed: {e})"),
                        expected: "a thread count this process can start",
                    });
                #[cfg(loom)]
                let h: Result<_, ConfigError> = Ok(thread::spawn(move || worker_main(sh, w, i)));
                h
            })
            .collect::<Vec<_>>();
        let mut ok = Vec::new();
        let mut err = None;
        for h in handles {
            match h {
                Ok(h) => ok.push(h),
                Err(e) => err = Some(e),
            }
        }
        if let Some(e) = err {
            // Stop the threads that did start before reporting.
            lock(&shared.ctl).shutdown = true;
            shared.work_cv.notify_all();
            for h in ok {
                let _ = h.join();
            }
            return Err(e);
        }
        let handles = ok;
        let limit = config.heap_limit as u64;
        let goal = MIN_GOAL.min(limit);
        Ok(Tricolor {
            shared,
            workers: handles,
            local: Worker::new_lifo(),
            m: MutatorState {
                marking: Cell::new(false),
                cache: std::array::from_fn(|_| Cell::new(Cache::default())),
                buffer: RefCell::new(Vec::with_capacity(BUFFER_CAP)),
                allocated: Cell::new(0),
                objects: Cell::new(0),
                freed_seen: Cell::new(0),
                peak: Cell::new(0),
                black: Cell::new(0),
                trigger: Cell::new((goal as f64 * TRIGGER_RATIO) as u64),
                goal: Cell::new(goal),
                limit,
                growth: config.growth_factor,
                small_max: config
                    .large_object_bytes
                    .min(*span::CLASS_SIZES.last().unwrap() as usize),
                sweep_open: Cell::new(None),
                paced: Cell::new(0),
                oom: Cell::new(false),
                assist_allowed: Cell::new(Instant::now()),
                verify_walk: Cell::new(true),
                stress: config.stress,
            },
        })
    }

    unsafe fn alloc(
        &self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
    ) -> Result<ObjPtr, AllocError> {
        let size = gc_core::object::checked_size(&slots, bytes)?;
        let (mem, s, i) = match span::class_of(size).filter(|_| size <= self.m.small_max) {
            Some(class) => self.alloc_small(class, size),
            None => self.alloc_large(size),
        }
        .inspect_err(|_| self.m.oom.set(true))?;
        // SAFETY: `mem` is a free cell of at least `size` bytes, 8-aligned;
        // the size was checked; references in `slots` are live (caller).
        let obj = unsafe { ObjPtr::init(mem, kind, slots, bytes, 0, 0) };
        self.born(s.get(), i);
        Ok(obj)
    }

    #[inline]
    unsafe fn write_slot(&self, obj: ObjPtr, index: usize, value: RawValue) {
        // SAFETY: caller obligations 1 and 2.
        let slot = unsafe { &obj.slots()[index] };
        if self.m.marking.get() {
            if !fault(self.shared.faults, Fault::NoDeletionBarrier)
                && let Some(old) = RawValue::from_bits(slot.load(Ordering::Relaxed)).as_ptr()
            {
                self.remember(old);
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

    unsafe fn weak_upgraded(&self, obj: ObjPtr) {
        if self.m.marking.get() {
            self.remember(obj);
        }
    }

    fn should_yield(&self) -> bool {
        let live = self.m.paced.get();
        if self.m.oom.get() {
            return true;
        }
        if self.m.marking.get() {
            (live >= self.m.goal.get() && self.assist_allowed())
                || (!self.m.stress && self.shared.mark_done.load(Ordering::Relaxed))
        } else {
            live >= self.m.trigger.get()
        }
    }

    unsafe fn identity_hash(&self, obj: ObjPtr) -> u64 {
        gc_core::nogc::mix_address(obj.addr())
    }

    unsafe fn safepoint(&mut self, sp: &mut Safepoint<'_>) {
        self.shared.check_poisoned();
        let nanos = self.shared.concurrent_nanos.swap(0, Ordering::Relaxed);
        if nanos > 0 {
            sp.record_concurrent(Duration::from_nanos(nanos));
        }
        let marking = self.m.marking.get();
        match sp.request() {
            Request::Due | Request::Force(CollectKind::Minor) => {
                let forced = sp.request() != Request::Due;
                if self.m.oom.replace(false) {
                    // An allocation failed at the heap limit: collect
                    // everything now, so that the retry can succeed
                    // (a full pause, but the alternative is an error).
                    self.finish_cycle(sp);
                    self.start_cycle(sp);
                    self.finish_cycle(sp);
                    self.finish_sweep(sp);
                } else if marking {
                    if !self.try_terminate(sp) {
                        let live = self.m.paced.get();
                        let goal = self.m.goal.get();
                        let near_limit = self.near_limit(live);
                        if near_limit || (live >= goal && self.assist_allowed()) {
                            let budget = (!near_limit).then_some(ASSIST_BUDGET);
                            if self.assist(sp, budget) {
                                self.try_terminate(sp);
                            }
                        }
                    }
                } else if forced {
                    self.start_cycle(sp);
                } else if self.m.paced.get() >= self.m.trigger.get() {
                    // Sweeping left behind is finished in bounded slices
                    // over several safepoints, not in the start pause.
                    let near_limit = self.near_limit(self.live());
                    if near_limit || self.sweep_for(sp, SWEEP_SLICE) {
                        self.start_cycle(sp);
                    }
                }
            }
            Request::Stress => {
                // Back-to-back cycles: the barrier is on during almost
                // every `mutate`, and every safepoint tries to terminate.
                // Forcing a whole cycle at each safepoint would cost
                // O(heap) per safepoint and test less of the concurrency.
                if !marking || self.try_terminate(sp) {
                    self.start_cycle(sp);
                }
            }
            Request::Force(kind) => {
                let fresh = marking && kind == CollectKind::Full;
                self.finish_cycle(sp);
                if !marking || fresh {
                    self.start_cycle(sp);
                    self.finish_cycle(sp);
                }
                if kind == CollectKind::Full {
                    self.finish_sweep(sp);
                }
            }
        }
        let live = self.live();
        if live > self.m.peak.get() {
            self.m.peak.set(live);
        }
    }

    fn counters(&self) -> HeapCounters {
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

    /// Checks roots and weak targets after every pause, and walks the
    /// whole reachable heap after pauses that included a termination (the
    /// only pauses that change what is allocated; a walk per safepoint
    /// made stress-mode tests quadratic).
    unsafe fn verify(&self, sp: &mut Safepoint<'_>) -> Result<(), String> {
        let walk = self.m.verify_walk.replace(false);
        let mut seen = hashbrown::HashSet::new();
        let mut stack = Vec::new();
        sp.for_each_root(|p| stack.push(*p));
        if !walk {
            stack.iter().try_for_each(|&p| check_cell(p))?;
            stack.clear();
        }
        let mut weak = Vec::new();
        sp.for_each_weak(|i, t| weak.push((i, *t)));
        for (i, t) in &weak {
            if let Some(p) = t {
                check_cell(*p).map_err(|e| format!("weak entry {i}: {e}"))?;
                if walk {
                    stack.push(*p);
                }
            }
        }
        while let Some(p) = stack.pop() {
            if !seen.insert(p) {
                continue;
            }
            check_cell(p)?;
            // SAFETY: `check_cell` showed `p` is an allocated object.
            unsafe { p.for_each_ref(|_, q| stack.push(q)) };
        }
        Ok(())
    }
}

/// Checks that `p` is an allocated object whose header fits its cell.
fn check_cell(p: ObjPtr) -> Result<(), String> {
    // SAFETY: only reads the descriptor pointer of the block `p` claims to
    // be in; the verifier runs on pointers found in roots and reachable
    // slots, which the collector keeps allocated (that is what it checks).
    let span = unsafe { SpanRef::of(p) }.get();
    if !span.is_cell_start(p.addr()) {
        return Err(format!("{p:?} is not the start of a cell"));
    }
    if !span.is_allocated(span.cell_index(p.addr())) {
        return Err(format!("{p:?} is reachable but its cell is not allocated"));
    }
    // SAFETY: the cell is allocated, so it holds an initialised header.
    let size = unsafe { gc_core::object::object_size(p.header().len(), p.header().byte_len()) };
    match size {
        Some(s) if s <= span.cell => Ok(()),
        _ => Err(format!("{p:?} has a header that does not fit its cell")),
    }
}

impl Drop for Tricolor {
    fn drop(&mut self) {
        {
            let mut g = lock(&self.shared.ctl);
            g.shutdown = true;
            self.shared.work_cv.notify_all();
        }
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
        let mut l = lock(&self.shared.lists);
        let cached: Vec<SpanRef> = self.m.cache.iter().filter_map(|c| c.take().span).collect();
        let Lists {
            partial,
            full,
            unswept,
            pool,
        } = &mut *l;
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
            // SAFETY: the heap is being dropped: no object is reachable and
            // every span is in exactly one of these lists.
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
