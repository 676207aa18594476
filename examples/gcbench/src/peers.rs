//! The peers: other Rust memory-management crates running the same
//! workloads, each driven the way its documentation recommends.
//!
//! | backend | pointer | collection |
//! |---|---|---|
//! | `rc` | `Rc<RefCell<_>>` (std) | none: frees at count zero, leaks cycles |
//! | `gc` | `gc::Gc<GcCell<_>>` (rust-gc) | automatic, inside allocation (its own threshold) |
//! | `dumpster` | `dumpster::unsync::Gc<RefCell<_>>` | automatic, inside drops (its default condition) |
//! | `bacon_rajan_cc` | `Cc<RefCell<_>>` | `collect_cycles()` when 10,000 roots are buffered (the crate's advice; gc-core's default cycle threshold), checked at every unit boundary, timed as a pause |
//! | `gc-arena` | `Gc<'gc, RefLock<_>>` | `collect_debt()` at every unit boundary (the crate's incremental model), timed as a pause; see `arena.rs` |
//!
//! Collections that happen inside a crate's own allocation or drop cannot
//! be timed from outside, so those peers report `null` pauses and MMU.
//! Live data is the same logical structure for every backend; "reclaimed"
//! is decided by counting node drops (`DropCount`), which costs the peers
//! one thread-local increment per node.

// rust-gc's derive (gc_derive 0.5) expands to impls inside a const block.
#![allow(non_local_definitions)]

use std::cell::{Cell, RefCell};
use std::time::Instant;

use crate::lru::{LruIndex, Op, value_len};
use crate::run::{Probe, Rng, Shape, WINDOW_OBJECT, Workload};

thread_local! {
    static CREATED: Cell<u64> = const { Cell::new(0) };
    static DROPPED: Cell<u64> = const { Cell::new(0) };
}

/// Counts node lifetimes, so a run can tell whether everything was freed.
pub struct DropCount;

impl DropCount {
    #[inline]
    fn new() -> DropCount {
        CREATED.with(|c| c.set(c.get() + 1));
        DropCount
    }
}

impl Drop for DropCount {
    #[inline]
    fn drop(&mut self) {
        DROPPED.with(|c| c.set(c.get() + 1));
    }
}

fn live_nodes() -> u64 {
    CREATED.with(Cell::get) - DROPPED.with(Cell::get)
}

/// A memory manager with owned, clonable pointers to two-slot nodes.
pub trait Peer {
    type P: Clone;
    const PAUSES_MEASURED: bool = false;
    fn node(a: Option<Self::P>, b: Option<Self::P>, num: f64, bytes: &[u8]) -> Self::P;
    fn get(p: &Self::P, i: usize) -> Option<Self::P>;
    fn set(p: &Self::P, i: usize, v: Option<Self::P>);
    fn num(p: &Self::P) -> f64;
    fn bytes_len(p: &Self::P) -> usize;
    /// At a unit boundary: collect if this crate's driver would.
    fn boundary(_probe: &mut Probe) {}
    /// Reclaim everything unreachable now.
    fn full_collect() {}
}

macro_rules! smart_peer {
    ($peer:ident, $node:ident, $ptr:ty, $new:expr, $cell:ident, $borrow:ident, $borrow_mut:ident) => {
        impl Peer for $peer {
            type P = $ptr;
            const PAUSES_MEASURED: bool = <$peer as Collect>::MEASURED;
            #[inline]
            fn node(a: Option<Self::P>, b: Option<Self::P>, num: f64, bytes: &[u8]) -> Self::P {
                $new($node {
                    slots: $cell::new([a, b]),
                    num,
                    bytes: bytes.into(),
                    _d: DropCount::new(),
                })
            }
            #[inline]
            fn get(p: &Self::P, i: usize) -> Option<Self::P> {
                p.slots.$borrow()[i].clone()
            }
            #[inline]
            fn set(p: &Self::P, i: usize, v: Option<Self::P>) {
                p.slots.$borrow_mut()[i] = v;
            }
            #[inline]
            fn num(p: &Self::P) -> f64 {
                p.num
            }
            #[inline]
            fn bytes_len(p: &Self::P) -> usize {
                p.bytes.len()
            }
            fn boundary(probe: &mut Probe) {
                <$peer as Collect>::boundary(probe)
            }
            fn full_collect() {
                <$peer as Collect>::full()
            }
        }
    };
}

/// How each peer collects (split out so the macro stays uniform).
trait Collect {
    const MEASURED: bool = false;
    fn boundary(_probe: &mut Probe) {}
    fn full() {}
}

// --- std Rc -----------------------------------------------------------------

pub struct RcPeer;
pub struct RcNode {
    slots: RefCell<[Option<std::rc::Rc<RcNode>>; 2]>,
    num: f64,
    bytes: Box<[u8]>,
    _d: DropCount,
}
impl Collect for RcPeer {}
smart_peer!(
    RcPeer,
    RcNode,
    std::rc::Rc<RcNode>,
    std::rc::Rc::new,
    RefCell,
    borrow,
    borrow_mut
);

// --- rust-gc ------------------------------------------------------------------

pub struct RustGcPeer;
#[derive(gc::Trace, gc::Finalize)]
pub struct GNode {
    slots: gc::GcCell<[Option<gc::Gc<GNode>>; 2]>,
    num: f64,
    bytes: Box<[u8]>,
    #[unsafe_ignore_trace]
    _d: DropCount,
}
impl Collect for RustGcPeer {
    fn full() {
        gc::force_collect();
    }
}
smart_peer!(
    RustGcPeer,
    GNode,
    gc::Gc<GNode>,
    gc::Gc::new,
    GcCell,
    borrow,
    borrow_mut
);
use gc::GcCell;

// --- dumpster -----------------------------------------------------------------

pub struct DumpsterPeer;
#[derive(dumpster::Trace)]
pub struct DNode {
    slots: RefCell<[Option<dumpster::unsync::Gc<DNode>>; 2]>,
    num: f64,
    bytes: Box<[u8]>,
    _d: DropCount,
}
// SAFETY: DropCount holds no garbage-collected pointers.
unsafe impl dumpster::Trace for DropCount {
    fn accept<V: dumpster::Visitor>(&self, _visitor: &mut V) -> Result<(), ()> {
        Ok(())
    }
}
impl Collect for DumpsterPeer {
    fn full() {
        dumpster::unsync::collect();
    }
}
smart_peer!(
    DumpsterPeer,
    DNode,
    dumpster::unsync::Gc<DNode>,
    dumpster::unsync::Gc::new,
    RefCell,
    borrow,
    borrow_mut
);

// --- bacon_rajan_cc ---------------------------------------------------------------

pub struct BaconPeer;
pub struct BNode {
    slots: RefCell<[Option<bacon_rajan_cc::Cc<BNode>>; 2]>,
    num: f64,
    bytes: Box<[u8]>,
    _d: DropCount,
}
impl bacon_rajan_cc::Trace for BNode {
    fn trace(&self, tracer: &mut bacon_rajan_cc::Tracer) {
        for c in self.slots.borrow().iter().flatten() {
            c.trace(tracer);
        }
    }
}
/// Buffered possible roots that trigger `collect_cycles()`.
const BACON_THRESHOLD: usize = 10_000;
impl Collect for BaconPeer {
    const MEASURED: bool = true;
    fn boundary(probe: &mut Probe) {
        if bacon_rajan_cc::number_of_roots_buffered() >= BACON_THRESHOLD {
            probe.pause("cycle", bacon_rajan_cc::collect_cycles);
        }
    }
    fn full() {
        bacon_rajan_cc::collect_cycles();
    }
}
smart_peer!(
    BaconPeer,
    BNode,
    bacon_rajan_cc::Cc<BNode>,
    bacon_rajan_cc::Cc::new,
    RefCell,
    borrow,
    borrow_mut
);

// --- the workloads, once for all smart-pointer peers ---------------------------------

fn make_tree<X: Peer>(depth: u32) -> X::P {
    if depth == 0 {
        X::node(None, None, 0.0, &[])
    } else {
        let l = make_tree::<X>(depth - 1);
        let r = make_tree::<X>(depth - 1);
        X::node(Some(l), Some(r), depth as f64, &[])
    }
}

fn populate<X: Peer>(depth: u32, n: &X::P) {
    if depth > 0 {
        let l = X::node(None, None, 0.0, &[]);
        let r = X::node(None, None, 0.0, &[]);
        X::set(n, 0, Some(l.clone()));
        X::set(n, 1, Some(r.clone()));
        populate::<X>(depth - 1, &l);
        populate::<X>(depth - 1, &r);
    }
}

fn count<X: Peer>(p: Option<X::P>) -> u64 {
    let mut stack: Vec<X::P> = p.into_iter().collect();
    let mut n = 0;
    while let Some(p) = stack.pop() {
        n += 1;
        stack.extend(X::get(&p, 0));
        stack.extend(X::get(&p, 1));
    }
    n
}

/// Runs `workload` on peer `X`.
pub fn run<X: Peer>(workload: Workload, s: &Shape) -> Probe {
    let mut probe = Probe::new();
    probe.pauses_measured = X::PAUSES_MEASURED;
    match workload {
        Workload::Gcbench => {
            drop(make_tree::<X>(s.stretch_depth));
            X::boundary(&mut probe);
            let long_lived = X::node(None, None, 0.0, &[]);
            populate::<X>(s.long_lived_depth, &long_lived);
            let array: Vec<f64> = (0..s.array_len)
                .map(|i| {
                    if i < s.array_len / 2 {
                        1.0 / i as f64
                    } else {
                        0.0
                    }
                })
                .collect();
            for depth in (s.min_depth..=s.max_depth).step_by(2) {
                let iters = s.num_iters(depth);
                let per_unit = (s.batch_nodes / Shape::tree_size(depth)).max(1);
                for top_down in [true, false] {
                    for i in 0..iters {
                        if top_down {
                            populate::<X>(depth, &X::node(None, None, 0.0, &[]));
                        } else {
                            drop(make_tree::<X>(depth));
                        }
                        if (i + 1) % per_unit == 0 {
                            X::boundary(&mut probe);
                            probe.tick();
                        }
                    }
                }
            }
            assert_eq!(array[1000], 1.0 / 1000.0);
            probe.checksum = count::<X>(Some(long_lived));
        }
        Workload::UnitLatency => {
            let mut table: Vec<Option<X::P>> = Vec::with_capacity(s.subtrees);
            for i in 0..s.subtrees {
                table.push(Some(make_tree::<X>(s.subtree_depth)));
                if i % 512 == 0 {
                    X::boundary(&mut probe);
                    probe.tick();
                }
            }
            let mut rng = Rng::new(s.seed);
            probe.units(s.units, s.metered_units, |probe, _| {
                X::boundary(probe);
                let i = rng.below(s.subtrees);
                table[i] = Some(make_tree::<X>(s.subtree_depth));
            });
            probe.checksum = table.into_iter().map(count::<X>).sum();
        }
        Workload::Cycles => {
            // Kept live while the rings churn: 1,000-long lists.
            let live: Vec<Option<X::P>> = (0..s.live_objects.div_ceil(Shape::LIVE_LIST))
                .map(|_| {
                    let mut head = None;
                    for k in 0..Shape::LIVE_LIST {
                        head = Some(X::node(head, None, k as f64, &[]));
                    }
                    head
                })
                .collect();
            if !live.is_empty() {
                X::full_collect();
                probe.forget_setup();
            }
            let base = live_nodes();
            let mut made = 0;
            while made < s.rings {
                for _ in 0..s.ring_batch {
                    let nodes: [X::P; 4] =
                        std::array::from_fn(|i| X::node(None, None, i as f64, &[]));
                    for i in 0..4 {
                        X::set(&nodes[i], 0, Some(nodes[(i + 1) % 4].clone()));
                        X::set(&nodes[i], 1, Some(nodes[(i + 3) % 4].clone()));
                    }
                }
                made += s.ring_batch;
                X::boundary(&mut probe);
                probe.tick();
            }
            let t = Instant::now();
            X::full_collect();
            let left = live_nodes() - base;
            probe.reclaimed_all = Some(left == 0);
            probe.reclaim_s = (left == 0).then(|| t.elapsed().as_secs_f64());
            probe.checksum = made as u64
                + live
                    .iter()
                    .map(|h| {
                        let (mut n, mut v) = (0, h.clone());
                        while let Some(p) = v {
                            n += 1;
                            v = X::get(&p, 0);
                        }
                        n
                    })
                    .sum::<u64>();
        }
        Workload::Lru => {
            let mut table: Vec<Option<X::P>> = vec![None; s.lru_capacity];
            let mut index = LruIndex::new(s.lru_capacity, s.lru_keys, s.seed);
            let mut sum = 0u64;
            static FILL: [u8; 256] = [7; 256];
            probe.units(s.lru_ops / s.lru_batch, 0, |probe, _| {
                X::boundary(probe);
                for _ in 0..s.lru_batch {
                    match index.next_op() {
                        Op::Hit {
                            slot,
                            replace_value,
                        } => {
                            let e = table[slot].as_ref().expect("cached entry");
                            let v = X::get(e, 1).expect("entry value");
                            sum += X::bytes_len(&v) as u64;
                            if replace_value {
                                let key = X::num(e) as u32;
                                X::set(
                                    e,
                                    1,
                                    Some(X::node(None, None, 0.0, &FILL[..value_len(key)])),
                                );
                            }
                        }
                        Op::Miss { slot, key } => {
                            let v = X::node(None, None, 0.0, &FILL[..value_len(key)]);
                            table[slot] = Some(X::node(None, Some(v), key as f64, &[]));
                            sum += 1;
                        }
                    }
                }
            });
            probe.checksum = sum;
        }
        Workload::Window => {
            static BYTES: [u8; WINDOW_OBJECT] = [7; WINDOW_OBJECT];
            let mut table: Vec<Option<X::P>> = vec![None; s.window_slots];
            probe.live_target_bytes = Some(s.window_live_bytes());
            probe.timed_ops(s.window_overwrites, |probe, i| {
                X::boundary(probe);
                table[i % s.window_slots] = Some(X::node(None, None, i as f64, &BYTES));
            });
            probe.checksum = table.iter().flatten().map(|p| X::num(p) as u64).sum();
        }
        Workload::Lox => unreachable!("lox is rejected before a run starts"),
    }
    probe
}
