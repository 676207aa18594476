//! # gc-refcount: deferred reference counting with a cycle collector
//!
//! CPython's idea (count references, free at zero, find garbage cycles in a
//! separate pass), done the way the literature says it should be done.
//!
//! ## Counts
//!
//! An object's count is the number of **heap slots and persistent roots**
//! that refer to it. References held inside `mutate` (the embedder's
//! locals) and on the heap's root stack are *not* counted: that is deferred
//! reference counting (Deutsch and Bobrow), and it is what lets the
//! mutator copy `Gc` values around for free. The write barrier
//! ([`Collector::write_slot`], module `barrier`) increments the new target
//! and decrements the old one; nothing reachable is ever freed inside `mutate`.
//!
//! An object whose count reaches zero (and every new object, which starts
//! at zero) goes into the **zero-count table** (ZCT). At the next safepoint
//! no mutator locals exist, so an object in the ZCT whose count is still
//! zero is garbage unless the root stack refers to it. Garbage made and
//! dropped since the last safepoint is freed at once (its children are
//! decremented, and those that reach zero join the same worklist: no
//! recursion, so freeing a 10,000,000-long list needs no native stack);
//! older garbage is **retired** and dismantled in bounded steps, at
//! safepoints ([`FREE_STEP`] of work) and from allocation (each
//! allocation first dismantles about as many bytes as it takes), so
//! releasing a big old structure is never one long pause (module
//! `dying`). Stack-referenced zero-count objects stay in the table
//! (module `zct`; which objects the stack holds is tracked by module
//! `stack`).
//!
//! ## Cycles
//!
//! Counting cannot free a garbage cycle. Two kinds of object may be part of
//! one, and only those are examined:
//!
//! * **Young objects**: new objects that left the ZCT with a non-zero
//!   count (something in the heap refers to them). They sit in the *young
//!   set* until the next cycle pass.
//! * **Candidates** (Bacon and Rajan's purple objects): old objects whose
//!   count was decremented to a non-zero value, or dropped to zero and
//!   gained a reference back before the safepoint, or that were on the
//!   root stack at the previous safepoint and no longer are (a stack
//!   reference disappearing is a decrement we would otherwise never see).
//!
//! Objects without slots can never be part of a cycle and are never
//! tracked.
//!
//! A **cycle pass** runs at a safepoint when the candidate buffer reaches
//! [`HeapConfig::cycle_threshold`] or the young set reaches
//! [`young_threshold`] (an eighth of it), and on every `Major` or `Full`
//! collection and in stress mode (module `pacer`). It has two parts:
//!
//! 1. **Young pass** (CPython's "subtract internal references", restricted
//!    to the young set): for each young object, `gc = count + (1 if on the
//!    root stack)`, minus one for every reference from another young
//!    object. Young objects with `gc > 0` are referenced from outside the
//!    young set; everything young reachable from them survives and becomes
//!    old. References from objects that the root stack holds in the ZCT
//!    count as internal (they can vanish without a decrement): what
//!    survives only through them becomes old *and a candidate*, so a later
//!    pass looks at it again. The rest is garbage and is freed,
//!    decrementing the counts of the survivors it referred to. The work is
//!    linear in the young set and its slots: references into old objects
//!    are not followed, so a new object pointing into a huge old structure
//!    costs nothing extra (module `young`).
//! 2. **Candidate pass** (Bacon-Rajan synchronous trial deletion): from
//!    each purple candidate, `MarkGray` subtracts every internal reference
//!    of the subgraph it reaches; `Scan` restores (`ScanBlack`) everything
//!    that still has a count, i.e. is referenced from outside; what is left
//!    white is garbage and is freed without touching counts (its references
//!    to live objects were already subtracted). Root-stack references count
//!    as external (one extra count each for the pass). All three
//!    traversals use explicit stacks. The work is bounded by the subgraph
//!    reachable from the candidates, not by the heap (module `cycles`).
//!
//! The candidate pass can be **sliced**: outside `Full`/stress collections,
//! one safepoint starts gray traversals from candidates until about
//! [`SLICE_VISITS`] objects have been marked, and leaves the remaining
//! purple candidates for the next safepoints (the mutator is asked to
//! yield while candidates remain above the threshold). Candidates that an
//! earlier traversal of the same slice already reached are decided with
//! it at no extra cost, so a program that keeps decrementing nodes of one
//! big live structure pays one traversal of it per slice, not one per
//! candidate. Candidates a slice had no budget for are looked at first by
//! the next one, so none starves behind a stream of expensive new ones
//! (a program that keeps prepending to a long live list while making
//! garbage cycles makes an expensive new candidate at every step).
//! Passes are also **paced**: after a pass that marked `n` objects gray,
//! the next waits for `n *` [`PACE_BYTES_PER_VISIT`] bytes of allocation.
//!
//! Slicing is sound because each slice is a complete trial deletion over
//! the subgraph of its roots; a white object that is still buffered as
//! another candidate is garbage all the same and is removed from the buffer
//! and freed with the others.
//!
//! **Why every garbage cycle is found by a `Full` collection.** A cycle
//! becomes garbage when its last outside reference goes away. That is a
//! decrement of a member (a slot overwritten, a root dropped, a referrer
//! freed: the member becomes a candidate), or a stack reference vanishing
//! (noticed at the next safepoint: candidate), or it happens to young
//! objects (in the young set). Two rules close the gaps that deferred
//! counting opens:
//!
//! * an increment never takes an object out of candidacy (Bacon and
//!   Rajan's "incremented, so live for now" assumes every reference is
//!   counted; a store made through an uncounted local is not);
//! * references from objects that live only on the root stack (in the ZCT)
//!   do not make young objects safely old: what survives only through
//!   them, and a new or young object that leaves the stack and is later
//!   promoted, become candidates.
//!
//! A pass that finds a candidate live (black) drops it, but it was live
//! then, through counted references or the stack; for it to die later,
//! another event of the kinds above must happen. A `Full` collection runs
//! the young pass and then the candidate pass over all candidates.
//!
//! ## Memory
//!
//! Objects live in size-class slab pages (module `slab`, allocation in
//! module `alloc`); freed cells are reused and empty pages go back to the
//! system. Byte counts use cell sizes (what the object really occupies),
//! so `heap_limit` bounds real memory apart from page headers and side
//! tables.
//!
//! The slab is private to the crate: walking its allocated cells reads
//! their headers, which is sound only because every cell the collector
//! takes from it is initialised as an object at once. Code outside the
//! crate cannot reach it:
//!
//! ```compile_fail,E0603
//! let _ = gc_refcount::slab::Slab::default();
//! ```
//!
//! ## Header use
//!
//! `meta` holds the count (low 32 bits) and the object's index in the young
//! set or the candidate buffer (high 32 bits); `aux` holds the colour and
//! the flags (module `header`). Both are only touched by the mutator's
//! thread.
//!
//! ## Weak handles
//!
//! Objects with weak handles carry a flag and an entry in a side table;
//! when such an object is freed, its weak entries are cleared before the
//! safepoint ends, so before its cell can be reused (module `weak`).
//!
//! ## Checking it
//!
//! The crate's tests run gc-core's conformance suite (also in stress mode)
//! with the heap verifier after every collection; the verifier (module
//! `verify`) recomputes every count from scratch. CI runs every test executable of this crate
//! under valgrind memcheck, clean (`.ci/valgrind.sh gc-refcount`), which
//! for each executable that `cargo test --release -p gc-refcount --no-run`
//! builds amounts to:
//!
//! ```text
//! GC_CONFORMANCE_SCALE=20 valgrind --leak-check=full --error-exitcode=1 \
//!     --suppressions=.ci/valgrind.supp target/release/deps/<test>-<hash> --test-threads=1
//! ```
//!
//! (The suppression covers one allocation of std's test-harness thread
//! handle that valgrind calls "possibly lost".)

//!
//! ## Layout
//!
//! | Module    | What it holds |
//! |-----------|---------------|
//! | `lib.rs`  | these docs, the collector's state and the `Collector` impl, which delegates; the safepoint's two pauses |
//! | `header`  | the count, index, colour and flag bits of `meta` and `aux`, their accessors, the indexed lists |
//! | `alloc`   | allocation |
//! | `barrier` | the write barrier: counting, the ZCT and candidate buffers it fills |
//! | `pacer`   | when a young pass, a candidate pass and a yield are due; slice and pacing constants |
//! | `stack`   | the root-stack flags and what leaving the stack means |
//! | `zct`     | the ZCT drain and freeing (`release`) |
//! | `dying`   | bounded freeing: retiring dead objects, dismantling them at safepoints and from allocation |
//! | `young`   | the young pass |
//! | `cycles`  | the candidate pass (trial deletion) and its slicing |
//! | `weak`    | the weak side table |
//! | `verify`  | the heap verifier |
//! | `slab`    | size-class pages and large objects: the memory layer |

mod alloc;
mod barrier;
mod cycles;
mod dying;
mod header;
mod pacer;
mod slab;
mod stack;
mod verify;
mod weak;
mod young;
mod zct;

use std::cell::UnsafeCell;

use gc_core::object::mix_address;
use gc_core::{
    AllocError, Capabilities, CollectKind, Collector, ConfigError, HeapConfig, HeapCounters,
    ObjPtr, PauseWork, Phase, RawValue, Request, Safepoint, SlotInit,
};
use hashbrown::HashMap;

use header::IndexedList;
use slab::Slab;

pub use dying::FREE_STEP;
pub use pacer::{PACE_BYTES_PER_VISIT, SLICE_VISITS, young_threshold};

/// The collector's state, owned by the mutator's thread.
///
/// # Invariants
///
/// Every module of the crate keeps these (the accessors of `header` are
/// `unsafe` on an object's liveness; these invariants are what the
/// collecting code cites for it):
///
/// 1. Every object in `zct`, `young`, `candidates`, `stacked`, `dying`
///    and `partial`, and every key of `weak`, is allocated: `release`
///    takes an object out of the young set and the candidate buffer, and
///    is never called on an object in the ZCT, on the stack, or dying
///    (except by dismantling, which has taken it off `dying`).
/// 2. Outside the freeing loops of a pass, every reference in a slot of an
///    allocated object, in a persistent root or on the root stack names an
///    allocated object, and each slot and persistent root reference is
///    counted in its target's count.
/// 3. Every cell the slab handed out and has not taken back holds an object
///    initialised by `ObjPtr::init` (allocation initialises the cell right
///    after taking it, with nothing in between that can fail).
/// 4. `IN_ZCT` is set exactly on the members of `zct`, `STACK` on those of
///    `stacked`, `DEAD` on those of `dying` and `partial`; `YOUNG` and `BUFFERED` objects are in `young` and
///    `candidates` at the index in their header.
struct State {
    slab: Slab,
    zct: Vec<ObjPtr>,
    young: IndexedList,
    candidates: IndexedList,
    /// Candidates at the front of the buffer that the last slice deferred.
    deferred: usize,
    /// `allocated` at which the next candidate pass may run.
    next_candidate_pass: u64,
    /// Objects flagged `STACK` at the last safepoint.
    stacked: Vec<ObjPtr>,
    /// Weak entries of objects flagged `WEAK`.
    weak: HashMap<ObjPtr, Vec<u32>>,
    /// Weak entries of objects freed in this safepoint, to clear.
    dead_weak: Vec<u32>,
    limit: usize,
    threshold: usize,
    /// Young objects that trigger a young pass.
    young_threshold: usize,
    yield_bytes: usize,
    live: usize,
    peak: usize,
    allocated: u64,
    allocated_objects: u64,
    freed: u64,
    since_safepoint: usize,
    /// Objects freed in the current pause.
    freed_objects: u64,
    scratch: Vec<ObjPtr>,
    scratch2: Vec<ObjPtr>,
    /// Dead objects waiting to be dismantled (module `dying`).
    dying: Vec<ObjPtr>,
    /// The dead object being dismantled and its next slot.
    partial: Option<(ObjPtr, usize)>,
    /// The current mutator epoch (module `dying`), 1 to `MAX_EPOCH`.
    epoch: u32,
}

impl State {
    fn new(config: &HeapConfig) -> State {
        State {
            slab: Slab::default(),
            zct: Vec::new(),
            dying: Vec::new(),
            partial: None,
            epoch: 1,
            young: IndexedList::default(),
            candidates: IndexedList::default(),
            deferred: 0,
            next_candidate_pass: 0,
            stacked: Vec::new(),
            weak: HashMap::new(),
            dead_weak: Vec::new(),
            limit: config.heap_limit,
            threshold: config.cycle_threshold,
            young_threshold: young_threshold(config.cycle_threshold),
            yield_bytes: config.nursery_bytes,
            live: 0,
            peak: 0,
            allocated: 0,
            allocated_objects: 0,
            freed: 0,
            since_safepoint: 0,
            freed_objects: 0,
            scratch: Vec::new(),
            scratch2: Vec::new(),
        }
    }

    /// Live bytes (cell sizes of every allocated object).
    fn live(&self) -> u64 {
        self.live as u64
    }

    /// The work of a safepoint, as two pauses: the ZCT drain and a step of
    /// dismantling (`Free`, if there was anything to do), then a cycle pass (`Cycle`) if one is due
    /// or `full` asks for it. Weak entries of everything freed are cleared
    /// last.
    ///
    /// # Safety
    ///
    /// 1. Every root and weak entry shown through `sp` names a live object
    ///    of this collector (`Collector::safepoint`'s obligation 2).
    unsafe fn safepoint(&mut self, sp: &mut Safepoint<'_>, full: bool) {
        self.since_safepoint = 0;
        // A new mutator epoch begins after this safepoint (module `dying`).
        self.epoch = if self.epoch == header::MAX_EPOCH {
            1
        } else {
            self.epoch + 1
        };
        let free_budget = if full { usize::MAX } else { FREE_STEP };
        sp.pause(Phase::Free, self, State::live, |st, sp| {
            st.freed_objects = 0;
            // SAFETY: obligation 1.
            unsafe { st.update_stack(sp) };
            let drained = st.drain_zct();
            // SAFETY: at a safepoint.
            let dismantled = unsafe { st.dismantle(free_budget, true) } > 0;
            (drained || dismantled).then_some(PauseWork {
                visited: st.freed_objects,
                ..PauseWork::default()
            })
        });
        sp.pause(Phase::Cycle, self, State::live, |st, _| {
            if !full && !st.cycle_due() {
                return None;
            }
            let (young, _) = st.young_pass();
            st.drain_zct();
            if full {
                // What the young pass's garbage released may make
                // candidates: dismantle it before the candidate pass.
                // SAFETY: at a safepoint.
                unsafe { st.dismantle(usize::MAX, true) };
            }
            let (roots, gray, _) = if full || st.candidates_due() {
                let r = st.candidate_pass(State::slice_budget(full));
                st.candidate_pass_done(r.1);
                r
            } else {
                (0, 0, 0)
            };
            st.drain_zct();
            if full {
                // SAFETY: at a safepoint.
                unsafe { st.dismantle(usize::MAX, true) };
            }
            Some(PauseWork {
                visited: young + gray,
                roots: young + roots,
                ..PauseWork::default()
            })
        });
        self.clear_dead_weak(sp);
    }
}

/// The deferred reference-counting collector. See the [crate docs](crate).
pub struct RefCount {
    st: UnsafeCell<State>,
}

impl RefCount {
    #[inline]
    #[allow(clippy::mut_from_ref)]
    fn st(&self) -> &mut State {
        // SAFETY: RefCount is !Sync (UnsafeCell), so only the mutator's
        // thread calls it; no method holds this borrow across a call that
        // could re-enter another method (the heap never calls back into
        // the collector from inside one).
        unsafe { &mut *self.st.get() }
    }
}

// SAFETY: (1) `alloc` initialises slab cells (8-aligned, never shared)
// with ObjPtr::init. (2) Memory is freed in `safepoint` (ZCT drain,
// dismantling, young pass, candidate pass), and in `alloc` only for dead
// objects that were unreachable at the last safepoint and have no weak
// entries (module `dying`). (3) An object is freed only if its count is
// zero and the root stack does not refer to it (so no root or slot refers
// to it), or if trial deletion proved it unreachable from every counted
// reference and the root stack (young garbage, white objects: counted
// references from dying objects count as internal, and the slots holding
// them are cleared first); children of freed objects keep their counts of
// the remaining references. (6) Weak entries of a dead object are cleared
// at the end of the safepoint that retires or frees it, before any
// allocation can reuse the cell (a dying object's cell is reused later,
// when nothing names it). (4) New
// objects sit in the ZCT and are examined only at the next safepoint.
// (5) `write_slot` stores and adjusts counts. (7) Objects never move; the hash mixes the
// address. (8) `live` counts every cell; allocation checks the limit
// first. (9) `inc` (mutator side only) refuses counts above MAX_COUNT,
// leaving room for the candidate pass's +1 per stacked object, so the
// arithmetic inside `safepoint` cannot overflow; `rc - 1` cannot underflow
// because every decrement matches a counted reference (the verifier
// recomputes every count after each collection in the tests).
unsafe impl Collector for RefCount {
    const NAME: &'static str = "refcount";
    const CAPABILITIES: Capabilities = Capabilities {
        reclaims: true,
        reclaims_cycles: true,
        moving: false,
        concurrent: false,
    };

    fn new(config: &HeapConfig) -> Result<Self, ConfigError> {
        Ok(RefCount {
            st: UnsafeCell::new(State::new(config)),
        })
    }

    #[inline(always)]
    unsafe fn alloc(
        &self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
    ) -> Result<ObjPtr, AllocError> {
        // SAFETY: the caller's obligation 1 is `State::alloc`'s.
        unsafe { self.st().alloc(kind, slots, bytes) }
    }

    #[inline]
    unsafe fn write_slot(&self, obj: ObjPtr, index: usize, value: RawValue) {
        // SAFETY: the caller's obligations 1 to 3 are `State::write_slot`'s.
        unsafe { self.st().write_slot(obj, index, value) }
    }

    unsafe fn root_added(&self, obj: ObjPtr) {
        // SAFETY: the caller's obligation 1: a live object.
        unsafe { self.st().inc(obj) }
    }

    unsafe fn root_removed(&self, obj: ObjPtr) {
        // SAFETY: the caller's obligation 1: still allocated, and the root
        // was counted by `root_added`.
        unsafe { self.st().dec(obj) }
    }

    unsafe fn weak_added(&self, index: u32, obj: ObjPtr) {
        // SAFETY: the caller's obligation 1: a live object.
        unsafe { self.st().weak_added(index, obj) }
    }

    unsafe fn weak_upgraded(&self, obj: ObjPtr) {
        // SAFETY: the caller's obligation 1: a live object, now held by the
        // mutator (module `dying`: an upgraded object is not dismantled
        // from allocation in this epoch).
        unsafe { self.st().touch(obj) }
    }

    unsafe fn weak_removed(&self, index: u32, obj: ObjPtr) {
        // SAFETY: the caller's obligation 1: still allocated.
        unsafe { self.st().weak_removed(index, obj) }
    }

    #[inline]
    fn should_yield(&self) -> bool {
        self.st().should_yield()
    }

    unsafe fn identity_hash(&self, obj: ObjPtr) -> u64 {
        mix_address(obj.addr())
    }

    unsafe fn safepoint(&mut self, sp: &mut Safepoint<'_>) {
        let full = match sp.request() {
            Request::Force(CollectKind::Minor) | Request::Due => false,
            Request::Force(_) | Request::Stress => true,
        };
        // SAFETY: the caller's obligation 2 is `State::safepoint`'s.
        unsafe { self.st.get_mut().safepoint(sp, full) }
    }

    fn counters(&self) -> HeapCounters {
        let st = self.st();
        HeapCounters {
            allocated_bytes: st.allocated,
            allocated_objects: st.allocated_objects,
            freed_bytes: st.freed,
            promoted_bytes: 0,
            live_bytes: st.live as u64,
            peak_bytes: st.peak as u64,
        }
    }

    unsafe fn verify(&self, sp: &mut Safepoint<'_>) -> Result<(), String> {
        verify::verify(self.st(), sp)
    }
}
