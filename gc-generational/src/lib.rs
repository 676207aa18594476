//! # gc-generational: a generational copying collector
//!
//! Most objects die young; a copying nursery makes their death free. This
//! is the design of V8's scavenger and the JVM's young generation, fitted
//! to gc-core's safepoint model.
//!
//! ## Spaces
//!
//! * **Nursery**: a chunk of [`HeapConfig::nursery_bytes`]; allocation is a
//!   pointer bump ([`space::Space::alloc`], inlined into the mutator). A
//!   collection cannot run inside `mutate`, so when the nursery fills
//!   mid-call the space simply takes another chunk and
//!   [`Collector::should_yield`] asks the mutator to return; the next
//!   safepoint collects all of it.
//! * **Survivor spaces** (two, alternating): young objects that survived a
//!   minor collection but are younger than [`HeapConfig::promotion_age`].
//! * **Old space**: promoted objects, bump-allocated in chunks.
//! * **Large-object space**: objects of at least
//!   [`HeapConfig::large_object_bytes`] are allocated on their own, born
//!   old, and never copied.
//!
//! ## Header use
//!
//! `meta` holds a forwarding address during a collection (low bits `01`),
//! and otherwise the object's age and flags (`OLD`, `REMEMBERED`, `LARGE`,
//! `MARK`). `aux` holds the identity hash once one was asked for (0 means
//! none yet): copying moves the whole header, so the hash survives every
//! move.
//!
//! ## The write barrier and the remembered set
//!
//! A minor collection must find every young object, but scans only the
//! roots and the old objects that may refer to young ones. The barrier in
//! [`Collector::write_slot`] keeps that set: when a reference to a young
//! object is stored into an old object that is not remembered yet, the old
//! object is flagged `REMEMBERED` and pushed onto the remembered set (an
//! object-granularity card table). Large objects allocated with young
//! references, and objects promoted while still referring to young ones,
//! join it the same way.
//!
//! ## Minor collection (Cheney)
//!
//! At a safepoint when the nursery has filled (or on `collect(Minor)`):
//! every root and every slot of a remembered object that refers to a young
//! object is *forwarded*: the object is copied to the survivor to-space
//! (or, if it has survived `promotion_age - 1` collections, to the old
//! space), and its old header is overwritten with the forwarding address.
//! Two Cheney scan pointers then walk the objects copied so far (one in the
//! survivor to-space, one over the newly promoted part of the old space)
//! and forward their young references in turn, until both catch up: no
//! recursion, no mark stack. Old objects that still refer to young ones
//! after the scan are remembered for the next cycle. Weak entries to young
//! objects follow the forwarding address or are cleared. The nursery and
//! the survivor from-space are then empty and reused.
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
//! copy is remembered on the spot.
//!
//! ## Pretenuring
//!
//! A workload whose new objects mostly live long (a cache filling up, a
//! table whose entries are replaced) makes every minor collection copy a
//! whole nursery of survivors, twice: its pauses grow with the nursery and
//! buy nothing. When two minor collections in a row find at least half of
//! the young generation alive, new objects are allocated directly in the
//! old space (bump allocation there too, with the barrier's remembered set
//! covering their references to young objects) until the next major
//! collection, after which survival is measured afresh. This is the
//! dynamic counterpart of V8's allocation-site pretenuring.
//!
//! ## Major collection (compacting, order-preserving)
//!
//! When the old generation (old space plus large objects) exceeds
//! `(1 + growth_factor)` times its size after the previous major
//! collection, or on `collect(Major | Full)`:
//!
//! 1. everything reachable is marked (the `MARK` bit, an explicit stack:
//!    no recursion on heap depth);
//! 2. the marked objects of the old space, then of the survivor space,
//!    then of the nursery, are copied *in address order* into a fresh old
//!    space, each leaving a forwarding address;
//! 3. one pass over the copies, the marked large objects, the roots and
//!    the weak entries rewrites every reference to its new address;
//! 4. unmarked large objects are freed.
//!
//! The old space is therefore always compact (no fragmentation to
//! manage), and it keeps the order in which its objects were allocated or
//! promoted, like a sliding compactor (Lisp 2) but without moving objects
//! over each other. That order matters: a Cheney (breadth-first) major
//! collection scattered the Lox `trees` benchmark's 390,000 instances away
//! from their fields tables and its walk took 5.9 s (4.1 s with copy
//! chains), against 2.4 s in allocation order. The price is a pause
//! proportional to the live heap (three passes where Cheney makes one)
//! and, transiently, twice the old space.
//!
//! ## Invariants checked by the verifier
//!
//! After every collection (with [`HeapConfig::verify`]): every object in
//! every space has a normal (not forwarded) header and a valid size; every
//! reference (slots, roots, weak entries) points at the start of an object
//! in the current spaces, never into the nursery's or a from-space's old
//! contents; every old object that refers to a young one is remembered.

pub mod space;

use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use gc_core::nogc::mix_address;
use gc_core::object::checked_size;
use gc_core::{
    AllocError, Capabilities, CollectKind, Collector, ConfigError, HeapConfig, HeapCounters,
    ObjPtr, PauseInfo, Phase, RawValue, Request, Safepoint, SlotInit,
};
use hashbrown::{HashMap, HashSet};

use space::Space;

const FORWARDED: u64 = 0b01;
const TAG: u64 = 0b11;
const AGE_SHIFT: u32 = 2;
const AGE_MASK: u64 = 0xF << AGE_SHIFT;
const OLD: u64 = 1 << 6;
const REMEMBERED: u64 = 1 << 7;
const LARGE: u64 = 1 << 8;
const MARK: u64 = 1 << 9;
/// How many slots of a just-copied object are searched for a child to
/// copy right behind it, and how long such a chain may get.
const EAGER_SLOTS: usize = 8;
const EAGER_CHAIN: usize = 64;

/// Chunk size of the survivor and old spaces.
const CHUNK: usize = 1 << 20;
/// The old generation is never collected below this size (like Go's
/// 4 MiB minimum heap goal).
const MIN_MAJOR_TRIGGER: usize = 8 << 20;
/// Fraction of the young generation that must survive a minor collection
/// for it to count as a high-survival collection.
const PRETENURE_SURVIVAL: f64 = 0.5;
/// High-survival minor collections in a row that switch allocation to the
/// old space until the next major collection.
const PRETENURE_STREAK: u32 = 2;

#[inline]
fn meta(p: ObjPtr) -> u64 {
    // SAFETY: the crate's invariant for these private accessors: callers
    // pass live objects (or from-space copies during a collection) of this
    // collector, touched only by the mutator's thread.
    unsafe { p.header() }.meta().load(Relaxed)
}

#[inline]
fn set_meta(p: ObjPtr, m: u64) {
    // SAFETY: see `meta`.
    unsafe { p.header() }.meta().store(m, Relaxed)
}

/// Copies the complete object `p` (`size` bytes) into `mem`, gives the
/// copy the header word `new_meta` and leaves a forwarding address in `p`.
#[inline]
fn move_object(p: ObjPtr, size: usize, mem: Option<NonNull<u8>>, new_meta: u64) -> ObjPtr {
    let mem = mem.unwrap_or_else(|| copy_space_exhausted(size));
    // SAFETY: `mem` is fresh space of `size` bytes; the source is a
    // complete object that nothing else is writing (a collection runs at a
    // safepoint, on the mutator's thread).
    unsafe { std::ptr::copy_nonoverlapping(p.as_raw().as_ptr().cast::<u8>(), mem.as_ptr(), size) };
    // SAFETY: the copy is a complete object.
    let to = unsafe { ObjPtr::from_raw(mem.cast()) };
    set_meta(to, new_meta);
    set_meta(p, to.addr() as u64 | FORWARDED);
    to
}

#[inline]
fn is_young(p: ObjPtr) -> bool {
    meta(p) & OLD == 0
}

#[inline]
fn forwardee(m: u64) -> Option<ObjPtr> {
    (m & TAG == FORWARDED).then(|| {
        // SAFETY: a forwarding word holds the address of the copy, which
        // is a non-null object header.
        unsafe {
            ObjPtr::from_raw(NonNull::new_unchecked(
                (m & !TAG) as usize as *mut gc_core::object::ObjHeader,
            ))
        }
    })
}

struct State {
    nursery: Space,
    /// Survivors of the last minor collection.
    survivors: Space,
    /// The other survivor space (empty between collections).
    survivors_to: Space,
    old: Space,
    /// Large objects: address -> size.
    large: HashMap<ObjPtr, usize>,
    large_bytes: usize,
    /// Bytes in the survivor, old and large-object spaces (they change
    /// only at safepoints and on large allocations).
    settled: usize,
    remembered: Vec<ObjPtr>,
    limit: usize,
    nursery_bytes: usize,
    large_threshold: usize,
    promotion_age: u64,
    growth: f64,
    /// Old-generation size that triggers a major collection.
    major_trigger: usize,
    allocated: u64,
    allocated_objects: u64,
    freed: u64,
    promoted: u64,
    peak: usize,
    stress_count: u64,
    scratch: Vec<ObjPtr>,
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
        self.settled = self.survivors.used() + self.old.used() + self.large_bytes;
    }

    fn old_generation(&self) -> usize {
        self.old.used() + self.large_bytes
    }

    #[inline]
    fn remember(&mut self, p: ObjPtr) {
        let m = meta(p);
        if m & REMEMBERED == 0 {
            set_meta(p, m | REMEMBERED);
            self.remembered.push(p);
        }
    }

    /// Copies a young object out of the nursery or survivor from-space
    /// (minor collection) and leaves a forwarding address; then copies a
    /// chain of first children right behind it (see "Copy order").
    #[inline]
    fn forward_minor(&mut self, p: ObjPtr) -> ObjPtr {
        let m = meta(p);
        if let Some(to) = forwardee(m) {
            return to;
        }
        let to = self.copy_minor(p, m);
        let mut x = to;
        for _ in 0..EAGER_CHAIN {
            // SAFETY: `x` is a complete copy in a to-space.
            let slots = unsafe { x.slots() };
            let next = slots.iter().take(EAGER_SLOTS).find_map(|s| {
                let c = RawValue::from_bits(s.load(Relaxed)).as_ptr()?;
                (self.in_from_space(c) && forwardee(meta(c)).is_none()).then_some((s, c))
            });
            let Some((slot, c)) = next else { break };
            let cto = self.copy_minor(c, meta(c));
            slot.store(RawValue::from_ptr(cto).to_bits(), Relaxed);
            // The scan skips slots that no longer point into a from-space,
            // so an old object left referring to a young one is
            // remembered here.
            if !is_young(x) && is_young(cto) {
                self.remember(x);
            }
            x = cto;
        }
        to
    }

    /// The copy half of `forward_minor`.
    #[inline]
    fn copy_minor(&mut self, p: ObjPtr, m: u64) -> ObjPtr {
        // SAFETY: a young object with a normal header is a complete object.
        let size = unsafe { p.size() };
        let age = ((m & AGE_MASK) >> AGE_SHIFT) + 1;
        let (mem, new_meta) = if age >= self.promotion_age {
            self.promoted += size as u64;
            (self.old.alloc(size), OLD)
        } else {
            (self.survivors_to.alloc(size), age << AGE_SHIFT)
        };
        move_object(p, size, mem, new_meta)
    }

    /// Whether `p` lies in a from-space of the current minor collection
    /// (decided by address, so that scanning an old object's slots does
    /// not touch the old objects they refer to: a remembered 100,000-slot
    /// table would otherwise cost 100,000 cache misses per minor).
    #[inline]
    fn in_from_space(&self, p: ObjPtr) -> bool {
        let a = p.addr();
        self.young_ranges.iter().any(|&(s, e)| a >= s && a < e)
    }

    /// Forwards every young reference in `obj`'s slots; returns whether a
    /// young reference remains (the object must then be remembered if old).
    #[inline]
    fn scan_minor(&mut self, obj: ObjPtr) -> bool {
        let mut young_left = false;
        // SAFETY: `obj` is a live (copied or old) object.
        let slots = unsafe { obj.slots() };
        for s in slots {
            let v = RawValue::from_bits(s.load(Relaxed));
            if let Some(c) = v.as_ptr() {
                if !self.in_from_space(c) {
                    // Old or large: every young object is in a from-space
                    // until it is forwarded, and a slot is scanned once.
                    continue;
                }
                let to = self.forward_minor(c);
                s.store(RawValue::from_ptr(to).to_bits(), Relaxed);
                young_left |= is_young(to);
            }
        }
        young_left
    }

    fn minor(&mut self, sp: &mut Safepoint<'_>) -> (u64, u64) {
        let young_before = self.nursery.used() + self.survivors.used();
        let copied_before = self.old.used() + self.survivors_to.used();
        let mut ranges = std::mem::take(&mut self.young_ranges);
        ranges.clear();
        self.nursery.ranges(&mut ranges);
        self.survivors.ranges(&mut ranges);
        self.young_ranges = ranges;
        let old_mark = self.old.cursor_at_end();
        let mut promoted_cursor = old_mark;
        let mut surv_cursor = self.survivors_to.cursor_at_end();
        // Take the remembered set first: copying (roots included) may
        // remember new objects (see "Copy order"), which belong to the
        // next cycle's set.
        let remembered = std::mem::take(&mut self.remembered);
        for &o in &remembered {
            set_meta(o, meta(o) & !REMEMBERED);
        }
        sp.for_each_root(|p| {
            if self.in_from_space(*p) {
                *p = self.forward_minor(*p);
            }
        });
        let mut visited = remembered.len() as u64;
        for &o in &remembered {
            if self.scan_minor(o) {
                self.remember(o);
            }
        }
        loop {
            let mut progress = false;
            while let Some(o) = surv_cursor.next(&self.survivors_to) {
                self.scan_minor(o);
                visited += 1;
                progress = true;
            }
            while let Some(o) = promoted_cursor.next(&self.old) {
                if self.scan_minor(o) {
                    self.remember(o);
                }
                visited += 1;
                progress = true;
            }
            if !progress {
                break;
            }
        }
        sp.for_each_weak(|_, t| {
            if let Some(p) = *t
                && self.in_from_space(p)
            {
                *t = forwardee(meta(p));
            }
        });
        let copied = self.old.used() + self.survivors_to.used() - copied_before;
        self.nursery.reset();
        self.survivors.reset();
        std::mem::swap(&mut self.survivors, &mut self.survivors_to);
        self.settle();
        if young_before >= self.nursery_bytes / 2
            && copied as f64 >= PRETENURE_SURVIVAL * young_before as f64
        {
            self.high_survival += 1;
            self.pretenure = self.high_survival >= PRETENURE_STREAK;
        } else {
            self.high_survival = 0;
        }
        (visited, remembered.len() as u64)
    }

    /// Marks `p` (if not yet marked) and queues it for scanning.
    #[inline]
    fn mark_major(p: ObjPtr, stack: &mut Vec<ObjPtr>) {
        let m = meta(p);
        if m & MARK == 0 {
            set_meta(p, (m | MARK) & !REMEMBERED);
            stack.push(p);
        }
    }

    /// Copies the marked objects of `space`, in address order, to
    /// `to_space`, leaving forwarding addresses.
    fn evacuate_in_order(space: &Space, to_space: &mut Space) {
        space.for_each_object(|p| {
            if meta(p) & MARK == 0 {
                return; // dead
            }
            // SAFETY: a complete object (spaces hold objects end to end).
            let size = unsafe { p.size() };
            move_object(p, size, to_space.alloc(size), OLD);
        });
    }

    /// Where a reference to a live object points after evacuation.
    #[inline]
    fn relocated(p: ObjPtr) -> ObjPtr {
        // A forwarding word is an address: test for it first. Otherwise
        // the object is large (not moved).
        forwardee(meta(p)).unwrap_or(p)
    }

    /// Rewrites every reference in `obj`'s slots to the relocated object.
    #[inline]
    fn fix_slots(obj: ObjPtr) {
        // SAFETY: `obj` is a complete live object (a copy or a large one).
        for s in unsafe { obj.slots() } {
            if let Some(c) = RawValue::from_bits(s.load(Relaxed)).as_ptr() {
                s.store(RawValue::from_ptr(Self::relocated(c)).to_bits(), Relaxed);
            }
        }
    }

    /// Marks everything reachable, then evacuates the survivors of every
    /// space, in address order, into a fresh old space (see "Major
    /// collection").
    fn major(&mut self, sp: &mut Safepoint<'_>) -> u64 {
        // 1. Mark, with an explicit stack (no recursion on heap depth).
        let mut stack = std::mem::take(&mut self.scratch);
        sp.for_each_root(|p| Self::mark_major(*p, &mut stack));
        let mut visited = 0;
        while let Some(o) = stack.pop() {
            visited += 1;
            // SAFETY: a live object of this heap.
            for s in unsafe { o.slots() } {
                if let Some(c) = RawValue::from_bits(s.load(Relaxed)).as_ptr() {
                    Self::mark_major(c, &mut stack);
                }
            }
        }
        self.scratch = stack;
        // 2. Evacuate in address order: the old space first (it holds the
        // oldest objects, in the order they were allocated or promoted),
        // then the survivors, then the nursery. Large objects stay.
        let mut to_space = Space::new(CHUNK, 1);
        Self::evacuate_in_order(&self.old, &mut to_space);
        Self::evacuate_in_order(&self.survivors, &mut to_space);
        Self::evacuate_in_order(&self.nursery, &mut to_space);
        // 3. Fix references: in the copies, in marked large objects, in
        // roots and in weak entries.
        to_space.for_each_object(Self::fix_slots);
        for (&p, _) in &self.large {
            if meta(p) & MARK != 0 {
                Self::fix_slots(p);
            }
        }
        sp.for_each_root(|p| *p = Self::relocated(*p));
        sp.for_each_weak(|_, t| {
            if let Some(p) = *t {
                let m = meta(p);
                *t = match forwardee(m) {
                    Some(to) => Some(to),
                    None if m & LARGE != 0 && m & MARK != 0 => Some(p),
                    None => None,
                };
            }
        });
        // 4. Sweep the large objects.
        let mut freed_large = 0;
        self.large.retain(|&p, &mut size| {
            let m = meta(p);
            if m & MARK != 0 {
                set_meta(p, m & !MARK);
                true
            } else {
                freed_large += size;
                // SAFETY: allocated by `alloc_large` with this layout and
                // unreachable: no root, slot or weak entry refers to it.
                unsafe { std::alloc::dealloc(p.as_raw().as_ptr().cast(), large_layout(size)) };
                false
            }
        });
        self.large_bytes -= freed_large;
        self.remembered.clear();
        self.nursery.reset();
        self.survivors.reset();
        self.survivors_to.reset();
        self.old = to_space;
        self.settle();
        // Start measuring survival afresh.
        self.pretenure = false;
        self.high_survival = 0;
        self.major_trigger = ((self.old_generation() as f64 * (1.0 + self.growth)) as usize)
            .max(MIN_MAJOR_TRIGGER.max(self.nursery_bytes * 4));
        visited
    }

    #[cold]
    fn alloc_large(&mut self, size: usize) -> Option<NonNull<u8>> {
        // SAFETY: size is at least the large-object threshold (> 0).
        let mem = NonNull::new(unsafe { std::alloc::alloc(large_layout(size)) })?;
        if !gc_core::object::addressable(mem.as_ptr() as usize, size) {
            // SAFETY: just allocated with this layout; never handed out.
            unsafe { std::alloc::dealloc(mem.as_ptr(), large_layout(size)) };
            return None;
        }
        Some(mem)
    }
}

fn large_layout(size: usize) -> std::alloc::Layout {
    std::alloc::Layout::from_size_align(size, 8).expect("object sizes are valid layouts")
}

#[cold]
#[inline(never)]
fn copy_space_exhausted(size: usize) -> ! {
    // The system allocator refused a to-space chunk in the middle of a
    // copy: the heap cannot be left half-copied (obligation 9), and there
    // is no memory to unwind with.
    eprintln!("gc-generational: out of system memory for a {size}-byte copy during collection");
    std::process::abort()
}

/// The generational copying collector. See the [crate docs](crate).
pub struct Generational {
    st: UnsafeCell<State>,
}

impl Generational {
    /// Every allocation the inlined fast path of `alloc` does not take:
    /// large objects, pretenured ones, one over the limit, and a nursery
    /// chunk the system refused. `size` and `live` are what the fast path
    /// computed (`checked_size` of the request, `State::live`).
    ///
    /// # Safety
    ///
    /// 1. As for [`Collector::alloc`]: references in `slots` name live
    ///    objects of this heap.
    #[cold]
    #[inline(never)]
    unsafe fn alloc_slow(
        &self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
        size: usize,
        live: usize,
    ) -> Result<ObjPtr, AllocError> {
        let st = self.st();
        if size > st.limit - live {
            return Err(AllocError::OutOfMemory {
                requested: size,
                limit: st.limit,
                in_use: live,
            });
        }
        let large = size >= st.large_threshold;
        let old = large || st.pretenure;
        let mem = if large {
            st.alloc_large(size)
        } else if st.pretenure {
            st.old.alloc(size)
        } else {
            st.nursery.alloc(size)
        };
        let mem = mem.ok_or(AllocError::OutOfMemory {
            requested: size,
            limit: st.limit,
            in_use: live,
        })?;
        st.allocated += size as u64;
        st.allocated_objects += 1;
        st.peak = st.peak.max(live + size);
        let meta = match (large, old) {
            (true, _) => OLD | LARGE,
            (false, true) => OLD,
            (false, false) => 0,
        };
        // SAFETY: fresh memory of `size` bytes, 8-aligned; slot references
        // are live objects (caller).
        let p = unsafe { ObjPtr::init(mem, kind, slots, bytes, meta, 0) };
        if old {
            if large {
                st.large.insert(p, size);
                st.large_bytes += size;
            }
            st.settled += size;
            let mut young = false;
            slots.for_each_ref(|c| young |= is_young(c));
            if young {
                st.remember(p);
            }
        }
        Ok(p)
    }

    #[inline]
    #[allow(clippy::mut_from_ref)]
    fn st(&self) -> &mut State {
        // SAFETY: Generational is !Sync (UnsafeCell), so only the mutator's
        // thread calls it, and no method holds this borrow across a call
        // that re-enters the collector.
        unsafe { &mut *self.st.get() }
    }
}

// SAFETY: (1) objects are written by ObjPtr::init into fresh bump or large
// allocations, 8-aligned. (2) Objects move or are freed only in
// `safepoint` (minor and major collections). (3) Both collections copy
// everything reachable from the roots (and, for minor, from remembered old
// objects, which the barrier keeps complete) and rewrite every root, slot
// and weak entry to the copies; old objects are kept whole by a minor
// collection. (4) Nothing is reclaimed outside safepoints. (5) write_slot
// stores, then runs the barrier. (6) Weak entries are updated to copies or
// cleared in the collection that drops their target. (7) The identity
// hash is stored in `aux`, which moves with the object. (8) Allocation
// checks `live + size` against the limit before it bumps. (9) Collections
// do not panic: the only failure, a to-space chunk the system refuses,
// aborts the process (copy_space_exhausted) instead of unwinding.
unsafe impl Collector for Generational {
    const NAME: &'static str = "generational";
    const CAPABILITIES: Capabilities = Capabilities {
        reclaims: true,
        reclaims_cycles: true,
        moving: true,
        concurrent: false,
    };

    fn new(config: &HeapConfig) -> Result<Self, ConfigError> {
        Ok(Generational {
            st: UnsafeCell::new(State {
                nursery: Space::new(config.nursery_bytes, 4),
                survivors: Space::new(CHUNK, 4),
                survivors_to: Space::new(CHUNK, 4),
                old: Space::new(CHUNK, 1),
                large: HashMap::new(),
                large_bytes: 0,
                settled: 0,
                remembered: Vec::new(),
                limit: config.heap_limit,
                nursery_bytes: config.nursery_bytes,
                large_threshold: config.large_object_bytes,
                promotion_age: u64::from(config.promotion_age),
                growth: config.growth_factor,
                major_trigger: MIN_MAJOR_TRIGGER.max(config.nursery_bytes * 4),
                allocated: 0,
                allocated_objects: 0,
                freed: 0,
                promoted: 0,
                peak: 0,
                stress_count: 0,
                scratch: Vec::new(),
                young_ranges: Vec::new(),
                high_survival: 0,
                pretenure: false,
            }),
        })
    }

    #[inline(always)]
    unsafe fn alloc(
        &self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
    ) -> Result<ObjPtr, AllocError> {
        // The fast path (a small object into the nursery), inlined into
        // the embedder, where the slot and byte counts are usually
        // constants: the object is written with a few stores instead of
        // two `memmove` calls.
        let st = self.st();
        let size = checked_size(&slots, bytes)?;
        let live = st.live();
        if size < st.large_threshold
            && !st.pretenure
            && size <= st.limit - live
            && let Some(mem) = st.nursery.alloc(size)
        {
            st.allocated += size as u64;
            st.allocated_objects += 1;
            st.peak = st.peak.max(live + size);
            // SAFETY: fresh memory of `size` bytes, 8-aligned; slot
            // references are live objects (caller).
            return Ok(unsafe { ObjPtr::init(mem, kind, slots, bytes, 0, 0) });
        }
        // SAFETY: the caller's obligations, passed on.
        unsafe { self.alloc_slow(kind, slots, bytes, size, live) }
    }

    #[inline]
    unsafe fn write_slot(&self, obj: ObjPtr, index: usize, value: RawValue) {
        // SAFETY: the caller guarantees a live object and an index in
        // bounds.
        unsafe { obj.store_slot(index, value) };
        if let Some(v) = value.as_ptr()
            && meta(obj) & (OLD | REMEMBERED) == OLD
            && is_young(v)
        {
            self.st().remember(obj);
        }
    }

    #[inline]
    fn should_yield(&self) -> bool {
        let st = self.st();
        st.nursery.used() >= st.nursery_bytes
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
        let (minor, major) = match sp.request() {
            Request::Due => {
                let minor = st.nursery.used() >= st.nursery_bytes;
                (minor, false)
            }
            Request::Force(CollectKind::Minor) => (true, false),
            Request::Force(_) => (false, true),
            Request::Stress => {
                st.stress_count += 1;
                // Alternate, so stress mode exercises both collections.
                let even = st.stress_count.is_multiple_of(2);
                (!even, even)
            }
        };
        if minor {
            let start = Instant::now();
            let before = st.live();
            let promoted_before = st.promoted;
            let (visited, remembered) = st.minor(sp);
            let after = st.live();
            st.freed += before.saturating_sub(after) as u64;
            sp.record(
                Phase::Minor,
                start,
                PauseInfo {
                    live_before: before as u64,
                    live_after: after as u64,
                    freed: before.saturating_sub(after) as u64,
                    promoted: st.promoted - promoted_before,
                    visited,
                    roots: remembered,
                },
            );
        }
        if major || st.old_generation() >= st.major_trigger {
            let start = Instant::now();
            let before = st.live();
            let visited = st.major(sp);
            let after = st.live();
            st.freed += before.saturating_sub(after) as u64;
            sp.record(
                Phase::Major,
                start,
                PauseInfo {
                    live_before: before as u64,
                    live_after: after as u64,
                    freed: before.saturating_sub(after) as u64,
                    promoted: 0,
                    visited,
                    roots: 0,
                },
            );
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
        verify(self.st(), sp)
    }
}

impl Drop for Generational {
    fn drop(&mut self) {
        for (&p, &size) in &self.st.get_mut().large {
            // SAFETY: allocated by `alloc_large` with this layout; the heap
            // is gone.
            unsafe { std::alloc::dealloc(p.as_raw().as_ptr().cast(), large_layout(size)) };
        }
    }
}

/// The heap verifier (see the crate docs for the invariants).
fn verify(st: &State, sp: &mut Safepoint<'_>) -> Result<(), String> {
    let mut objects: HashSet<ObjPtr> = HashSet::new();
    let mut young = Vec::new();
    let mut old = Vec::new();
    let mut err = None;
    let mut check_header = |p: ObjPtr, want_old: bool, space: &str| {
        let m = meta(p);
        if m & TAG != 0 {
            err.get_or_insert(format!("{p:?} in {space} has a forwarding header"));
        }
        if (m & OLD != 0) != want_old {
            err.get_or_insert(format!("{p:?} in {space} has the wrong generation bit"));
        }
        if m & MARK != 0 {
            err.get_or_insert(format!("{p:?} in {space} is still marked"));
        }
        objects.insert(p);
    };
    st.nursery.for_each_object(|p| {
        check_header(p, false, "the nursery");
        young.push(p);
    });
    st.survivors.for_each_object(|p| {
        check_header(p, false, "survivor space");
        young.push(p);
    });
    st.old.for_each_object(|p| {
        check_header(p, true, "old space");
        old.push(p);
    });
    for &p in st.large.keys() {
        check_header(p, true, "large-object space");
        old.push(p);
    }
    if let Some(e) = err {
        return Err(e);
    }
    if st.survivors_to.used() != 0 {
        return Err("survivor to-space is not empty after a collection".into());
    }
    let total: usize = young
        .iter()
        .chain(&old)
        // SAFETY: objects of the spaces are complete.
        .map(|&p| unsafe { p.size() })
        .sum();
    if total != st.live() {
        return Err(format!(
            "spaces hold {total} bytes of objects, live says {}",
            st.live()
        ));
    }
    let remembered: HashSet<ObjPtr> = st.remembered.iter().copied().collect();
    for &p in young.iter().chain(&old) {
        let mut refers_young = false;
        // SAFETY: a complete object of the spaces.
        unsafe {
            p.for_each_ref(|i, c| {
                if !objects.contains(&c) {
                    err.get_or_insert(format!(
                        "slot {i} of {p:?} refers to {c:?}, not a current object"
                    ));
                } else {
                    refers_young |= is_young(c);
                }
            })
        };
        if !is_young(p) && refers_young && !(meta(p) & REMEMBERED != 0 && remembered.contains(&p)) {
            err.get_or_insert(format!(
                "old {p:?} refers to a young object but is not remembered"
            ));
        }
    }
    sp.for_each_root(|p| {
        if !objects.contains(p) {
            err.get_or_insert(format!("root {p:?} is not a current object"));
        }
    });
    sp.for_each_weak(|i, t| {
        if let Some(p) = t
            && !objects.contains(p)
        {
            err.get_or_insert(format!(
                "weak entry {i} refers to {p:?}, not a current object"
            ));
        }
    });
    err.map_or(Ok(()), Err)
}
