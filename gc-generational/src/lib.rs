//! # gc-generational: a generational collector
//!
//! Most objects die young; a copying nursery makes their death free. The
//! objects that survive live in an old generation collected
//! incrementally: marked in bounded steps between which the program runs,
//! and swept lazily, in place. This is the shape of V8's heap (a
//! scavenger, then incremental marking with lazy sweeping) and of OCaml's
//! (a minor heap, then an incremental major heap), fitted to gc-core's
//! safepoint model: all collection work runs at safepoints, except lazy
//! sweeping, which allocation may do.
//!
//! ## Spaces
//!
//! * **Nursery**: a chunk of [`HeapConfig::nursery_bytes`]; allocation is a
//!   pointer bump (`Space::alloc`, inlined into the mutator). A
//!   collection cannot run inside `mutate`, so when the nursery fills
//!   mid-call the space takes another chunk and
//!   [`Collector::should_yield`] asks the mutator to return; the next
//!   safepoint collects all of it. A minor collection's pause is
//!   proportional to what survives of the nursery, so a mutator that
//!   keeps allocating long after `should_yield` turned true (GCBench
//!   builds a 2.5 MB tree in one call) gets a long one. Sending such
//!   overflow straight to the old space bounds the pause but turns the
//!   garbage among it into old garbage: on GCBench that tripled the peak
//!   heap (73 MB against 28) and cost a fifth of the time, so the nursery
//!   is left to grow.
//! * **Survivor spaces** (two, alternating): young objects that survived a
//!   minor collection but are younger than [`HeapConfig::promotion_age`].
//! * **Old space** (`src/old.rs`): promoted and pretenured objects. It
//!   never moves them: it is bump-allocated in chunks, the sweeper turns
//!   runs of dead objects into *gaps*, and allocation reuses the bigger
//!   gaps (*holes*) in address order before it takes new memory.
//! * **Large-object space**: objects of at least
//!   [`HeapConfig::large_object_bytes`] are allocated on their own, born
//!   old, and never copied.
//!
//! The nursery and survivor spaces are `Space`s (`src/space.rs`): lists of
//! chunks, bump-allocated, walked in allocation order by a resumable
//! cursor. A space hands out raw memory and its walks read the objects in
//! it, so it is private to the crate: only the collector, which writes an
//! object into every allocation at once, can allocate from one.
//!
//! ```compile_fail,E0603
//! // The spaces are not part of the API: walking a space is only sound if
//! // every byte it handed out holds an object, which only the collector
//! // ensures.
//! use gc_generational::space::Space;
//! ```
//!
//! ## Header use
//!
//! `meta` holds a forwarding address during a minor collection (low bits
//! `01`), a gap's length in the old space's free memory (`10`), and
//! otherwise the object's age and flags (`OLD`, `REMEMBERED`, `LARGE`,
//! `MARK`). `aux` holds the identity hash once one was asked for (0 means
//! none yet): copying moves the whole header, so the hash survives every
//! move. The bits and their accessors are in `src/header.rs`; the copy
//! that leaves a forwarding address in `src/copy.rs`.
//!
//! ## The write barrier and the remembered set
//!
//! A minor collection must find every young object, but scans only the
//! roots and the old objects that may refer to young ones. The barrier in
//! [`Collector::write_slot`] keeps that set: when a reference to a young
//! object is stored into an old object that is not remembered yet, the old
//! object is flagged `REMEMBERED` and pushed onto the remembered set.
//! Large objects allocated with young references, and objects promoted
//! while still referring to young ones, join it the same way. A large
//! object is also *carded*: the barrier marks which 256-slot card of it
//! each young store went to, and a minor collection scans only those
//! cards, so a big table costs a minor what was written into it, not its
//! length. While a major cycle marks, the same barrier also
//! shades the object an old slot held before the store (the deletion
//! barrier, see "Major cycle"). The barrier is in `src/barrier.rs`;
//! allocation, with its inlined nursery bump, in `src/alloc.rs`.
//!
//! ## Minor collection (Cheney)
//!
//! At a safepoint when the nursery has filled (or on `collect(Minor)`):
//! every root and every slot of a remembered object (of a dirty card, for
//! a large one) that refers to a young object is *forwarded*: the object
//! is copied to the survivor to-space (or, if it has survived
//! `promotion_age - 1` collections, to the old space), and its old header
//! is overwritten with the forwarding address.
//! The Cheney scan pointer of the survivor to-space, and a queue of the
//! promoted copies, then walk the objects copied so far and forward their
//! young references in turn, until both are exhausted: no recursion. Old
//! objects that still refer to young ones after the scan are remembered
//! for the next cycle. Weak entries to young objects follow the forwarding
//! address or are cleared. The nursery and the survivor from-space are
//! then empty and reused. The minor collection, with the copy chains below
//! and the pretenuring decision, is in `src/minor.rs`.
//!
//! ## Copy order (minor)
//!
//! Plain Cheney copying is breadth first: an object's children land after
//! everything already copied, far from their parent, where the mutator
//! will miss the cache on every step from one to the other (a Lox instance
//! and its fields table, a list cell and its value). So each copy is
//! followed by a short *chain*: the first child (among its first
//! `EAGER_SLOTS` slots) still to be copied is copied right behind it, then
//! that child's first child, and so on (`EAGER_CHAIN` at most) - Moon's
//! approximately depth-first copying, still with no mark stack. The chain
//! rewrites the parent's slot at once; the scan skips it (it no longer
//! points into a from-space), so an old parent left pointing at a young
//! copy is remembered on the spot. Promoted copies go into the old space's
//! holes in address order, so a chain promoted together stays together.
//!
//! ## Pretenuring
//!
//! A workload whose new objects mostly live long (a cache filling up, a
//! table whose entries are replaced) makes every minor collection copy a
//! whole nursery of survivors, twice: its pauses grow with the nursery and
//! buy nothing. When two minor collections in a row find at least half of
//! the young generation alive, new objects are allocated directly in the
//! old space (with the barrier's remembered set covering their references
//! to young objects) until the next major cycle's termination, after which
//! survival is measured afresh. This is the dynamic counterpart of V8's
//! allocation-site pretenuring. Pretenured bytes count toward the major
//! cycle exactly as promoted ones do (see "Pacing").
//!
//! ## Major cycle (incremental mark, lazy sweep)
//!
//! When the old generation (old space plus large objects) reaches its
//! trigger (see "Pacing"):
//!
//! 1. **start** (one short pause, after a minor collection): the roots
//!    and the survivors' old references are shaded; this is the snapshot;
//! 2. **marking**, one bounded step per safepoint, with minor collections
//!    and the program running in between: grey objects are scanned (at
//!    most 16,384 slots of one object per unit of work, like Go's oblets),
//!    the barrier shades what old slots held before each store (Yuasa's
//!    snapshot-at-the-beginning barrier, needed only for stores into old
//!    objects), a weak handle upgraded meanwhile is shaded, and
//!    everything allocated old is born marked;
//! 3. **termination** (when the mark stack is empty): weak entries to
//!    unmarked old objects are cleared, unmarked objects leave the
//!    remembered set, unmarked large objects are freed, and the sweep
//!    begins;
//! 4. **sweeping**, in bounded steps at safepoints and lazily from old
//!    allocation: dead objects become gaps, holes are reused, chunks left
//!    empty become spares, returned to the system a few per step.
//!
//! The cycle moves nothing, so it needs no to-space (the memory the old
//! generation takes is the memory its chunks take), identity hashes and
//! weak entries are untouched except when their targets die, and the
//! remembered set stays exact across the steps. `collect(Major | Full)`
//! finishes the cycle under way and runs a whole new one in one pause, so
//! that afterwards everything unreachable is freed. The argument that the
//! marking misses nothing, and the cycle's invariants, are in
//! `src/major.rs`; the old space and its sweeper in `src/old.rs`.
//!
//! The price of not moving is fragmentation: the old space keeps the
//! chunks that hold any live object, and a hole smaller than a request is
//! skipped until a later sweep merges it with its neighbours. Objects are
//! not compacted.
//!
//! ## Pacing
//!
//! A minor collection is due when the nursery is full. Every byte
//! allocated old (promoted, pretenured or large) is debt toward the major
//! cycle, and the mutator is asked to yield once the debt reaches a
//! nursery's worth, so that no allocation path can outrun collection. The
//! cycle starts half-way from what the last marking found live to its
//! goal (gc-core's heap goal, [`gc_core::Pacer::goal`]: `(1 +
//! growth_factor)` times that, at least
//! [`MIN_HEAP_GOAL`](gc_core::pacer::MIN_HEAP_GOAL) = 4 MiB, at most the
//! heap limit, and never less than sixteen nurseries), and each step owes
//! work in proportion to the debt, as Go's assists do, paid in steps of
//! bounded size. The rules and their constants are in `src/pacer.rs`.
//!
//! ## Invariants checked by the verifier
//!
//! After every collection step (with [`HeapConfig::verify`]): every object
//! in every space has a normal (not forwarded) header, the generation bit
//! of its space and a mark only where a cycle allows one; the objects add
//! up to the live bytes; every reference (slots, roots, weak entries) of a
//! live object points at the start of an object in the current spaces,
//! never into the nursery's or a from-space's old contents or into freed
//! old memory; every old object that refers to a young one is remembered;
//! the mark stack holds only marked objects. The verifier is in
//! `src/verify.rs`.

mod alloc;
mod barrier;
mod copy;
mod header;
mod major;
mod minor;
mod old;
mod pacer;
mod space;
mod verify;

use std::cell::UnsafeCell;
use std::sync::atomic::Ordering::Relaxed;

use gc_core::object::mix_address;
use gc_core::{
    AllocError, Capabilities, Collector, ConfigError, HeapConfig, HeapCounters, ObjPtr, Pacer,
    PauseWork, Phase, RawValue, Safepoint, SlotInit,
};
use hashbrown::HashMap;

use major::Cycle;
use old::OldSpace;
use pacer::Plan;
use space::Space;

/// Spare old-space chunks returned to the system per step, at most.
const TRIM_SPARES: usize = 4;

/// Chunk size of the survivor and old spaces.
const CHUNK: usize = 1 << 20;

/// The collector's state: its spaces, the remembered set, the major
/// cycle's marking state, the pacing figures and the counters.
struct State {
    nursery: Space,
    /// Survivors of the last minor collection.
    survivors: Space,
    /// The other survivor space (empty between collections).
    survivors_to: Space,
    old: OldSpace,
    /// Large objects: address -> size.
    large: HashMap<ObjPtr, usize>,
    large_bytes: usize,
    /// Bytes in the survivor, old and large-object spaces (recomputed by
    /// `settle` whenever one of them changes).
    settled: usize,
    /// Old objects that may refer to young ones (see `barrier.rs`).
    remembered: Vec<ObjPtr>,
    /// The dirty cards of each remembered large object: one bit per
    /// [`barrier::CARD_SLOTS`] slots that may refer to young objects.
    cards: HashMap<ObjPtr, Vec<u64>>,
    limit: usize,
    nursery_bytes: usize,
    large_threshold: usize,
    promotion_age: u64,
    pacer: Pacer,
    /// Where the major cycle is (see `major.rs`).
    cycle: Cycle,
    /// `cycle == Marking`, read by the barrier and allocation.
    marking: bool,
    /// Grey objects, with the slot to resume scanning from.
    mark_stack: Vec<(ObjPtr, usize)>,
    /// Bytes marked by the cycle under way (black allocation included).
    marked: usize,
    /// Work units of the marking under way (or, until the next start,
    /// of the last one: the pacer's estimate of the next).
    mark_work: usize,
    /// Work owed to the cycle's current phase (mark units or bytes to
    /// sweep) for debt that earlier steps have not paid (see `pacer.rs`).
    owed: usize,
    /// Bytes allocated old (promoted, pretenured, large) since the last
    /// step of the major cycle (see `pacer.rs`).
    old_debt: usize,
    /// Old-generation size a cycle starts at, and the size it should end
    /// by.
    major_trigger: u64,
    major_goal: u64,
    /// Work units per byte of debt for marking and sweeping steps.
    mark_ratio: f64,
    sweep_ratio: f64,
    /// The minor collection under way promotes every survivor (the start
    /// of a whole cycle run in one pause, so that it frees everything
    /// unreachable).
    promote_all: bool,
    /// Objects promoted by the minor collection under way, still to scan.
    promoted_queue: Vec<ObjPtr>,
    /// Scratch list of the survivors a cycle's start scans.
    young_scratch: Vec<ObjPtr>,
    allocated: u64,
    allocated_objects: u64,
    freed: u64,
    promoted: u64,
    peak: usize,
    /// Chunks of the from-spaces during a minor collection.
    young_ranges: Vec<(usize, usize)>,
    /// Minor collections in a row that found most of the young
    /// generation alive.
    high_survival: u32,
    /// Allocate new objects directly in the old space (see the crate docs).
    pretenure: bool,
}

impl State {
    /// Bytes of objects in all spaces.
    #[inline]
    fn live(&self) -> usize {
        self.nursery.used() + self.settled
    }

    /// Recomputes `settled` after the spaces other than the nursery changed.
    fn settle(&mut self) {
        self.settled = self.survivors.used() + self.old.live() + self.large_bytes;
    }

    fn old_generation(&self) -> usize {
        self.old.live() + self.large_bytes
    }

    /// The state word of an object born old now: marked while a cycle is
    /// marking (black allocation, see `major.rs`).
    #[inline]
    fn born_old(&self) -> u64 {
        if self.marking {
            header::OLD | header::MARK
        } else {
            header::OLD
        }
    }

    /// A minor collection, as one pause.
    fn minor_pause(&mut self, sp: &mut Safepoint<'_>, promote_all: bool) {
        sp.pause(Phase::Minor, self, live_bytes, |st, sp| {
            let promoted_before = st.promoted;
            st.promote_all = promote_all;
            let (visited, remembered, freed) = st.minor(sp);
            st.promote_all = false;
            st.freed += freed as u64;
            Some(PauseWork {
                visited,
                roots: remembered,
                promoted: st.promoted - promoted_before,
                freed: Some(freed as u64),
                ..PauseWork::default()
            })
        });
    }

    /// Sweeping done by allocation since the last safepoint, counted.
    fn count_swept(&mut self) {
        self.freed += self.old.take_swept() as u64;
        self.settle();
    }

    /// A whole major cycle in one pause (`collect(Major | Full)`): the
    /// cycle under way is finished, then a new one runs from start to end,
    /// so that everything unreachable now is freed.
    fn full_pause(&mut self, sp: &mut Safepoint<'_>) {
        self.finish_major(sp);
        self.count_swept();
        self.minor_pause(sp, true);
        sp.pause(Phase::Major, self, live_bytes, |st, sp| {
            let roots = st.start_major(sp);
            let visited = st.finish_major(sp);
            st.count_swept();
            Some(PauseWork {
                visited,
                roots,
                ..PauseWork::default()
            })
        });
    }

    /// The incremental work a safepoint does (see [`Plan::Step`]).
    fn step(&mut self, sp: &mut Safepoint<'_>, minor: bool, start: bool, stress: bool) {
        if minor {
            self.minor_pause(sp, false);
        }
        if start {
            sp.pause(Phase::MarkStart, self, live_bytes, |st, sp| {
                Some(PauseWork {
                    roots: st.start_major(sp),
                    ..PauseWork::default()
                })
            });
            // What was allocated old before the snapshot is not the
            // marking's debt.
            self.old_debt = 0;
        } else if minor || self.yield_due() || stress {
            self.cycle_step(sp, stress);
        }
    }

    /// One step of the major cycle under way (none when idle), paying for
    /// the debt since the last step.
    fn cycle_step(&mut self, sp: &mut Safepoint<'_>, stress: bool) {
        self.old.trim_spares(TRIM_SPARES);
        match self.cycle {
            Cycle::Idle => {}
            Cycle::Marking => {
                let budget = self.mark_budget(stress);
                let mut done = false;
                sp.pause(Phase::Major, self, live_bytes, |st, _| {
                    let (empty, visited) = st.mark_step(budget);
                    done = empty;
                    Some(PauseWork {
                        visited,
                        ..PauseWork::default()
                    })
                });
                if done {
                    sp.pause(Phase::MarkTermination, self, live_bytes, |st, sp| {
                        st.terminate_major(sp);
                        st.count_swept();
                        Some(PauseWork {
                            live_after: Some(st.marked as u64),
                            ..PauseWork::default()
                        })
                    });
                }
            }
            Cycle::Sweeping => {
                let budget = self.sweep_budget(stress);
                sp.pause(Phase::Sweep, self, live_bytes, |st, _| {
                    st.sweep_step(budget);
                    let freed = st.old.take_swept() as u64;
                    st.freed += freed;
                    Some(PauseWork {
                        freed: Some(freed),
                        ..PauseWork::default()
                    })
                });
            }
        }
        self.old_debt = 0;
    }
}

/// The live bytes, as [`Safepoint::pause`] reads them.
fn live_bytes(st: &State) -> u64 {
    st.live() as u64
}

/// The generational copying collector. See the [crate docs](crate).
pub struct Generational {
    st: UnsafeCell<State>,
}

impl Generational {
    #[inline]
    #[allow(clippy::mut_from_ref)]
    fn st(&self) -> &mut State {
        // SAFETY: Generational is !Sync (UnsafeCell), so only the mutator's
        // thread calls it, and no method holds this borrow across a call
        // that re-enters the collector.
        unsafe { &mut *self.st.get() }
    }
}

// SAFETY: (1) objects are written by ObjPtr::init into fresh bump, hole
// or large allocations, 8-aligned (alloc.rs, old.rs). (2) Objects move
// only in minor collections and are freed only by them, by termination
// (large objects) and by the old space's sweeper, which reuses only memory
// that a termination at a safepoint established unreachable, its weak
// entries cleared (old.rs). (3) Minor collections copy everything
// reachable from the roots and from remembered old objects (which the
// barrier keeps complete) and rewrite every root, slot and weak entry to
// the copies; the major cycle marks everything reachable at its snapshot
// and everything allocated since (major.rs argues it). (4) Nothing is
// reclaimed outside safepoints except by the lazy sweeper, which frees
// only objects found dead at a termination. (5) write_slot stores and runs
// the barrier (barrier.rs). (6) Weak entries follow their target in minor
// collections or are cleared there; termination clears those of unmarked
// old objects before any is swept. (7) The identity hash is stored in
// `aux`, which moves with the object. (8) Allocation checks `live + size`
// against the limit before it takes memory. (9) Collections do not panic:
// the only failure, a to-space chunk the system refuses, aborts the
// process (copy.rs) instead of unwinding.
unsafe impl Collector for Generational {
    const NAME: &'static str = "generational";
    const CAPABILITIES: Capabilities = Capabilities {
        reclaims: true,
        reclaims_cycles: true,
        moving: true,
        concurrent: false,
    };

    fn new(config: &HeapConfig) -> Result<Self, ConfigError> {
        let pacer = Pacer::new(config);
        let mut st = State {
            nursery: Space::new(config.nursery_bytes, 4),
            survivors: Space::new(CHUNK, 4),
            survivors_to: Space::new(CHUNK, 4),
            old: OldSpace::new(CHUNK),
            large: HashMap::new(),
            large_bytes: 0,
            settled: 0,
            remembered: Vec::new(),
            cards: HashMap::new(),
            limit: config.heap_limit,
            nursery_bytes: config.nursery_bytes,
            large_threshold: config.large_object_bytes,
            promotion_age: u64::from(config.promotion_age),
            pacer,
            cycle: Cycle::Idle,
            marking: false,
            mark_stack: Vec::new(),
            marked: 0,
            mark_work: 0,
            owed: 0,
            old_debt: 0,
            major_trigger: 0,
            major_goal: 0,
            mark_ratio: 1.0,
            sweep_ratio: 1.0,
            promote_all: false,
            promoted_queue: Vec::new(),
            young_scratch: Vec::new(),
            allocated: 0,
            allocated_objects: 0,
            freed: 0,
            promoted: 0,
            peak: 0,
            young_ranges: Vec::new(),
            high_survival: 0,
            pretenure: false,
        };
        st.set_major_trigger();
        Ok(Generational {
            st: UnsafeCell::new(st),
        })
    }

    #[inline(always)]
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
        unsafe { self.barriered_store(obj, index, value) }
    }

    #[inline]
    fn should_yield(&self) -> bool {
        self.st().yield_due()
    }

    unsafe fn weak_upgraded(&self, obj: ObjPtr) {
        let st = self.st();
        if st.marking {
            // SAFETY: the caller's obligation: a live object. Shading keeps
            // the snapshot's promise for an object reachable only weakly
            // at the snapshot (see `major.rs`).
            unsafe { st.shade(obj) };
        }
    }

    unsafe fn identity_hash(&self, obj: ObjPtr) -> u64 {
        // SAFETY: a live object.
        let aux = unsafe { obj.header() }.aux();
        let mut h = aux.load(Relaxed);
        if h == 0 {
            h = (mix_address(obj.addr()) as u32) | 1;
            aux.store(h, Relaxed);
        }
        mix_address(h as usize)
    }

    unsafe fn safepoint(&mut self, sp: &mut Safepoint<'_>) {
        let st = self.st.get_mut();
        st.count_swept();
        match st.plan(sp.request()) {
            Plan::Minor => st.minor_pause(sp, false),
            Plan::Full => st.full_pause(sp),
            Plan::Step { minor, start } => {
                let stress = sp.request() == gc_core::Request::Stress;
                st.step(sp, minor, start, stress)
            }
        }
        st.peak = st.peak.max(st.live());
    }

    fn counters(&self) -> HeapCounters {
        let st = self.st();
        HeapCounters {
            allocated_bytes: st.allocated,
            allocated_objects: st.allocated_objects,
            freed_bytes: st.freed,
            promoted_bytes: st.promoted,
            live_bytes: st.live() as u64,
            peak_bytes: st.peak as u64,
        }
    }

    unsafe fn verify(&self, sp: &mut Safepoint<'_>) -> Result<(), String> {
        verify::verify(self.st(), sp)
    }
}

impl Drop for Generational {
    fn drop(&mut self) {
        for (&p, &size) in &self.st.get_mut().large {
            // SAFETY: allocated by `gc_core::large::alloc` with this size;
            // the heap is gone.
            unsafe { gc_core::large::free(p.as_raw().cast(), size) };
        }
    }
}
