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
//! in side bitmaps of the object's span (`src/span.rs`), beside its
//! allocation bits: the collector uses no bit of an object's header (its
//! `meta` and `aux` words are zero), so it has no `header.rs`. A marker
//! shades a pointer by one atomic `fetch_or`, and only the caller that
//! flipped the bit pushes the object, so an object is pushed once per cycle
//! however many markers find it. An entry of the grey queue is an object
//! and a range of its slots (see "Big objects" below): a big object is
//! grey until every range of it has been scanned.
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
//! Marking is done when no grey object (or range of a big object) exists
//! anywhere. Grey work hides in three places: the mutator's barrier buffer (flushed at every safepoint),
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
//! that time is recorded as an [`Phase::Assist`](gc_core::Phase::Assist) pause, never hidden.
//!
//! ## Big objects
//!
//! No scan step grows with the size of an object: a grey queue entry is
//! an object and a range of its slots, and an object whose slots take more
//! than 128 KiB (Go's `maxObletBytes`) is scanned in *oblets* of that
//! size (`src/grey.rs`). The drainer that takes a range pushes the rest of
//! it back onto its own deque, as at most two entries, and scans only the
//! first step: an oblet for a background marker, 1,024 slots for an
//! assisting mutator (which reads the clock after every step, so it ends
//! its assist at most one step late). The rest is ordinary grey work:
//! other markers steal it, an assist takes it or hands it to the markers.
//! The termination pause scans nothing at all.
//!
//! Two invariants keep this sound. The rest of a range is pushed while the
//! drainer still holds `busy` (before it scans), so "injector empty, then
//! `busy == 0`" still means no grey range is left anywhere. And the
//! deletion barrier needs no change: its guarantee is per slot (the
//! value a slot held at the snapshot is either read by the scan of the
//! range holding that slot or shaded by the first overwrite before that
//! read), so it covers an object partly scanned while the mutator writes
//! it, exactly as it covered a whole-object scan, which was never atomic
//! with respect to the mutator either. `src/grey.rs` gives the argument
//! in full; the loom model `m10` and its broken twins check both.
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
//! `L * (1 + growth_factor)` (at least 4 MiB, at most the heap limit:
//! [`gc_core::Pacer`]), and the next cycle is triggered when the heap
//! reaches `L + 0.5 * (goal - L)`, leaving the rest for allocation during
//! marking. [`Collector::should_yield`]
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
//! All of this goes through the sync shim (`src/sync.rs`), so the loom
//! models in `tests/loom_*.rs` check this code, not a copy. Run them with
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
//!
//! ## Where things are
//!
//! | File | What it holds |
//! |------|---------------|
//! | `lib.rs` | these docs, the collector's state ([`Tricolor`], the mutator's and the shared state) and the `Collector` impl, which delegates |
//! | `alloc.rs` | allocation: the per-class span cache, small and large objects, allocate-black, the heap-limit check, accounting |
//! | `barrier.rs` | the deletion barrier of `write_slot` and weak upgrades, and its buffer |
//! | `grey.rs` | grey queue entries (an object and a slot range) and how a big object's range is cut into oblets and steps |
//! | `mark.rs` | the markers: shading, scanning, stealing, draining, the quiescence test, the marker threads |
//! | `cycle.rs` | the cycle's phases at safepoints: mark start, assist, termination |
//! | `sweep.rs` | the span lists and lazy sweeping (the sweepgen protocol's claims, proportional and background sweeping) |
//! | `pacer.rs` | when work is due: the trigger, the goal, assists and sweep budgets, `should_yield` |
//! | `verify.rs` | the heap verifier |
//! | `span.rs` | spans and blocks: cells, side bitmaps, size classes, sweeping one span's bitmaps |
//! | `sync.rs` | the shim over `std` and loom (atomics, locks, threads, the grey queue) and the loom suite's faults |

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use gc_core::{
    AllocError, Capabilities, Collector, ConfigError, HeapConfig, HeapCounters, ObjPtr, Pacer,
    RawValue, Safepoint, SlotInit,
};

mod alloc;
mod barrier;
mod cycle;
mod grey;
mod mark;
mod pacer;
mod span;
mod sweep;
mod sync;
mod verify;

#[doc(hidden)]
pub use sync::faults;

use alloc::Cache;
use grey::Grey;
use span::{CLASSES, SIZE_CLASSES};
use sweep::Lists;
use sync::deque::{Injector, Stealer, Worker};
use sync::{
    Arc, AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering, SlotMirror, lock,
    thread,
};

/// `Shared::phase`: no cycle and no sweep phase open.
const IDLE: u32 = 0;
/// `Shared::phase`: markers drain the grey queue.
const MARKING: u32 = 1;
/// `Shared::phase`: idle markers sweep in the background.
const SWEEPING: u32 = 2;

/// The concurrent tri-color collector. See the [crate docs](crate).
pub struct Tricolor {
    shared: Arc<Shared>,
    workers: Vec<thread::JoinHandle<()>>,
    /// The mutator's own deque for assists (nobody steals from it).
    local: Worker<Grey>,
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
    pacer: Pacer,
    small_max: usize,
    /// Set at termination: the sweep phase is open; `shared.freed` and the
    /// live bytes then.
    sweep_open: Cell<Option<(u64, u64)>>,
    /// Go's `heapLive`: bytes marked at the last termination plus bytes
    /// allocated since. Pacing compares this, not `allocated - freed`,
    /// with the trigger and the goal: garbage not yet swept must not start
    /// the next cycle (counting it would run cycles back to back right
    /// after a termination that freed most of the heap).
    paced: Cell<u64>,
    /// An allocation failed at the heap limit since the last safepoint.
    oom: Cell<bool>,
    /// No bounded assist before this instant.
    assist_allowed: Cell<Instant>,
    /// A termination happened since the last verification.
    verify_walk: Cell<bool>,
    /// Stress mode: safepoints come often anyway, so `should_yield` does
    /// not add more when markers finish (that would run cycles back to back
    /// at every 1024 instructions of the Lox VM, each verified).
    stress: bool,
}

impl MutatorState {
    fn new(config: &HeapConfig) -> MutatorState {
        let pacer = Pacer::new(config);
        let goal = pacer.initial_goal();
        MutatorState {
            marking: Cell::new(false),
            cache: std::array::from_fn(|_| Cell::new(Cache::default())),
            buffer: RefCell::new(Vec::with_capacity(barrier::BUFFER_CAP)),
            allocated: Cell::new(0),
            objects: Cell::new(0),
            freed_seen: Cell::new(0),
            peak: Cell::new(0),
            black: Cell::new(0),
            trigger: Cell::new(Pacer::trigger(0, goal, pacer::TRIGGER_RATIO)),
            goal: Cell::new(goal),
            limit: config.heap_limit as u64,
            pacer,
            small_max: config.large_object_bytes.min(SIZE_CLASSES.max()),
            sweep_open: Cell::new(None),
            paced: Cell::new(0),
            oom: Cell::new(false),
            assist_allowed: Cell::new(Instant::now()),
            verify_walk: Cell::new(true),
            stress: config.stress,
        }
    }
}

/// State shared with the marker threads.
struct Shared {
    injector: Injector<Grey>,
    stealers: Vec<Stealer<Grey>>,
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

impl Shared {
    /// The shared state of a heap whose markers own the deques `workers`.
    fn new(workers: &[Worker<Grey>]) -> Shared {
        Shared {
            injector: Injector::new(),
            stealers: workers.iter().map(|w| w.stealer()).collect(),
            busy: AtomicUsize::new(0),
            phase: AtomicU32::new(IDLE),
            ctl: Mutex::new(Ctl {
                epoch: 0,
                shutdown: false,
                parked: 0,
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
        }
    }

    /// Panics if a collector thread panicked (called by the mutator before
    /// it changes anything, and in its waits).
    fn check_poisoned(&self) {
        assert!(
            !self.poisoned.load(Ordering::SeqCst),
            "gc-tricolor: a collector thread panicked; this heap can no longer collect"
        );
    }

    /// Tells the marker threads to stop (they exit when they next wake).
    fn shut_down(&self) {
        lock(&self.ctl).shutdown = true;
        self.work_cv.notify_all();
    }
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

/// Control state. The per-cycle counts live here, under the lock, rather
/// than in atomics: they are reset at every cycle start, and a plain reset
/// racing a late atomic increment could count a cycle's bytes twice; the
/// lock rules that out.
struct Ctl {
    epoch: u64,
    shutdown: bool,
    /// Markers blocked on `work_cv`: a kick wakes them only when there
    /// are any, since waking a parked thread costs the kicker tens of
    /// microseconds (mark.rs, "Waking markers").
    parked: usize,
    /// Bytes marked by shading in this cycle (allocate-black is counted by
    /// the mutator).
    marked: u64,
    /// Objects scanned in this cycle.
    scanned: u64,
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
        let deques: Vec<Worker<Grey>> = (0..n).map(|_| Worker::new_lifo()).collect();
        let shared = Arc::new(Shared::new(&deques));
        let workers = mark::spawn_markers(&shared, deques)?;
        Ok(Tricolor {
            shared,
            workers,
            local: Worker::new_lifo(),
            m: MutatorState::new(config),
        })
    }

    unsafe fn alloc(
        &self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
    ) -> Result<ObjPtr, AllocError> {
        // SAFETY: the caller's obligations, passed on.
        unsafe { self.alloc_object(kind, slots, bytes) }
    }

    #[inline]
    unsafe fn write_slot(&self, obj: ObjPtr, index: usize, value: RawValue) {
        // SAFETY: the caller's obligations, passed on.
        unsafe { self.store_slot(obj, index, value) }
    }

    unsafe fn weak_upgraded(&self, obj: ObjPtr) {
        // SAFETY: the caller's obligation: `obj` is a live object.
        unsafe { self.shade_upgraded(obj) }
    }

    fn should_yield(&self) -> bool {
        self.yield_due()
    }

    unsafe fn identity_hash(&self, obj: ObjPtr) -> u64 {
        gc_core::object::mix_address(obj.addr())
    }

    unsafe fn safepoint(&mut self, sp: &mut Safepoint<'_>) {
        self.shared.check_poisoned();
        let nanos = self.shared.concurrent_nanos.swap(0, Ordering::Relaxed);
        if nanos > 0 {
            sp.record_concurrent(Duration::from_nanos(nanos));
        }
        // SAFETY: the caller's obligations, passed on.
        unsafe { self.run_safepoint(sp) };
        let live = self.live();
        if live > self.m.peak.get() {
            self.m.peak.set(live);
        }
    }

    fn counters(&self) -> HeapCounters {
        self.heap_counters()
    }

    /// Checks roots and weak targets after every pause, and walks the
    /// whole reachable heap after pauses that included a termination (the
    /// only pauses that change what is allocated; a walk per safepoint
    /// would make stress-mode tests quadratic).
    unsafe fn verify(&self, sp: &mut Safepoint<'_>) -> Result<(), String> {
        // SAFETY: the caller's obligations, passed on.
        unsafe { self.verify_heap(sp) }
    }
}

impl Drop for Tricolor {
    fn drop(&mut self) {
        self.shared.shut_down();
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
        let cached = self.m.cache.iter().filter_map(|c| c.take().span);
        // SAFETY: the markers have exited and the heap is being dropped: no
        // object is reachable, and these are all the spans there are.
        unsafe { lock(&self.shared.lists).free_all(cached) };
    }
}
