//! The contract between the safe embedder API and a collector.
//!
//! Everything unsafe about the heap API is argued once, here and in
//! [`crate::heap`]: the embedder's `Gc<'gc>` references are sound because
//! the [`Collector`] implementation promises the obligations below, and the
//! heap promises to call it only at the moments stated on each method.

use std::cell::RefMut;
use std::time::{Duration, Instant};

use crate::config::{AllocError, ConfigError, HeapConfig};
use crate::handles::TableInner;
use crate::object::{ObjPtr, RawValue, SlotInit};
use crate::stats::{GcEvent, GcStats, HeapCounters};

/// What a collection should cover, for [`crate::Heap::collect`]. Each
/// backend maps it onto its own work; every backend treats `Full` as
/// "reclaim every unreachable object, cycles included, and clear every
/// weak handle whose target died".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CollectKind {
    /// The cheapest useful collection (a nursery scavenge, freeing
    /// zero-count objects).
    Minor,
    /// A collection of the old generation or the whole heap, without extra
    /// work such as a full cycle pass.
    Major,
    /// Everything: afterwards the live byte count is exact.
    Full,
}

/// Why the heap reached a safepoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// A `mutate` entry: do whatever work is due (possibly none).
    Due,
    /// A `mutate` entry in stress mode: collect now, as much as the backend
    /// usefully can at every safepoint.
    Stress,
    /// [`crate::Heap::collect`]: collect at least this much now.
    Force(CollectKind),
}

/// What a backend can do; the conformance suite skips cases a backend
/// cannot pass by design (reported as skipped, never deleted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Frees unreachable objects.
    pub reclaims: bool,
    /// Frees unreachable cycles.
    pub reclaims_cycles: bool,
    /// May move objects at safepoints.
    pub moving: bool,
    /// Does collector work on other threads while the mutator runs.
    pub concurrent: bool,
}

/// A garbage-collection strategy behind [`crate::Heap`].
///
/// The implementation owns object memory and hands out [`ObjPtr`]s whose
/// layout is the common one of [`crate::object`]. [`crate::Heap`] brands
/// them as `Gc<'gc>` for the length of one `mutate` call; the obligations
/// below are what makes that branding sound.
///
/// # Safety
///
/// An implementation must guarantee:
///
/// 1. **Fresh objects.** `alloc` returns a pointer to memory written by
///    [`ObjPtr::init`] with exactly the requested kind, slots and bytes,
///    aligned to 8, at an address that [`crate::object::addressable`]
///    accepts (values box 50-bit addresses), and not aliased by any other
///    live object.
/// 2. **Stability between safepoints.** No object is freed, moved, or has
///    its kind, length or bytes changed except inside `safepoint` (and
///    `drop`). Methods taking `&self` never do so, with one exception: a
///    lazy sweeper or a lazy freer may reuse the *memory* of an object
///    outside a safepoint, on any thread, if the object was already
///    unreachable at the last safepoint (from the roots, the root stack
///    and uncleared weak entries) and has no uncleared weak entry: from
///    then on nothing can name it.
/// 3. **Reachable objects survive.** At a `safepoint`, every object
///    reachable from the roots it is shown (persistent roots and the root
///    stack, through slots) stays allocated with its contents intact, and
///    every object referenced from a reachable object's slot is reachable.
///    A backend that moves an object rewrites every root, slot and weak
///    entry that refers to it before `safepoint` returns.
/// 4. **Allocated objects survive until the next safepoint**, whether or
///    not they were stored anywhere (the mutator's locals are not roots).
/// 5. **Slots are written through `write_slot`**, which stores the value so
///    that a later `ObjPtr::load_slot` of the same slot returns it, and runs
///    whatever barrier the backend needs to keep obligation 3.
/// 6. **Weak entries** are cleared (set to `None`) in the same safepoint
///    that frees their target (or finds it dead and frees its memory
///    later, as obligation 2 allows), and follow their target when it moves; a
///    weak entry whose target is alive is never cleared. Everything
///    reachable from the target of an uncleared weak entry stays allocated
///    (as if the target were a root: `upgrade` hands the target to safe
///    code, which may then read its slots).
/// 7. **Identity hashes** returned by `identity_hash` for an object are the
///    same for the object's whole life, moves included.
/// 8. **Accounting.** `counters().live_bytes` never exceeds
///    `HeapConfig::heap_limit`; allocation that would exceed it returns
///    `AllocError::OutOfMemory` and leaves the heap unchanged.
/// 9. **No unwinding** out of `safepoint` with the heap half-collected: a
///    backend that can panic inside `safepoint` must do so only before it
///    has changed anything (or abort).
pub unsafe trait Collector: Sized + 'static {
    /// The backend's name as `--gc` spells it.
    const NAME: &'static str;
    /// What the backend can do.
    const CAPABILITIES: Capabilities;

    /// Makes a collector for an already validated configuration. A backend
    /// may reject a configuration it cannot honour.
    fn new(config: &HeapConfig) -> Result<Self, ConfigError>;

    /// Allocates and initialises an object (obligations 1, 4, 8).
    ///
    /// # Safety
    ///
    /// 1. Every reference in `slots` is a live object of this collector.
    unsafe fn alloc(
        &self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
    ) -> Result<ObjPtr, AllocError>;

    /// Stores `value` into slot `index` of `obj`, with the barrier
    /// (obligation 5).
    ///
    /// # Safety
    ///
    /// 1. `obj` is a live object of this collector.
    /// 2. `index < obj`'s length.
    /// 3. If `value` is a reference, it is a live object of this collector.
    unsafe fn write_slot(&self, obj: ObjPtr, index: usize, value: RawValue);

    /// A persistent root now names `obj` (reference counting counts it).
    ///
    /// # Safety
    ///
    /// 1. `obj` is a live object of this collector.
    unsafe fn root_added(&self, obj: ObjPtr) {
        let _ = obj;
    }

    /// A persistent root no longer names `obj`. Called by the heap at a
    /// safepoint before `safepoint`, or inside `mutate` when a root is
    /// re-pointed.
    ///
    /// # Safety
    ///
    /// 1. `obj` was passed to `root_added` and is still allocated.
    unsafe fn root_removed(&self, obj: ObjPtr) {
        let _ = obj;
    }

    /// A weak entry with index `index` now names `obj`.
    ///
    /// # Safety
    ///
    /// 1. `obj` is a live object of this collector.
    unsafe fn weak_added(&self, index: u32, obj: ObjPtr) {
        let _ = (index, obj);
    }

    /// The weak entry `index`, which named `obj`, was released. Called at a
    /// safepoint before `safepoint`.
    ///
    /// # Safety
    ///
    /// 1. `obj` was passed to `weak_added` with this index and is still
    ///    allocated.
    unsafe fn weak_removed(&self, index: u32, obj: ObjPtr) {
        let _ = (index, obj);
    }

    /// A weak entry's target is being turned into a strong reference inside
    /// `mutate` (a concurrent marker shades it here).
    ///
    /// # Safety
    ///
    /// 1. `obj` is a live object of this collector.
    unsafe fn weak_upgraded(&self, obj: ObjPtr) {
        let _ = obj;
    }

    /// Whether the backend wants a safepoint soon (allocation debt).
    fn should_yield(&self) -> bool;

    /// The object's identity hash (obligation 7).
    ///
    /// # Safety
    ///
    /// 1. `obj` is a live object of this collector.
    unsafe fn identity_hash(&self, obj: ObjPtr) -> u64;

    /// Does the work due at a safepoint (obligations 2, 3, 6, 9).
    ///
    /// # Safety
    ///
    /// 1. No `Gc` or `Value` branded by this heap exists (the heap calls this
    ///    only between `mutate` calls).
    /// 2. Every root and weak entry shown through `sp` names a live object
    ///    of this collector (or a cleared weak entry).
    unsafe fn safepoint(&mut self, sp: &mut Safepoint<'_>);

    /// The byte counters.
    fn counters(&self) -> HeapCounters;

    /// Checks the backend's heap invariants (reachable objects have valid
    /// headers, no reference into freed or from-space memory, barrier
    /// bookkeeping complete); `Err` describes the first violation. Called
    /// after collections when [`HeapConfig::verify`] is set.
    ///
    /// # Safety
    ///
    /// As for `safepoint`.
    unsafe fn verify(&self, sp: &mut Safepoint<'_>) -> Result<(), String> {
        let _ = sp;
        Ok(())
    }
}

/// What a backend sees at a safepoint: the request, the roots, the weak
/// entries and the pause recorder.
pub struct Safepoint<'a> {
    pub(crate) request: Request,
    pub(crate) roots: RefMut<'a, TableInner>,
    pub(crate) weaks: RefMut<'a, TableInner>,
    pub(crate) stack: &'a mut Vec<RawValue>,
    pub(crate) stats: &'a mut GcStats,
    pub(crate) events: &'a mut Vec<GcEvent>,
    pub(crate) epoch: Instant,
    pub(crate) collected: bool,
}

impl Safepoint<'_> {
    /// Why the heap is at this safepoint.
    pub fn request(&self) -> Request {
        self.request
    }

    /// Calls `f` on every strong root: every persistent root, then every
    /// reference on the root stack. A moving backend writes the new address
    /// through the `&mut`.
    pub fn for_each_root(&mut self, mut f: impl FnMut(&mut ObjPtr)) {
        self.for_each_persistent_root(&mut f);
        self.for_each_stack_root(f);
    }

    /// Calls `f` on every persistent root (one call per root entry, however
    /// many handles name it).
    pub fn for_each_persistent_root(&mut self, f: impl FnMut(&mut ObjPtr)) {
        self.roots.live_targets_mut().flatten().for_each(f)
    }

    /// Calls `f` on every reference on the root stack (one call per stack
    /// slot holding a reference, so an object may come up more than once).
    pub fn for_each_stack_root(&mut self, mut f: impl FnMut(&mut ObjPtr)) {
        for v in self.stack.iter_mut() {
            if let Some(mut p) = v.as_ptr() {
                f(&mut p);
                *v = RawValue::from_ptr(p);
            }
        }
    }

    /// Calls `f` on every weak entry that still has a target; set it to
    /// `None` to clear it (target died), or to the new address (moved).
    pub fn for_each_weak(&mut self, mut f: impl FnMut(u32, &mut Option<ObjPtr>)) {
        for (i, t) in self.weaks.live_targets_mut().enumerate() {
            if t.is_some() {
                f(i as u32, t)
            }
        }
    }

    /// The weak entry `index` (as given to `weak_added`), to clear or update
    /// one entry without visiting all of them.
    pub fn weak_mut(&mut self, index: u32) -> Option<&mut Option<ObjPtr>> {
        self.weaks
            .entries
            .get_mut(index as usize)
            .map(|e| &mut e.target)
    }

    /// Adds time that collector threads worked concurrently with the
    /// mutator.
    pub fn record_concurrent(&mut self, d: Duration) {
        self.stats.concurrent_time += d;
    }
}
