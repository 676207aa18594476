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
//! ([`Collector::write_slot`]) increments the new target and decrements the
//! old one; nothing is ever freed inside `mutate`.
//!
//! An object whose count reaches zero (and every new object, which starts
//! at zero) goes into the **zero-count table** (ZCT). At the next safepoint
//! no mutator locals exist, so an object in the ZCT whose count is still
//! zero is garbage unless the root stack refers to it; it is freed, its
//! children are decremented, and children that reach zero join the table:
//! one worklist, no recursion, so freeing a 10,000,000-long list needs no
//! native stack. Stack-referenced zero-count objects stay in the table.
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
//! collection and in stress mode. It has two parts:
//!
//! 1. **Young pass** (CPython's "subtract internal references", restricted
//!    to the young set): for each young object, `gc = count + (1 if on the
//!    root stack)`, minus one for every reference from another young
//!    object. Young objects with `gc > 0` are referenced from outside the
//!    young set; everything young reachable from them survives and becomes
//!    old. References from objects that the root stack holds in the ZCT
//!    count as internal (they can vanish without a decrement): what
//!    survives only through them becomes old *and a candidate*, so a later
//!    pass looks at it again. The rest is garbage and is freed, decrementing the counts of the
//!    survivors it referred to. The work is linear in the young set and its
//!    slots: references into old objects are not followed, so a new object
//!    pointing into a huge old structure costs nothing extra.
//! 2. **Candidate pass** (Bacon-Rajan synchronous trial deletion): from
//!    each purple candidate, `MarkGray` subtracts every internal reference
//!    of the subgraph it reaches; `Scan` restores (`ScanBlack`) everything
//!    that still has a count, i.e. is referenced from outside; what is left
//!    white is garbage and is freed without touching counts (its references
//!    to live objects were already subtracted). Root-stack references count
//!    as external (one extra count each for the pass). All three
//!    traversals use explicit stacks. The work is bounded by the subgraph
//!    reachable from the candidates, not by the heap.
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
//! the next one, so none starves behind a stream of expensive new ones (a
//! Lox program that prepends to a 200,000-node list while making garbage
//! cycles took 141 s when slices served the newest candidates only).
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
//! counting opens, both found by the differential test
//! (`tests/differential.rs`):
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
//! Objects live in size-class slab pages (`slab`); freed cells are reused
//! and empty pages go back to the system. Byte counts use cell sizes (what
//! the object really occupies), so `heap_limit` bounds real memory apart
//! from page headers and side tables.
//!
//! The slab is private to the crate: walking its allocated cells reads
//! their headers, which is sound only because every cell the collector
//! takes from it is initialised as an object at once. Code outside the
//! crate cannot reach it:
//!
//! ```compile_fail
//! let _ = gc_refcount::slab::Slab::default();
//! ```
//!
//! ## Header use
//!
//! `meta` holds the count (low 32 bits) and the object's index in the young
//! set or the candidate buffer (high 32 bits); `aux` holds the colour and
//! flags below. Both are only touched by the mutator's thread.
//!
//! ## Weak handles
//!
//! Objects with weak handles carry a flag and an entry in a side table;
//! when such an object is freed, its weak entries are cleared before the
//! safepoint ends, so before its cell can be reused.
//!
//! ## Checking it
//!
//! The crate's tests run gc-core's conformance suite (also in stress mode)
//! with the heap verifier after every collection; the verifier recomputes
//! every count from scratch. CI runs every test executable of this crate
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

mod slab;

use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::Relaxed;

use gc_core::object::{checked_size, mix_address};
use gc_core::{
    AllocError, Capabilities, CollectKind, Collector, ConfigError, HeapConfig, HeapCounters,
    ObjPtr, PauseWork, Phase, RawValue, Request, Safepoint, SlotInit,
};
use hashbrown::HashMap;

use slab::{FREE_MARK, Slab, footprint};

/// Young objects that trigger a young pass: an eighth of the cycle
/// threshold, at least 256. The young pass costs the same per object
/// however often it runs, so running it on smaller sets keeps its pauses
/// short (a tenth of a millisecond at the default threshold) at almost no
/// cost in throughput.
pub fn young_threshold(cycle_threshold: usize) -> usize {
    (cycle_threshold / 8).max(256)
}

/// Pacing of candidate passes: after a pass that marked `n` objects gray,
/// the next one waits until `n * PACE_BYTES_PER_VISIT` more bytes have been
/// allocated, so that cycle collection costs the mutator a bounded
/// fraction of its allocation work even when every pass must traverse a
/// big live structure that keeps being decremented (Go's GOGC idea,
/// applied to trial deletion).
pub const PACE_BYTES_PER_VISIT: u64 = 32;

/// Objects a candidate-pass slice may mark gray before it stops taking new
/// candidates (about a millisecond of work).
pub const SLICE_VISITS: usize = 32 * 1024;

const COLOR: u32 = 0b11;
const BLACK: u32 = 0;
const GRAY: u32 = 1;
const WHITE: u32 = 2;
const PURPLE: u32 = 3;
/// In the candidate buffer (`meta` high bits index it).
const BUFFERED: u32 = 1 << 2;
/// In the young set (`meta` high bits index it).
const YOUNG: u32 = 1 << 3;
/// In the zero-count table.
const IN_ZCT: u32 = 1 << 4;
/// On the root stack at the current safepoint.
const STACK: u32 = 1 << 5;
/// Has weak handles.
const WEAK: u32 = 1 << 6;
/// Reached during the young pass.
const REACHED: u32 = 1 << 7;
/// Allocated since its first ZCT visit.
const NEW: u32 = 1 << 8;
/// Reached during the young pass only through objects the root stack
/// holds in the ZCT.
const VIA_ZCT: u32 = 1 << 9;
/// Left the root stack while new or young: if it is promoted, it becomes a
/// candidate (what it kept alive from the stack was never re-examined).
const LEFT_STACK: u32 = 1 << 10;

#[inline]
fn rc(p: ObjPtr) -> u32 {
    // SAFETY: the crate's invariant for these private accessors: callers
    // pass live objects of this collector (the header is only touched by
    // the mutator's thread).
    unsafe { p.header() }.meta().load(Relaxed) as u32
}

#[inline]
fn set_rc(p: ObjPtr, n: u32) {
    // SAFETY: see `rc`.
    let m = unsafe { p.header() }.meta();
    m.store((m.load(Relaxed) & !0xFFFF_FFFF) | u64::from(n), Relaxed)
}

#[inline]
fn index(p: ObjPtr) -> usize {
    // SAFETY: see `rc`.
    (unsafe { p.header() }.meta().load(Relaxed) >> 32) as usize
}

#[inline]
fn set_index(p: ObjPtr, i: usize) {
    // SAFETY: see `rc`.
    let m = unsafe { p.header() }.meta();
    m.store(
        (m.load(Relaxed) & 0xFFFF_FFFF) | ((i as u64) << 32),
        Relaxed,
    )
}

#[inline]
fn flags(p: ObjPtr) -> u32 {
    // SAFETY: see `rc`.
    unsafe { p.header() }.aux().load(Relaxed)
}

#[inline]
fn set_flags(p: ObjPtr, f: u32) {
    // SAFETY: see `rc`.
    unsafe { p.header() }.aux().store(f, Relaxed)
}

#[inline]
fn has(p: ObjPtr, f: u32) -> bool {
    flags(p) & f != 0
}

#[inline]
fn add(p: ObjPtr, f: u32) {
    set_flags(p, flags(p) | f)
}

#[inline]
fn remove(p: ObjPtr, f: u32) {
    set_flags(p, flags(p) & !f)
}

#[inline]
fn color(p: ObjPtr) -> u32 {
    flags(p) & COLOR
}

#[inline]
fn set_color(p: ObjPtr, c: u32) {
    set_flags(p, (flags(p) & !COLOR) | c)
}

#[inline]
fn has_slots(p: ObjPtr) -> bool {
    // SAFETY: see `rc`.
    !unsafe { p.header() }.is_empty()
}

#[inline]
fn for_each_child(p: ObjPtr, f: impl FnMut(usize, ObjPtr)) {
    // SAFETY: see `rc`.
    unsafe { p.for_each_ref(f) }
}

/// A list whose members record their position in the header (`meta` high
/// bits), so membership can end in O(1) when a member is freed.
#[derive(Default)]
struct IndexedList(Vec<ObjPtr>);

impl IndexedList {
    fn push(&mut self, p: ObjPtr) {
        set_index(p, self.0.len());
        self.0.push(p);
    }

    fn remove(&mut self, p: ObjPtr) {
        let i = index(p);
        debug_assert_eq!(self.0[i], p);
        self.0.swap_remove(i);
        if let Some(&moved) = self.0.get(i) {
            set_index(moved, i);
        }
    }
}

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
}

/// The deferred reference-counting collector. See the [crate docs](crate).
pub struct RefCount {
    st: UnsafeCell<State>,
}

impl State {
    /// Live bytes (cell sizes of every allocated object).
    fn live(&self) -> u64 {
        self.live as u64
    }

    /// Whether a candidate pass is due: enough candidates, and enough
    /// allocation since the last pass to pay for it.
    #[inline]
    fn candidates_due(&self) -> bool {
        self.candidates.0.len() >= self.threshold && self.allocated >= self.next_candidate_pass
    }

    #[inline]
    fn inc(&mut self, p: ObjPtr) {
        let n = rc(p);
        // Leave headroom for the candidate pass's temporary +1 per stacked
        // object (which must not be able to wrap a count).
        if n >= MAX_COUNT {
            count_overflow();
        }
        // Bacon and Rajan blacken an incremented candidate ("live for
        // now"). That is only sound when every reference is counted: here
        // the increment may come from a store made through an uncounted
        // local (say, of the object into its own slot), and when the local
        // dies nothing is decremented. So a candidate stays purple until a
        // pass has looked at it.
        set_rc(p, n + 1);
    }

    #[inline]
    fn dec(&mut self, p: ObjPtr) {
        let n = rc(p) - 1;
        set_rc(p, n);
        if n == 0 {
            self.push_zct(p);
        } else {
            self.possible_root(p);
        }
    }

    #[inline]
    fn push_zct(&mut self, p: ObjPtr) {
        let f = flags(p);
        if f & IN_ZCT == 0 {
            set_flags(p, f | IN_ZCT);
            self.zct.push(p);
        }
    }

    /// Bacon-Rajan `PossibleRoot`: colour purple and buffer, unless the
    /// object cannot be in a cycle or is examined anyway (young).
    #[inline]
    fn possible_root(&mut self, p: ObjPtr) {
        let f = flags(p);
        if f & (YOUNG | NEW) != 0 || !has_slots(p) {
            return;
        }
        set_flags(p, (f & !COLOR) | PURPLE | BUFFERED);
        if f & BUFFERED == 0 {
            self.candidates.push(p);
        }
    }

    /// Frees a dead object's memory and bookkeeping (not its children's
    /// counts: callers decide that).
    fn release(&mut self, p: ObjPtr) {
        let f = flags(p);
        if f & BUFFERED != 0 {
            self.candidates.remove(p);
        }
        if f & YOUNG != 0 {
            self.young.remove(p);
        }
        if f & WEAK != 0
            && let Some(entries) = self.weak.remove(&p)
        {
            self.dead_weak.extend(entries);
        }
        debug_assert!(f & (IN_ZCT | STACK) == 0, "freeing a ZCT or stack object");
        // SAFETY: the object is live until this point.
        let size = unsafe { p.size() };
        let fp = footprint(size);
        self.live -= fp;
        self.freed += fp as u64;
        self.freed_objects += 1;
        // SAFETY: `p` came from `slab.alloc(size)`; the caller guarantees
        // nothing refers to it any more (count zero and not on the stack,
        // or white garbage), and it has left every list above.
        unsafe { self.slab.free(p.as_raw().cast(), size) };
    }

    /// Frees zero-count objects until the table holds only objects the root
    /// stack refers to. New objects that leave the table with a count join
    /// the young set.
    fn drain_zct(&mut self) -> bool {
        let mut worked = false;
        let mut deferred = std::mem::take(&mut self.scratch);
        while let Some(p) = self.zct.pop() {
            worked = true;
            let f = flags(p);
            if rc(p) > 0 {
                set_flags(p, f & !(IN_ZCT | NEW));
                if f & NEW != 0 {
                    if has_slots(p) {
                        add(p, YOUNG);
                        self.young.push(p);
                    }
                } else {
                    // An old object that lost every reference and gained
                    // one back: the new reference may come from a cycle
                    // that has since become garbage, so it is a candidate
                    // like any object decremented to a non-zero count.
                    self.possible_root(p);
                }
                continue;
            }
            if f & STACK != 0 {
                deferred.push(p);
                continue;
            }
            set_flags(p, f & !(IN_ZCT | NEW));
            for_each_child(p, |_, c| self.dec(c));
            self.release(p);
        }
        self.zct.append(&mut deferred);
        self.scratch = deferred;
        worked
    }

    /// Flags the objects on the root stack, and treats objects that left it
    /// since the last safepoint as decremented.
    fn update_stack(&mut self, sp: &mut Safepoint<'_>) {
        let prev = std::mem::take(&mut self.stacked);
        for &p in &prev {
            remove(p, STACK);
        }
        let mut now = std::mem::take(&mut self.scratch2);
        sp.for_each_stack_root(|p| {
            let p = *p;
            if !has(p, STACK) {
                add(p, STACK);
                now.push(p);
            }
        });
        for &p in &prev {
            if !has(p, STACK) {
                if rc(p) == 0 {
                    self.push_zct(p);
                } else if has(p, NEW | YOUNG) {
                    add(p, LEFT_STACK);
                } else {
                    self.possible_root(p);
                }
            }
        }
        self.stacked = now;
        self.scratch2 = prev;
        self.scratch2.clear();
    }

    /// The young pass; returns (objects examined, objects freed).
    fn young_pass(&mut self) -> (u64, u64) {
        let young = std::mem::take(&mut self.young.0);
        let n = young.len();
        let mut gc: Vec<i64> = young
            .iter()
            .map(|&p| i64::from(rc(p)) + i64::from(has(p, STACK)))
            .collect();
        let subtract = |gc: &mut Vec<i64>, p: ObjPtr| {
            for_each_child(p, |_, c| {
                if has(c, YOUNG) {
                    gc[index(c)] -= 1;
                }
            })
        };
        for &p in &young {
            subtract(&mut gc, p);
        }
        // Objects still in the ZCT here are held by the root stack alone.
        // Their references are not outside references that later
        // decrements will report (they may vanish with the object), so
        // they count as internal, and what survives only through them is
        // marked separately below.
        for i in 0..self.zct.len() {
            subtract(&mut gc, self.zct[i]);
        }
        // Marks a young object not marked yet with `flag` and queues it.
        let shade = |c: ObjPtr, flag: u32, work: &mut Vec<ObjPtr>| {
            let f = flags(c);
            if f & (YOUNG | REACHED | VIA_ZCT) == YOUNG {
                set_flags(c, f | flag);
                work.push(c);
            }
        };
        let mark = |work: &mut Vec<ObjPtr>, flag: u32| {
            while let Some(p) = work.pop() {
                for_each_child(p, |_, c| shade(c, flag, work));
            }
        };
        let mut work = std::mem::take(&mut self.scratch);
        for (i, &p) in young.iter().enumerate() {
            if gc[i] > 0 {
                shade(p, REACHED, &mut work);
            }
        }
        mark(&mut work, REACHED);
        for i in 0..self.zct.len() {
            for_each_child(self.zct[i], |_, c| shade(c, VIA_ZCT, &mut work));
        }
        mark(&mut work, VIA_ZCT);
        let mut garbage = work;
        for &p in &young {
            let f = flags(p);
            if f & REACHED != 0 {
                set_flags(p, f & !(REACHED | YOUNG | LEFT_STACK));
                if f & LEFT_STACK != 0 {
                    self.possible_root(p);
                }
            } else if f & VIA_ZCT != 0 {
                set_flags(p, f & !(VIA_ZCT | YOUNG | LEFT_STACK));
                // It owes its life to a reference that may vanish without
                // a decrement: a candidate, so a later pass looks again.
                self.possible_root(p);
            } else {
                set_flags(p, (f & !(YOUNG | COLOR)) | WHITE);
                garbage.push(p);
            }
        }
        // Garbage releases its references to survivors first, then goes.
        for &g in &garbage {
            for_each_child(g, |_, c| {
                if color(c) != WHITE {
                    self.dec(c);
                }
            });
        }
        let freed = garbage.len() as u64;
        for &g in &garbage {
            set_color(g, BLACK);
            self.release(g);
        }
        garbage.clear();
        self.scratch = garbage;
        (n as u64, freed)
    }

    /// One slice of Bacon-Rajan trial deletion; returns (roots, objects
    /// marked gray, objects freed). `budget` bounds the gray marking.
    fn candidate_pass(&mut self, budget: usize) -> (u64, u64, u64) {
        // Root-stack references are external references for the pass.
        for i in 0..self.stacked.len() {
            let p = self.stacked[i];
            set_rc(p, rc(p) + 1);
        }
        let mut roots = Vec::new();
        let mut stack = std::mem::take(&mut self.scratch);
        let mut visited = 0usize;
        // MarkRoots. The whole buffer is taken out and every candidate
        // looked at: first those deferred by the previous slice, oldest
        // first (so none starves), then the new ones, newest first (a
        // new candidate often reaches older ones: the newest head of a
        // list covers every older head). A purple candidate starts a gray
        // traversal only while the budget lasts and is deferred otherwise;
        // one already gray (inside an earlier root's subgraph) costs
        // nothing and is decided with that root.
        let all = std::mem::take(&mut self.candidates.0);
        let split = self.deferred.min(all.len());
        let (old, new) = all.split_at(split);
        let mut deferred = Vec::new();
        for &s in old.iter().chain(new.iter().rev()) {
            if color(s) == PURPLE && rc(s) > 0 {
                if visited >= budget {
                    deferred.push(s);
                    continue;
                }
                roots.push(s);
                set_color(s, GRAY);
                visited += 1;
                stack.push(s);
                while let Some(p) = stack.pop() {
                    for_each_child(p, |_, c| {
                        set_rc(c, rc(c) - 1);
                        if color(c) != GRAY {
                            set_color(c, GRAY);
                            visited += 1;
                            stack.push(c);
                        }
                    });
                }
            } else {
                // Not purple (incremented since, or gray inside this
                // slice's subgraph): no longer a candidate.
                remove(s, BUFFERED);
            }
        }
        // ScanRoots.
        let mut black = std::mem::take(&mut self.scratch2);
        for &r in &roots {
            stack.push(r);
            while let Some(p) = stack.pop() {
                if color(p) != GRAY {
                    continue;
                }
                if rc(p) > 0 {
                    // ScanBlack.
                    set_color(p, BLACK);
                    black.push(p);
                    while let Some(q) = black.pop() {
                        for_each_child(q, |_, c| {
                            set_rc(c, rc(c) + 1);
                            if color(c) != BLACK {
                                set_color(c, BLACK);
                                black.push(c);
                            }
                        });
                    }
                } else {
                    set_color(p, WHITE);
                    for_each_child(p, |_, c| stack.push(c));
                }
            }
        }
        // CollectRoots: white objects are garbage, buffered or not (every
        // candidate is out of the buffer during the pass).
        for &r in &roots {
            remove(r, BUFFERED);
        }
        let mut white = black;
        for &r in &roots {
            stack.push(r);
            while let Some(p) = stack.pop() {
                let f = flags(p);
                if f & COLOR != WHITE {
                    continue;
                }
                set_flags(p, f & !(COLOR | BUFFERED));
                white.push(p);
                for_each_child(p, |_, c| stack.push(c));
            }
        }
        // Deferred candidates go back (unless found white above) before
        // any memory is freed.
        for p in deferred {
            if has(p, BUFFERED) {
                self.candidates.push(p);
            }
        }
        self.deferred = self.candidates.0.len();
        let freed = white.len() as u64;
        for &p in &white {
            self.release(p);
        }
        white.clear();
        self.scratch2 = white;
        self.scratch = stack;
        for i in 0..self.stacked.len() {
            let p = self.stacked[i];
            let n = rc(p) - 1;
            set_rc(p, n);
            if n == 0 {
                self.push_zct(p);
            }
        }
        (roots.len() as u64, visited as u64, freed)
    }
}

/// Highest count an object may reach through `inc`.
const MAX_COUNT: u32 = u32::MAX - 2;

#[cold]
#[inline(never)]
fn count_overflow() -> ! {
    panic!("gc-refcount: reference count overflow (more than 2^32 - 1 references to one object)")
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

    fn cycle_due(st: &State) -> bool {
        st.young.0.len() >= st.young_threshold || st.candidates_due()
    }
}

// SAFETY: (1) `alloc` initialises slab cells (8-aligned, never shared)
// with ObjPtr::init. (2) Memory is freed only in `safepoint` (ZCT drain,
// young pass, candidate pass). (3) An object is freed only if its count is
// zero and the root stack does not refer to it (so no root or slot refers
// to it), or if trial deletion proved it unreachable from every counted
// reference and the root stack (young garbage, white objects); children of
// freed objects keep their counts of the remaining references. (4) New
// objects sit in the ZCT and are examined only at the next safepoint.
// (5) `write_slot` stores and adjusts counts. (6) Weak entries of freed
// objects are cleared at the end of the same safepoint, before any
// allocation can reuse the cell. (7) Objects never move; the hash mixes the
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
            st: UnsafeCell::new(State {
                slab: Slab::default(),
                zct: Vec::new(),
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
            }),
        })
    }

    // Inlined into the embedder, where slot and byte counts are usually
    // constants (the object is then written with a few stores, not two
    // `memmove` calls: whole-program optimisation otherwise keeps this
    // out of line).
    #[inline(always)]
    unsafe fn alloc(
        &self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
    ) -> Result<ObjPtr, AllocError> {
        let st = self.st();
        let size = checked_size(&slots, bytes)?;
        let fp = footprint(size);
        let oom = AllocError::OutOfMemory {
            requested: fp,
            limit: st.limit,
            in_use: st.live,
        };
        if fp > st.limit - st.live {
            return Err(oom);
        }
        // Check that the counts can take the new references before anything
        // changes: a panic after the cell is taken would leave it
        // uninitialised below its page's bump offset.
        let refs = slots.len() as u64;
        slots.for_each_ref(|c| {
            if u64::from(rc(c)) + refs > u64::from(MAX_COUNT) {
                count_overflow()
            }
        });
        let mem: NonNull<u8> = st.slab.alloc(size).ok_or(oom)?;
        slots.for_each_ref(|c| st.inc(c));
        // SAFETY: a fresh cell of at least `size` bytes, 8-aligned; slot
        // references are live objects (caller).
        let p = unsafe { ObjPtr::init(mem, kind, slots, bytes, 0, NEW | IN_ZCT) };
        st.zct.push(p);
        st.live += fp;
        st.peak = st.peak.max(st.live);
        st.allocated += fp as u64;
        st.allocated_objects += 1;
        st.since_safepoint += fp;
        Ok(p)
    }

    #[inline]
    unsafe fn write_slot(&self, obj: ObjPtr, index: usize, value: RawValue) {
        let st = self.st();
        // SAFETY: the caller guarantees a live object and an index in
        // bounds; the barrier follows.
        let old = unsafe { obj.load_slot(index) };
        if let Some(n) = value.as_ptr() {
            st.inc(n);
        }
        // SAFETY: as above.
        unsafe { obj.store_slot(index, value) };
        if let Some(o) = old.as_ptr() {
            st.dec(o);
        }
    }

    unsafe fn root_added(&self, obj: ObjPtr) {
        self.st().inc(obj)
    }

    unsafe fn root_removed(&self, obj: ObjPtr) {
        self.st().dec(obj)
    }

    unsafe fn weak_added(&self, index: u32, obj: ObjPtr) {
        add(obj, WEAK);
        self.st().weak.entry(obj).or_default().push(index);
    }

    unsafe fn weak_removed(&self, index: u32, obj: ObjPtr) {
        let st = self.st();
        if let Some(v) = st.weak.get_mut(&obj) {
            v.retain(|&i| i != index);
            if v.is_empty() {
                st.weak.remove(&obj);
                remove(obj, WEAK);
            }
        }
    }

    #[inline]
    fn should_yield(&self) -> bool {
        let st = self.st();
        st.since_safepoint >= st.yield_bytes || st.candidates_due()
    }

    unsafe fn identity_hash(&self, obj: ObjPtr) -> u64 {
        mix_address(obj.addr())
    }

    unsafe fn safepoint(&mut self, sp: &mut Safepoint<'_>) {
        let st = self.st.get_mut();
        st.since_safepoint = 0;
        let full = match sp.request() {
            Request::Force(CollectKind::Minor) | Request::Due => false,
            Request::Force(_) | Request::Stress => true,
        };
        sp.pause(Phase::Free, st, State::live, |st, sp| {
            st.freed_objects = 0;
            st.update_stack(sp);
            st.drain_zct().then_some(PauseWork {
                visited: st.freed_objects,
                ..PauseWork::default()
            })
        });
        sp.pause(Phase::Cycle, st, State::live, |st, _| {
            if !full && !Self::cycle_due(st) {
                return None;
            }
            let (young, _) = st.young_pass();
            st.drain_zct();
            let budget = if full { usize::MAX } else { SLICE_VISITS };
            let (roots, gray, _) = if full || st.candidates_due() {
                let r = st.candidate_pass(budget);
                st.next_candidate_pass = st.allocated + r.1 * PACE_BYTES_PER_VISIT;
                r
            } else {
                (0, 0, 0)
            };
            st.drain_zct();
            Some(PauseWork {
                visited: young + gray,
                roots: young + roots,
                ..PauseWork::default()
            })
        });
        for i in std::mem::take(&mut st.dead_weak) {
            if let Some(t) = sp.weak_mut(i) {
                *t = None;
            }
        }
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
        verify(self.st(), sp)
    }
}

/// The heap verifier: recomputes every count and checks every flag.
fn verify(st: &State, sp: &mut Safepoint<'_>) -> Result<(), String> {
    let mut expected: HashMap<ObjPtr, u64> = HashMap::new();
    let mut all = Vec::new();
    // SAFETY: every cell the slab handed out holds an object initialised
    // by `ObjPtr::init` right after `Slab::alloc` (nothing in between can
    // fail) until `release` frees it.
    unsafe {
        st.slab.for_each_allocated(|m| {
            // SAFETY: as above: an allocated cell holds an object header.
            let p = ObjPtr::from_raw(m.cast());
            all.push(p);
            expected.insert(p, 0);
        })
    };
    let mut bad = None;
    for &p in &all {
        for_each_child(p, |i, c| match expected.get_mut(&c) {
            Some(n) => *n += 1,
            None => {
                bad.get_or_insert(format!("slot {i} of {p:?} refers to freed {c:?}"));
            }
        });
    }
    if let Some(b) = bad {
        return Err(b);
    }
    // Persistent roots are counted references (one per root entry);
    // `verify_references` reports those that are not objects.
    sp.for_each_persistent_root(|p| {
        if let Some(n) = expected.get_mut(p) {
            *n += 1;
        }
    });
    sp.verify_references(|p| expected.contains_key(&p))?;
    sp.for_each_weak(|i, t| {
        if let Some(p) = t
            && !st.weak.get(p).is_some_and(|v| v.contains(&i))
        {
            bad.get_or_insert(format!("weak entry {i} of {p:?} is not in the side table"));
        }
    });
    if let Some(b) = bad {
        return Err(b);
    }
    let mut zct_members = 0;
    for &p in &all {
        let f = flags(p);
        let n = u64::from(rc(p));
        if f == FREE_MARK {
            return Err(format!("{p:?} is allocated but marked free"));
        }
        if n != expected[&p] {
            return Err(format!("{p:?} has count {n}, expected {}", expected[&p]));
        }
        if f & (REACHED | VIA_ZCT) != 0 || matches!(f & COLOR, GRAY | WHITE) {
            return Err(format!(
                "{p:?} has pass-only state {f:#x} after a safepoint"
            ));
        }
        if f & COLOR == PURPLE && f & BUFFERED == 0 {
            return Err(format!("{p:?} is purple but not buffered"));
        }
        if f & BUFFERED != 0 && st.candidates.0.get(index(p)) != Some(&p) {
            return Err(format!("{p:?} is buffered at a wrong index"));
        }
        if f & YOUNG != 0 && st.young.0.get(index(p)) != Some(&p) {
            return Err(format!("{p:?} is young at a wrong index"));
        }
        if f & IN_ZCT != 0 {
            zct_members += 1;
        } else if n == 0 && f & STACK == 0 {
            return Err(format!("{p:?} has count zero but is not in the ZCT"));
        }
        if f & NEW != 0 && f & IN_ZCT == 0 {
            return Err(format!("{p:?} is new but not in the ZCT"));
        }
    }
    if zct_members != st.zct.len() {
        return Err(format!(
            "{} objects flagged IN_ZCT, {} in the table",
            zct_members,
            st.zct.len()
        ));
    }
    let total: usize = all
        .iter()
        // SAFETY: allocated objects.
        .map(|&p| footprint(unsafe { p.size() }))
        .sum();
    if total != st.live {
        return Err(format!("live bytes {} but objects hold {total}", st.live));
    }
    Ok(())
}
