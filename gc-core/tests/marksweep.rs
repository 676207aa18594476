//! A minimal stop-the-world mark-sweep collector (clox's design: one
//! `malloc` per object, an all-objects list, an explicit mark stack),
//! used to check the conformance suite itself:
//!
//! * the correct collector passes every case, so the reclamation cases
//!   (which `NoGc` skips) are exercised before the real backends land;
//! * deliberately broken variants, each violating one `Collector`
//!   obligation, must make their target case fail (`#[should_panic]`), so
//!   the suite is shown to catch what it claims to.
//!
//! Broken variants never free memory: they poison "freed" objects
//! (kind `POISON`, slots nil) and keep them allocated, so a missed
//! reference shows up as wrong contents instead of undefined behaviour.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::atomic::Ordering;

use gc_core::object::{checked_size, mix_address};
use gc_core::{
    AllocError, Capabilities, Collector, ConfigError, HeapConfig, HeapCounters, ObjPtr, PauseWork,
    Phase, RawValue, Request, Safepoint, SlotInit, large,
};

const POISON: u16 = 0xDEAD;

const OK: u8 = 0;
/// Marks only slot 0 of each object.
const BUG_SHALLOW_MARK: u8 = 1;
/// Never clears weak entries.
const BUG_KEEP_WEAKS: u8 = 2;
/// Identity hash changes with every collection.
const BUG_UNSTABLE_HASH: u8 = 3;
/// Ignores the heap limit.
const BUG_NO_LIMIT: u8 = 4;
/// Does not scan the root stack (only persistent roots).
const BUG_SKIP_STACK: u8 = 5;

struct MarkSweep<const BUG: u8> {
    objects: RefCell<Vec<ObjPtr>>,
    /// Poisoned "freed" objects of broken variants, freed on drop.
    quarantine: Vec<ObjPtr>,
    used: Cell<usize>,
    limit: usize,
    next_gc: usize,
    growth: f64,
    allocated: Cell<u64>,
    allocated_objects: Cell<u64>,
    freed: u64,
    peak: Cell<u64>,
    collections: u64,
}

impl<const BUG: u8> MarkSweep<BUG> {
    /// Marks and sweeps; returns the number of objects marked.
    fn collect(&mut self, sp: &mut Safepoint<'_>) -> u64 {
        let before = self.used.get();
        // Mark, iteratively.
        let mut stack = Vec::new();
        sp.for_each_persistent_root(|p| stack.push(*p));
        if BUG != BUG_SKIP_STACK {
            sp.for_each_stack_root(|p| stack.push(*p));
        }
        let mut visited = 0;
        while let Some(p) = stack.pop() {
            // SAFETY: everything reachable is allocated (this collector
            // frees only unmarked objects).
            let h = unsafe { p.header() };
            if h.meta().swap(1, Ordering::Relaxed) == 1 {
                continue;
            }
            visited += 1;
            // SAFETY: as above.
            unsafe {
                p.for_each_ref(|i, q| {
                    if BUG != BUG_SHALLOW_MARK || i == 0 {
                        stack.push(q)
                    }
                })
            };
        }
        // Weak entries whose targets are unmarked die.
        if BUG != BUG_KEEP_WEAKS {
            sp.for_each_weak(|_, t| {
                if let Some(p) = *t {
                    // SAFETY: uncleared weak targets are allocated.
                    if unsafe { p.header() }.meta().load(Ordering::Relaxed) == 0 {
                        *t = None;
                    }
                }
            });
        }
        // Sweep.
        let mut freed = 0;
        let quarantine = &mut self.quarantine;
        self.objects.get_mut().retain(|&p| {
            // SAFETY: every listed object is allocated.
            let (marked, size) =
                unsafe { (p.header().meta().swap(0, Ordering::Relaxed), p.size()) };
            if marked == 1 {
                return true;
            }
            freed += size;
            if BUG == OK {
                // SAFETY: allocated by `alloc` below with this layout, and
                // unreachable, so no root, slot or weak entry names it.
                unsafe { large::free(p.as_raw().cast(), size) };
                false
            } else {
                poison(p);
                quarantine.push(p);
                false
            }
        });
        self.used.set(before - freed);
        self.freed += freed as u64;
        self.collections += 1;
        self.next_gc = ((self.used.get() as f64 * (1.0 + self.growth)) as usize).max(1 << 20);
        visited
    }
}

fn poison(p: ObjPtr) {
    // SAFETY: broken variants keep poisoned objects allocated; the header
    // is rewritten in place with the same length so `size` stays valid.
    unsafe {
        let h = p.header();
        if h.kind() == POISON {
            return;
        }
        let (len, nbytes) = (h.len(), h.byte_len());
        for i in 0..len {
            p.store_slot(i, RawValue::NIL);
        }
        let bytes: Vec<u8> = vec![0xEE; nbytes];
        let mem = p.as_raw().cast::<u8>();
        ObjPtr::init(
            mem,
            POISON,
            SlotInit::Fill(RawValue::NIL, len),
            &bytes,
            0,
            0,
        );
    }
}

// SAFETY: (1) objects are written by ObjPtr::init into fresh 8-aligned
// allocations; (2) memory is freed only in `collect`, called from
// `safepoint`; (3) marking follows every slot from every root before the
// sweep frees unmarked objects; (4) `next_gc` only triggers at safepoints,
// so unrooted new objects live until then; (5) write_slot stores; (6) weak
// entries with unmarked targets are cleared in the collection that frees
// them; (7) the address never changes; (8) `used` counts every object;
// (9) nothing in `safepoint` panics. The BUG variants break one of these
// on purpose and never free memory, so they stay memory-safe.
unsafe impl<const BUG: u8> Collector for MarkSweep<BUG> {
    const NAME: &'static str = "test-marksweep";
    const CAPABILITIES: Capabilities = Capabilities {
        reclaims: true,
        reclaims_cycles: true,
        moving: false,
        concurrent: false,
    };

    fn new(config: &HeapConfig) -> Result<Self, ConfigError> {
        Ok(MarkSweep {
            objects: RefCell::new(Vec::new()),
            quarantine: Vec::new(),
            used: Cell::new(0),
            limit: config.heap_limit,
            next_gc: 1 << 20,
            growth: config.growth_factor,
            allocated: Cell::new(0),
            allocated_objects: Cell::new(0),
            freed: 0,
            peak: Cell::new(0),
            collections: 0,
        })
    }

    unsafe fn alloc(
        &self,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
    ) -> Result<ObjPtr, AllocError> {
        let size = checked_size(&slots, bytes)?;
        let used = self.used.get();
        if BUG != BUG_NO_LIMIT && size > self.limit - used {
            return Err(AllocError::OutOfMemory {
                requested: size,
                limit: self.limit,
                in_use: used,
            });
        }
        let mem = large::alloc(size).ok_or(AllocError::OutOfMemory {
            requested: size,
            limit: self.limit,
            in_use: used,
        })?;
        self.used.set(used + size);
        self.peak.set(self.peak.get().max((used + size) as u64));
        self.allocated.set(self.allocated.get() + size as u64);
        self.allocated_objects.set(self.allocated_objects.get() + 1);
        // SAFETY: fresh, aligned, `size` bytes; slot references are live.
        let p = unsafe { ObjPtr::init(mem, kind, slots, bytes, 0, 0) };
        self.objects.borrow_mut().push(p);
        Ok(p)
    }

    unsafe fn write_slot(&self, obj: ObjPtr, index: usize, value: RawValue) {
        // SAFETY: caller's obligations; no barrier needed (stop-the-world).
        unsafe { obj.store_slot(index, value) }
    }

    fn should_yield(&self) -> bool {
        self.used.get() > self.next_gc
    }

    unsafe fn identity_hash(&self, obj: ObjPtr) -> u64 {
        let salt = if BUG == BUG_UNSTABLE_HASH {
            self.collections
        } else {
            0
        };
        mix_address(obj.addr()) ^ salt
    }

    unsafe fn safepoint(&mut self, sp: &mut Safepoint<'_>) {
        let due = match sp.request() {
            Request::Due => self.should_yield(),
            Request::Stress | Request::Force(_) => true,
        };
        if due {
            sp.pause(
                Phase::Major,
                self,
                |ms| ms.used.get() as u64,
                |ms, sp| {
                    Some(PauseWork {
                        visited: ms.collect(sp),
                        ..PauseWork::default()
                    })
                },
            );
        }
    }

    fn counters(&self) -> HeapCounters {
        HeapCounters {
            allocated_bytes: self.allocated.get(),
            allocated_objects: self.allocated_objects.get(),
            freed_bytes: self.freed,
            promoted_bytes: 0,
            live_bytes: self.used.get() as u64,
            peak_bytes: self.peak.get(),
        }
    }

    unsafe fn verify(&self, sp: &mut Safepoint<'_>) -> Result<(), String> {
        let all: HashSet<ObjPtr> = self.objects.borrow().iter().copied().collect();
        // The variant that keeps dead weak entries must be caught by the
        // suite's own checks, not by the verifier's.
        if BUG != BUG_KEEP_WEAKS {
            sp.verify_references(|p| all.contains(&p))?;
        }
        let mut stack = Vec::new();
        sp.for_each_root(|p| stack.push(*p));
        let mut seen = HashSet::new();
        while let Some(p) = stack.pop() {
            if !all.contains(&p) {
                return Err(format!("reachable {p:?} is not an allocated object"));
            }
            if !seen.insert(p) {
                continue;
            }
            // SAFETY: `p` is in the allocated set.
            unsafe {
                if p.header().meta().load(Ordering::Relaxed) != 0 {
                    return Err(format!("{p:?} still marked after the sweep"));
                }
                p.for_each_ref(|_, q| stack.push(q));
            }
        }
        Ok(())
    }
}

impl<const BUG: u8> Drop for MarkSweep<BUG> {
    fn drop(&mut self) {
        for &p in self.objects.get_mut().iter().chain(&self.quarantine) {
            // SAFETY: each listed object was allocated with this layout and
            // the heap (hence every reference) is gone.
            unsafe { large::free(p.as_raw().cast(), p.size()) };
        }
    }
}

gc_core::conformance_suite!(MarkSweep<OK>);

mod suite_catches {
    use super::*;
    use gc_core::conformance as c;

    #[test]
    #[should_panic]
    fn shallow_marking() {
        c::rooted_objects_survive::<MarkSweep<BUG_SHALLOW_MARK>>(false);
    }

    #[test]
    #[should_panic]
    fn shallow_marking_of_a_wide_object() {
        c::wide_object::<MarkSweep<BUG_SHALLOW_MARK>>(false);
    }

    #[test]
    #[should_panic(expected = "garbage target was freed")]
    fn weak_entries_never_cleared() {
        c::weak_handles::<MarkSweep<BUG_KEEP_WEAKS>>(false);
    }

    #[test]
    #[should_panic]
    fn unstable_identity_hash() {
        c::identity_hash_stable::<MarkSweep<BUG_UNSTABLE_HASH>>(false);
    }

    #[test]
    #[should_panic(expected = "the limit was never enforced")]
    fn heap_limit_ignored() {
        c::heap_limit::<MarkSweep<BUG_NO_LIMIT>>(false);
    }

    #[test]
    #[should_panic]
    fn root_stack_not_scanned() {
        c::root_stack::<MarkSweep<BUG_SKIP_STACK>>(false);
    }

    #[test]
    #[should_panic]
    fn root_stack_not_scanned_weak() {
        c::weak_handles::<MarkSweep<BUG_SKIP_STACK>>(true);
    }
}
