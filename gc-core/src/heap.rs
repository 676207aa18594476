//! The heap and its mutator: the safe API, and the one place where branding
//! is argued.
//!
//! # Why `Gc<'gc>` is sound
//!
//! [`Heap::mutate`] calls its closure with a `&Mutator<'gc, C>` for a fresh
//! `'gc` that the closure must accept for *every* lifetime (a higher-ranked
//! bound), and `'gc` is invariant in every branded type. Hence:
//!
//! * a `Gc<'gc>` / `Value<'gc>` cannot be returned (the return type `R` is
//!   chosen outside the binder and cannot name `'gc`), stored in anything
//!   that outlives the closure, or smuggled into a later call;
//! * a `Gc` from heap A cannot be passed to heap B's mutator, even for the
//!   same backend type: inside nested `mutate` calls the two brands are
//!   distinct universally quantified lifetimes, and invariance forbids
//!   unifying them (compile-fail tests in `tests/ui/`);
//! * `mutate` and `collect` take `&mut self`, so no collection can start
//!   while a mutator exists.
//!
//! Every `Gc<'gc>` therefore names an object that was live when the
//! closure obtained it (allocated in this call, fetched from a root, or
//! loaded from a slot of such an object), and [`Collector`] obligations 2
//! and 4 keep it live and in place until the closure returns, which is the
//! whole of `'gc`.
//!
//! # Safepoints
//!
//! A safepoint is the moment between two `mutate` calls. [`Heap::mutate`]
//! runs one on entry ([`Request::Due`], or [`Request::Stress`] in stress
//! mode) and [`Heap::collect`] runs one on demand. At a safepoint the heap
//! first hands released roots and weak handles to the collector, then calls
//! [`Collector::safepoint`], then (with [`HeapConfig::verify`]) the heap
//! verifier, and finally delivers the recorded pauses to the event hook;
//! embedder code (the hook) never runs while the collector is mid-work.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::Instant;

use crate::collector::{CollectKind, Collector, Request, Safepoint};
use crate::config::{AllocError, ConfigError, HeapConfig};
use crate::handles::{HandleTable, Persistent, WeakHandle};
use crate::object::{RawValue, SlotInit};
use crate::stats::{GcEvent, GcStats, HeapCounters};
use crate::value::{Gc, Invariant, Value, index_panic};

type EventHook = Box<dyn FnMut(&GcEvent)>;

/// A garbage-collected heap with collector `C`.
///
/// ```
/// use gc_core::{CollectKind, Heap, HeapConfig, NoGc, Value};
///
/// let mut heap = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
/// // Allocate a pair (kind 1) holding a number and a string (kind 2).
/// let root = heap.mutate(|m| {
///     let s = m.alloc(2, &[], b"hello").unwrap();
///     let pair = m.alloc(1, &[Value::number(42.0), s.into()], &[]).unwrap();
///     m.persist(pair)
/// });
/// heap.collect(CollectKind::Full);
/// heap.mutate(|m| {
///     let pair = m.fetch(&root);
///     assert_eq!(pair.get(0).as_number(), Some(42.0));
///     assert_eq!(pair.get(1).as_gc().unwrap().bytes(), b"hello");
/// });
/// ```
pub struct Heap<C: Collector> {
    collector: C,
    roots: Rc<HandleTable>,
    weaks: Rc<HandleTable>,
    /// The root stack. Only the mutator (through `&self`, one thread, no
    /// re-entrant calls) and the safepoint (through `&mut self`) touch it.
    stack: UnsafeCell<Vec<RawValue>>,
    config: HeapConfig,
    stats: GcStats,
    events: Vec<GcEvent>,
    hook: Option<EventHook>,
    epoch: Instant,
    /// Fault injection: allocations left before one fails (0: off).
    fail_in: std::cell::Cell<u64>,
    /// Whether a [`RootStack`] guard holds the root stack.
    stack_taken: std::cell::Cell<bool>,
}

impl<C: Collector> Heap<C> {
    /// Makes a heap. The configuration is validated first.
    pub fn new(config: HeapConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let collector = C::new(&config)?;
        Ok(Heap {
            collector,
            roots: Rc::default(),
            weaks: Rc::default(),
            stack: UnsafeCell::new(Vec::new()),
            config,
            stats: GcStats {
                backend: C::NAME,
                ..GcStats::default()
            },
            events: Vec::new(),
            hook: None,
            epoch: Instant::now(),
            fail_in: std::cell::Cell::new(0),
            stack_taken: std::cell::Cell::new(false),
        })
    }

    /// Runs `f` with a mutator, after the safepoint work that is due.
    pub fn mutate<R>(&mut self, f: impl for<'gc> FnOnce(&Mutator<'gc, C>) -> R) -> R {
        let request = if self.config.stress {
            Request::Stress
        } else {
            Request::Due
        };
        self.safepoint(request);
        let m = Mutator {
            heap: self,
            _brand: PhantomData,
        };
        f(&m)
    }

    /// Collects now, at least as much as `kind` says.
    pub fn collect(&mut self, kind: CollectKind) {
        self.safepoint(Request::Force(kind));
    }

    fn safepoint(&mut self, request: Request) {
        self.stats.safepoints += 1;
        // A guard that was leaked (`mem::forget`) took its values with it;
        // no guard can be alive here (`&mut self`), so the stack is free.
        *self.stack_taken.get_mut() = false;
        {
            let c = &self.collector;
            self.roots.inner.borrow_mut().drain_released(|_, t| {
                if let Some(t) = t {
                    // SAFETY: `t` was given to `root_added` when the root was
                    // made (or re-pointed) and a root keeps it allocated.
                    unsafe { c.root_removed(t) }
                }
            });
            self.weaks.inner.borrow_mut().drain_released(|i, t| {
                if let Some(t) = t {
                    // SAFETY: an uncleared weak entry names an allocated
                    // object (Collector obligation 6), given to `weak_added`.
                    unsafe { c.weak_removed(i, t) }
                }
            });
        }
        let mut sp = Safepoint {
            request,
            roots: self.roots.inner.borrow_mut(),
            weaks: self.weaks.inner.borrow_mut(),
            stack: self.stack.get_mut(),
            stats: &mut self.stats,
            events: &mut self.events,
            epoch: self.epoch,
            collected: false,
        };
        // SAFETY: `&mut self` means no mutator, hence no branded reference,
        // exists (obligation 1); roots and weak entries only ever receive
        // live objects of this collector through the branded API, and the
        // collector keeps them live or clears them (obligation 2).
        unsafe { self.collector.safepoint(&mut sp) };
        if self.config.verify && sp.collected {
            // SAFETY: as for `safepoint` just above.
            if let Err(e) = unsafe { self.collector.verify(&mut sp) } {
                panic!("{} heap verifier: {e}", C::NAME);
            }
        }
        drop(sp);
        self.stats.counters = self.collector.counters();
        match &mut self.hook {
            Some(hook) => self.events.drain(..).for_each(|e| hook(&e)),
            None => self.events.clear(),
        }
    }

    /// Statistics so far (pauses by phase, byte counters).
    pub fn stats(&self) -> GcStats {
        let mut s = self.stats.clone();
        s.counters = self.collector.counters();
        s
    }

    /// The backend's byte counters (cheaper than [`Heap::stats`]).
    pub fn counters(&self) -> HeapCounters {
        self.collector.counters()
    }

    /// Calls `hook` once for every pause, after the safepoint that made it
    /// (enough for a `gctrace`-style line: `GcEvent` implements `Display`).
    pub fn set_event_hook(&mut self, hook: impl FnMut(&GcEvent) + 'static) {
        self.hook = Some(Box::new(hook));
    }

    /// Removes the event hook.
    pub fn clear_event_hook(&mut self) {
        self.hook = None;
    }

    /// When the heap was made ([`GcEvent::at`] counts from here).
    pub fn created_at(&self) -> Instant {
        self.epoch
    }

    /// The configuration the heap was made with.
    pub fn config(&self) -> &HeapConfig {
        &self.config
    }

    /// Live persistent roots (released ones are not counted).
    pub fn persistent_count(&self) -> usize {
        self.roots.len()
    }

    /// Live weak handles.
    pub fn weak_count(&self) -> usize {
        self.weaks.len()
    }

    /// Fault injection for tests: the `nth` allocation from now (1 = the
    /// next one) fails with [`AllocError::OutOfMemory`] as if the heap were
    /// at its limit, without reaching the collector; later allocations
    /// succeed again. `0` switches injection off. Embedders use it to test
    /// their out-of-memory paths; the workspace's `tests/fault_injection.rs`
    /// uses it on every backend.
    pub fn inject_alloc_failure(&mut self, nth: u64) {
        self.fail_in.set(nth);
    }

    /// Runs the backend's heap verifier now.
    pub fn verify(&mut self) -> Result<(), String> {
        let mut sp = Safepoint {
            request: Request::Due,
            roots: self.roots.inner.borrow_mut(),
            weaks: self.weaks.inner.borrow_mut(),
            stack: self.stack.get_mut(),
            stats: &mut self.stats,
            events: &mut self.events,
            epoch: self.epoch,
            collected: false,
        };
        // SAFETY: as in `safepoint`: `&mut self`, so no mutator exists.
        unsafe { self.collector.verify(&mut sp) }
    }
}

/// The handle through which a `mutate` closure reads and writes the heap.
/// Every reference it hands out is branded with `'gc`.
pub struct Mutator<'gc, C: Collector> {
    heap: &'gc Heap<C>,
    _brand: Invariant<'gc>,
}

impl<'gc, C: Collector> Mutator<'gc, C> {
    #[inline]
    fn raw_slots<'a>(slots: &'a [Value<'gc>]) -> &'a [RawValue] {
        // SAFETY: `Value` is `repr(transparent)` over `RawValue` (plus a
        // zero-sized marker), so the slices have the same layout.
        unsafe { std::slice::from_raw_parts(slots.as_ptr().cast::<RawValue>(), slots.len()) }
    }

    /// Allocates an object of `kind` with these slots and bytes.
    ///
    /// Never collects (collections happen only at safepoints): when the
    /// heap limit is reached this returns [`AllocError::OutOfMemory`] and
    /// the heap is unchanged; return from `mutate` and try again after the
    /// next safepoint has collected.
    #[inline(always)]
    pub fn alloc(
        &self,
        kind: u16,
        slots: &[Value<'gc>],
        bytes: &[u8],
    ) -> Result<Gc<'gc>, AllocError> {
        self.alloc_init(kind, SlotInit::Copy(Self::raw_slots(slots)), bytes)
    }

    /// Allocates an object of `kind` with `count` slots all set to `fill`.
    #[inline(always)]
    pub fn alloc_filled(
        &self,
        kind: u16,
        count: usize,
        fill: Value<'gc>,
        bytes: &[u8],
    ) -> Result<Gc<'gc>, AllocError> {
        self.alloc_init(kind, SlotInit::Fill(fill.raw(), count), bytes)
    }

    #[inline(always)]
    fn alloc_init(
        &self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
    ) -> Result<Gc<'gc>, AllocError> {
        let fail_in = self.heap.fail_in.get();
        if fail_in != 0 {
            self.heap.fail_in.set(fail_in - 1);
            if fail_in == 1 {
                let counters = self.heap.collector.counters();
                return Err(AllocError::OutOfMemory {
                    requested: crate::object::object_size(slots.len(), bytes.len()).unwrap_or(0),
                    limit: self.heap.config.heap_limit,
                    in_use: counters.live_bytes as usize,
                });
            }
        }
        // SAFETY: references in `slots` come from `Value<'gc>`s, which name
        // live objects of this heap (the brand).
        let p = unsafe { self.heap.collector.alloc(kind, slots, bytes) }?;
        // SAFETY: a fresh object survives until the next safepoint
        // (obligation 4), which is after 'gc ends.
        Ok(unsafe { Gc::from_ptr(p) })
    }

    /// Stores `value` into slot `index` of `obj`, through the backend's
    /// write barrier.
    ///
    /// # Panics
    ///
    /// If `index >= obj.len()`, like slice indexing.
    #[inline]
    pub fn set(&self, obj: Gc<'gc>, index: usize, value: Value<'gc>) {
        if index >= obj.len() {
            index_panic(index, obj.len())
        }
        // SAFETY: `obj` and `value` are branded by this mutator, hence live
        // objects of this heap; the index is in bounds.
        unsafe {
            self.heap
                .collector
                .write_slot(obj.as_ptr(), index, value.raw())
        }
    }

    /// Makes a persistent root for `obj`.
    pub fn persist(&self, obj: Gc<'gc>) -> Persistent {
        // SAFETY: `obj` is live (branded).
        unsafe { self.heap.collector.root_added(obj.as_ptr()) };
        Persistent::new(&self.heap.roots, obj.as_ptr())
    }

    /// The object a persistent root names.
    ///
    /// # Panics
    ///
    /// If `root` was made by another heap.
    #[inline]
    pub fn fetch(&self, root: &Persistent) -> Gc<'gc> {
        assert!(
            root.belongs_to(&self.heap.roots),
            "Persistent used with a heap that did not make it"
        );
        let p = root
            .target()
            .expect("a persistent root with live handles always has a target");
        // SAFETY: a root's target is kept alive and in place by the
        // collector (obligation 3), and no safepoint happens during 'gc.
        unsafe { Gc::from_ptr(p) }
    }

    /// Points an existing root (and all its clones) at `obj` instead.
    ///
    /// # Panics
    ///
    /// If `root` was made by another heap.
    pub fn set_persistent(&self, root: &Persistent, obj: Gc<'gc>) {
        assert!(
            root.belongs_to(&self.heap.roots),
            "Persistent used with a heap that did not make it"
        );
        // SAFETY: `obj` is live (branded).
        unsafe { self.heap.collector.root_added(obj.as_ptr()) };
        let old = root.replace(obj.as_ptr());
        // SAFETY: `old` was given to `root_added` and is still allocated
        // (roots keep their targets, and no safepoint happened since).
        unsafe { self.heap.collector.root_removed(old) };
    }

    /// Makes a weak handle to `obj`.
    pub fn downgrade(&self, obj: Gc<'gc>) -> WeakHandle {
        let w = WeakHandle::new(&self.heap.weaks, obj.as_ptr());
        // SAFETY: `obj` is live (branded).
        unsafe { self.heap.collector.weak_added(w.index(), obj.as_ptr()) };
        w
    }

    /// The target of a weak handle, or `None` if it has died.
    ///
    /// # Panics
    ///
    /// If `weak` was made by another heap.
    #[inline]
    pub fn upgrade(&self, weak: &WeakHandle) -> Option<Gc<'gc>> {
        assert!(
            weak.belongs_to(&self.heap.weaks),
            "WeakHandle used with a heap that did not make it"
        );
        let p = weak.target()?;
        // SAFETY: an uncleared weak entry names a live object (obligation
        // 6); the backend's hook keeps it live from here on (a concurrent
        // marker shades it); no safepoint happens during 'gc.
        unsafe {
            self.heap.collector.weak_upgraded(p);
            Some(Gc::from_ptr(p))
        }
    }

    /// A hash of `obj`'s identity, stable for its whole life (moves
    /// included).
    #[inline]
    pub fn identity_hash(&self, obj: Gc<'gc>) -> u64 {
        // SAFETY: `obj` is live (branded).
        unsafe { self.heap.collector.identity_hash(obj.as_ptr()) }
    }

    /// Whether the collector would like a safepoint soon: return from
    /// `mutate` when convenient (an interpreter checks this between bursts
    /// of instructions).
    #[inline]
    pub fn should_yield(&self) -> bool {
        self.heap.collector.should_yield()
    }

    /// The heap's configuration.
    pub fn config(&self) -> &HeapConfig {
        &self.heap.config
    }

    /// The backend's byte counters, now.
    pub fn counters(&self) -> HeapCounters {
        self.heap.collector.counters()
    }

    #[inline]
    #[allow(clippy::mut_from_ref)]
    fn stack(&self) -> &mut Vec<RawValue> {
        if self.heap.stack_taken.get() {
            stack_taken_panic()
        }
        // SAFETY: the stack is touched only by the methods below (each of
        // which finishes with its borrow before returning and calls no
        // embedder code), by a `RootStack` (which owns the vector it took
        // out while the flag checked above is set) and by safepoints, which
        // need `&mut Heap` and so cannot overlap a mutator. Mutator is
        // !Sync (it holds a shared reference to a !Sync Heap), so there is
        // one thread.
        unsafe { &mut *self.heap.stack.get() }
    }

    /// Takes the root stack out of the heap as a plain
    /// `Vec<Value<'gc>>`, for a burst of exclusive use: an interpreter's
    /// operand stack at the speed of a local vector (no indirection through
    /// the heap, no borrow checks per access). Dropping the guard puts the
    /// vector back, so its values are roots again at the next safepoint.
    /// O(1): the vector's buffer is moved, not copied.
    ///
    /// While the guard lives, the `stack_*` methods panic.
    ///
    /// ```
    /// use gc_core::{Heap, HeapConfig, NoGc, Value};
    ///
    /// let mut heap = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
    /// heap.mutate(|m| {
    ///     let mut stack = m.root_stack();
    ///     stack.push(Value::number(1.0));
    ///     stack.push(Value::number(2.0));
    ///     let b = stack.pop().unwrap().as_number().unwrap();
    ///     assert_eq!(b, 2.0);
    /// });
    /// heap.mutate(|m| assert_eq!(m.stack_len(), 1));
    /// ```
    ///
    /// # Panics
    ///
    /// If another `RootStack` of this heap is alive.
    pub fn root_stack(&self) -> RootStack<'_, 'gc> {
        let raw = std::mem::take(self.stack());
        self.heap.stack_taken.set(true);
        // SAFETY: `Value<'gc>` is `repr(transparent)` over `RawValue` (plus
        // zero-sized markers), obligation 1; the values were on the root
        // stack, hence live values of this heap until the next safepoint,
        // which cannot come before 'gc ends, obligation 2.
        let vec = unsafe { recast_vec::<RawValue, Value<'gc>>(raw) };
        RootStack {
            vec,
            heap: self.heap,
        }
    }

    /// Pushes a value on the root stack: a cheap root for values that
    /// change on every step (a VM's operand stack), with no barrier.
    /// Values on it survive safepoints (and are updated if moved).
    #[inline]
    pub fn stack_push(&self, v: Value<'gc>) {
        self.stack().push(v.raw())
    }

    /// Pops the top of the root stack.
    #[inline]
    pub fn stack_pop(&self) -> Option<Value<'gc>> {
        // SAFETY: values on the root stack are branded values of this heap,
        // kept live as roots.
        self.stack().pop().map(|r| unsafe { Value::from_raw(r) })
    }

    /// Root-stack slot `i` (from the bottom).
    ///
    /// # Panics
    ///
    /// If `i` is not below [`Mutator::stack_len`].
    #[inline]
    pub fn stack_get(&self, i: usize) -> Value<'gc> {
        // SAFETY: as in `stack_pop`.
        unsafe { Value::from_raw(self.stack()[i]) }
    }

    /// Overwrites root-stack slot `i`.
    ///
    /// # Panics
    ///
    /// If `i` is not below [`Mutator::stack_len`].
    #[inline]
    pub fn stack_set(&self, i: usize, v: Value<'gc>) {
        self.stack()[i] = v.raw();
    }

    /// Number of values on the root stack.
    #[inline]
    pub fn stack_len(&self) -> usize {
        self.stack().len()
    }

    /// Shortens the root stack to `len` values.
    #[inline]
    pub fn stack_truncate(&self, len: usize) {
        self.stack().truncate(len)
    }
}

/// The same buffer, as a vector of `B` (O(1)).
///
/// # Safety
///
/// 1. `A` and `B` have the same size and alignment (so the allocation's
///    layout is what `Vec::from_raw_parts` requires).
/// 2. Every element of `v` is a valid `B` with its bits unchanged.
unsafe fn recast_vec<A, B>(v: Vec<A>) -> Vec<B> {
    debug_assert!(
        std::mem::size_of::<A>() == std::mem::size_of::<B>()
            && std::mem::align_of::<A>() == std::mem::align_of::<B>()
    );
    let mut v = std::mem::ManuallyDrop::new(v);
    let (ptr, len, cap) = (v.as_mut_ptr(), v.len(), v.capacity());
    // SAFETY: obligations 1 and 2; `v` is never used or dropped again.
    unsafe { Vec::from_raw_parts(ptr.cast::<B>(), len, cap) }
}

#[cold]
#[inline(never)]
fn stack_taken_panic() -> ! {
    panic!("the root stack is taken by a RootStack guard; use the guard")
}

/// The root stack, taken out of the heap by [`Mutator::root_stack`]; it
/// dereferences to a `Vec<Value<'gc>>`. Dropping it (also while
/// unwinding) puts the vector back.
pub struct RootStack<'m, 'gc> {
    vec: Vec<Value<'gc>>,
    heap: &'m dyn StackHome,
}

/// Where a [`RootStack`] goes back to (object-safe, so that the guard is
/// not generic over the collector).
trait StackHome {
    fn put_back(&self, raw: Vec<RawValue>);
}

impl<C: Collector> StackHome for Heap<C> {
    fn put_back(&self, raw: Vec<RawValue>) {
        debug_assert!(self.stack_taken.get());
        // SAFETY: the flag is set, so no `stack_*` method holds or takes a
        // reference to the vector (they check it first), and safepoints
        // cannot overlap a mutator; one thread (Heap is !Sync).
        unsafe { *self.stack.get() = raw };
        self.stack_taken.set(false);
    }
}

impl<'gc> std::ops::Deref for RootStack<'_, 'gc> {
    type Target = Vec<Value<'gc>>;
    #[inline]
    fn deref(&self) -> &Vec<Value<'gc>> {
        &self.vec
    }
}

impl<'gc> std::ops::DerefMut for RootStack<'_, 'gc> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Vec<Value<'gc>> {
        &mut self.vec
    }
}

impl Drop for RootStack<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: the reverse of `Mutator::root_stack`: the same layout
        // (obligation 1), and every value is a valid raw value (2).
        let raw = unsafe { recast_vec::<Value<'_>, RawValue>(std::mem::take(&mut self.vec)) };
        self.heap.put_back(raw);
    }
}
