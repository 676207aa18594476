//! The workloads written once against gc-core, generic over the collector.
//!
//! Work is cut into `mutate` calls the way an interpreter would cut it:
//! one unit (a tree, a batch of rings, a batch of cache operations) per
//! call, and a long build returns to a safepoint whenever
//! `should_yield()` says a collection is due. Pauses come from the heap's
//! event hook, so they include every phase the backend records.

use std::cell::RefCell;
use std::rc::Rc;

use gc_runtime::{
    AllocError, CollectKind, Collector, Gc, Heap, HeapVisitor, Mutator, Persistent, Phase, Value,
};

use crate::lru::{LruIndex, Op, value_len};
use crate::metrics::Pause;
use crate::run::{PauseJson, Probe, Shape, WINDOW_OBJECT, Workload};

const NODE: u16 = 1;
const ARRAY: u16 = 2;
const ENTRY: u16 = 3;
const VALUE: u16 = 4;
const BLOB: u16 = 5;

/// Value bytes (the content does not matter; the length does).
static FILL: [u8; 256] = [7; 256];

fn must<T>(r: Result<T, gc_runtime::AllocError>) -> T {
    r.unwrap_or_else(|e| panic!("allocation failed: {e}"))
}

#[inline]
fn node<'gc, C: Collector>(m: &Mutator<'gc, C>, l: Value<'gc>, r: Value<'gc>, n: f64) -> Gc<'gc> {
    must(m.alloc(NODE, &[l, r, Value::number(n)], &[]))
}

/// GCBench's `MakeTree`: bottom-up.
fn make_tree<'gc, C: Collector>(m: &Mutator<'gc, C>, depth: u32) -> Gc<'gc> {
    if depth == 0 {
        node(m, Value::NIL, Value::NIL, 0.0)
    } else {
        let l = make_tree(m, depth - 1);
        let r = make_tree(m, depth - 1);
        node(m, l.into(), r.into(), depth as f64)
    }
}

/// GCBench's `Populate`: top-down, writing children into their parent.
fn populate<'gc, C: Collector>(m: &Mutator<'gc, C>, depth: u32, n: Gc<'gc>) {
    if depth > 0 {
        let l = node(m, Value::NIL, Value::NIL, 0.0);
        let r = node(m, Value::NIL, Value::NIL, 0.0);
        m.set(n, 0, l.into());
        m.set(n, 1, r.into());
        populate(m, depth - 1, l);
        populate(m, depth - 1, r);
    }
}

/// Length of a list linked through slot 0.
fn count_list(mut v: Value<'_>) -> u64 {
    let mut n = 0;
    while let Some(g) = v.as_gc() {
        n += 1;
        v = g.get(0);
    }
    n
}

/// Counts tree nodes without recursion.
fn count(v: Value<'_>) -> u64 {
    let mut stack = vec![v];
    let mut n = 0;
    while let Some(v) = stack.pop() {
        if let Some(g) = v.as_gc() {
            n += 1;
            stack.push(g.get(0));
            stack.push(g.get(1));
        }
    }
    n
}

pub struct CoreRun {
    pub workload: Workload,
    pub shape: Shape,
}

impl HeapVisitor for CoreRun {
    type Output = Probe;

    fn visit<C: Collector>(self, mut heap: Heap<C>) -> Probe {
        let mut probe = Probe::new();
        if self.workload == Workload::Window {
            // Too many pauses to keep (refcount frees at every safepoint:
            // 10 million records, 480 MB of the RSS measured); the heap's
            // histograms summarise them instead.
            window(&mut heap, &mut probe, &self.shape);
            let stats = heap.stats();
            let phases = Phase::ALL
                .into_iter()
                .filter(|&p| stats.phase(p).count() > 0)
                .map(|p| {
                    (
                        p.name().to_owned(),
                        PauseJson::from_summary(&stats.phase(p).summary()),
                    )
                })
                .collect();
            probe.pause_summary = Some((
                PauseJson::from_summary(&stats.all_pauses().summary()),
                phases,
            ));
            probe.allocated_bytes = Some(stats.counters.allocated_bytes);
            probe.live_bytes_end = Some(stats.counters.live_bytes);
            return probe;
        }
        let offset = probe.start.saturating_duration_since(heap.created_at());
        let events: Rc<RefCell<Vec<(Pause, &'static str)>>> = Rc::default();
        let terms: Rc<RefCell<Vec<(u64, u64)>>> = Rc::default();
        let (sink, tsink) = (Rc::clone(&events), Rc::clone(&terms));
        heap.set_event_hook(move |e| {
            sink.borrow_mut().push((
                Pause {
                    start: e.at.saturating_sub(offset),
                    len: e.pause,
                },
                e.phase.name(),
            ));
            if e.phase == gc_runtime::Phase::MarkTermination {
                tsink.borrow_mut().push((e.live_before, e.live_after));
            }
        });
        let s = self.shape;
        match self.workload {
            Workload::Gcbench => gcbench(&mut heap, &mut probe, &s),
            Workload::UnitLatency => unit_latency(&mut heap, &mut probe, &s),
            Workload::Cycles => {
                let live = build_live(&mut heap, &s);
                if live.is_some() {
                    // The figures are about the churn, not the build.
                    events.borrow_mut().clear();
                    terms.borrow_mut().clear();
                    probe.forget_setup();
                }
                cycles(&mut heap, &mut probe, &s, live)
            }
            Workload::Lru => lru(&mut heap, &mut probe, &s),
            Workload::Window => unreachable!("run above"),
            Workload::Lox => {
                let mut p = lox_run(heap, probe, events, &s);
                p.terminations = std::mem::take(&mut *terms.borrow_mut());
                return p;
            }
        }
        let c = heap.counters();
        probe.allocated_bytes = Some(c.allocated_bytes);
        probe.live_bytes_end.get_or_insert(c.live_bytes);
        heap.clear_event_hook();
        probe.pauses = std::mem::take(&mut *events.borrow_mut());
        probe.terminations = std::mem::take(&mut *terms.borrow_mut());
        probe.pauses_measured = true;
        probe
    }
}

/// The Lox workload: the script in `lox/trees.lox` on the Lox VM.
fn lox_run<C: Collector>(
    heap: Heap<C>,
    mut probe: Probe,
    events: Rc<RefCell<Vec<(Pause, &'static str)>>>,
    s: &Shape,
) -> Probe {
    let source = include_str!("../lox/trees.lox").replace("MAX_DEPTH", &s.lox_depth.to_string());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut vm = lox::Vm::new(heap, &mut out, &mut err).unwrap_or_else(|e| panic!("lox: {e}"));
    let outcome = vm.interpret(&source);
    let c = vm.heap().counters();
    vm.heap_mut().clear_event_hook();
    drop(vm);
    assert_eq!(
        outcome,
        lox::Outcome::Ok,
        "lox: {}",
        String::from_utf8_lossy(&err)
    );
    let printed = String::from_utf8_lossy(&out);
    probe.checksum = printed.trim().parse::<f64>().map_or(0, |v| v as u64);
    probe.allocated_bytes = Some(c.allocated_bytes);
    probe.live_bytes_end = Some(c.live_bytes);
    probe.pauses = std::mem::take(&mut *events.borrow_mut());
    probe.pauses_measured = true;
    probe
}

fn gcbench<C: Collector>(heap: &mut Heap<C>, probe: &mut Probe, s: &Shape) {
    // Stretch the heap with one big temporary tree.
    heap.mutate(|m| {
        make_tree(m, s.stretch_depth);
    });
    probe.tick();
    // A long-lived tree and array that must survive everything below.
    let long_lived = heap.mutate(|m| {
        let root = node(m, Value::NIL, Value::NIL, 0.0);
        populate(m, s.long_lived_depth, root);
        m.persist(root)
    });
    let array = heap.mutate(|m| {
        let a = must(m.alloc_filled(ARRAY, s.array_len, Value::NIL, &[]));
        for i in 0..s.array_len / 2 {
            m.set(a, i, Value::number(1.0 / i as f64));
        }
        m.persist(a)
    });
    for depth in (s.min_depth..=s.max_depth).step_by(2) {
        let iters = s.num_iters(depth);
        let per_call = (s.batch_nodes / Shape::tree_size(depth)).max(1);
        for top_down in [true, false] {
            let mut left = iters;
            while left > 0 {
                heap.mutate(|m| {
                    let mut n = 0;
                    while left > 0 && n < per_call {
                        if top_down {
                            populate(m, depth, node(m, Value::NIL, Value::NIL, 0.0));
                        } else {
                            make_tree(m, depth);
                        }
                        left -= 1;
                        n += 1;
                        if m.should_yield() {
                            break;
                        }
                    }
                });
                probe.tick();
            }
        }
    }
    probe.checksum = heap.mutate(|m| {
        let a = m.fetch(&array);
        assert_eq!(a.get(1000).as_number(), Some(1.0 / 1000.0));
        count(m.fetch(&long_lived).into())
    });
}

fn unit_latency<C: Collector>(heap: &mut Heap<C>, probe: &mut Probe, s: &Shape) {
    let table =
        heap.mutate(|m| m.persist(must(m.alloc_filled(ARRAY, s.subtrees, Value::NIL, &[]))));
    let per_call = (s.batch_nodes / Shape::tree_size(s.subtree_depth)).max(1);
    let mut built = 0;
    while built < s.subtrees {
        heap.mutate(|m| {
            let t = m.fetch(&table);
            let end = (built + per_call).min(s.subtrees);
            while built < end {
                m.set(t, built, make_tree(m, s.subtree_depth).into());
                built += 1;
                if m.should_yield() {
                    break;
                }
            }
        });
        probe.tick();
    }
    let mut rng = crate::run::Rng::new(s.seed);
    probe.units(s.units, s.metered_units, |_, _| {
        let i = rng.below(s.subtrees);
        heap.mutate(|m| {
            let t = m.fetch(&table);
            m.set(t, i, make_tree(m, s.subtree_depth).into());
        });
    });
    probe.checksum = heap.mutate(|m| {
        let t = m.fetch(&table);
        (0..t.len()).map(|i| count(t.get(i))).sum()
    });
}

/// Keeps `s.live_objects` objects live as 1,000-long lists under one root.
fn build_live<C: Collector>(heap: &mut Heap<C>, s: &Shape) -> Option<Persistent> {
    if s.live_objects == 0 {
        return None;
    }
    let lists = s.live_objects.div_ceil(Shape::LIVE_LIST);
    let table = heap.mutate(|m| m.persist(must(m.alloc_filled(ARRAY, lists, Value::NIL, &[]))));
    for i in 0..lists {
        heap.mutate(|m| {
            let mut head = Value::NIL;
            for k in 0..Shape::LIVE_LIST {
                head = node(m, head, Value::NIL, k as f64).into();
            }
            m.set(m.fetch(&table), i, head);
        });
    }
    heap.collect(CollectKind::Full);
    Some(table)
}

fn cycles<C: Collector>(
    heap: &mut Heap<C>,
    probe: &mut Probe,
    s: &Shape,
    live: Option<Persistent>,
) {
    heap.collect(CollectKind::Full);
    let base = heap.counters().live_bytes;
    let mut made = 0;
    while made < s.rings {
        heap.mutate(|m| {
            for _ in 0..s.ring_batch {
                let nodes: [Gc<'_>; 4] =
                    std::array::from_fn(|i| node(m, Value::NIL, Value::NIL, i as f64));
                for i in 0..4 {
                    m.set(nodes[i], 0, nodes[(i + 1) % 4].into());
                    m.set(nodes[i], 1, nodes[(i + 3) % 4].into());
                }
            }
        });
        made += s.ring_batch;
        probe.tick();
    }
    let t = std::time::Instant::now();
    heap.collect(CollectKind::Full);
    probe.reclaim_s = Some(t.elapsed().as_secs_f64());
    let end = heap.counters().live_bytes;
    probe.live_bytes_end = Some(end);
    probe.reclaimed_all = Some(end <= base);
    probe.checksum = made as u64
        + live.map_or(0, |t| {
            heap.mutate(|m| {
                let t = m.fetch(&t);
                (0..t.len()).map(|i| count_list(t.get(i))).sum::<u64>()
            })
        });
}

fn lru<C: Collector>(heap: &mut Heap<C>, probe: &mut Probe, s: &Shape) {
    let table: Persistent =
        heap.mutate(|m| m.persist(must(m.alloc_filled(ARRAY, s.lru_capacity, Value::NIL, &[]))));
    let mut index = LruIndex::new(s.lru_capacity, s.lru_keys, s.seed);
    let mut sum = 0u64;
    let batches = s.lru_ops / s.lru_batch;
    probe.units(batches, 0, |_, _| {
        heap.mutate(|m| {
            let t = m.fetch(&table);
            for _ in 0..s.lru_batch {
                match index.next_op() {
                    Op::Hit {
                        slot,
                        replace_value,
                    } => {
                        let e = t.get(slot).as_gc().expect("cached entry");
                        let v = e.get(1).as_gc().expect("entry value");
                        sum += v.bytes().len() as u64;
                        if replace_value {
                            let key = e.get(0).as_number().unwrap() as u32;
                            let nv = must(m.alloc(VALUE, &[], &FILL[..value_len(key)]));
                            m.set(e, 1, nv.into());
                        }
                    }
                    Op::Miss { slot, key } => {
                        let v = must(m.alloc(VALUE, &[], &FILL[..value_len(key)]));
                        let e = must(m.alloc(ENTRY, &[Value::number(key as f64), v.into()], &[]));
                        m.set(t, slot, e.into());
                        sum += 1;
                    }
                }
            }
        });
    });
    probe.checksum = sum;
}

/// `window`: one table object of `window_slots` slots; step `i` puts a new
/// 1 KiB object (holding the number `i`) in slot `i % window_slots`, one
/// `mutate` call per step, so that a step's latency includes the safepoint
/// on entry to its call. An allocation refused at the heap limit is
/// retried after a full collection, as an interpreter does (the Lox VM's
/// `Step::Oom`), and that counts in the step too.
fn window<C: Collector>(heap: &mut Heap<C>, probe: &mut Probe, s: &Shape) {
    static BYTES: [u8; WINDOW_OBJECT] = [7; WINDOW_OBJECT];
    let table =
        heap.mutate(|m| m.persist(must(m.alloc_filled(ARRAY, s.window_slots, Value::NIL, &[]))));
    probe.live_target_bytes = Some(s.window_live_bytes());
    probe.timed_ops(s.window_overwrites, |_, i| {
        let write = |m: &Mutator<'_, C>| -> Result<(), AllocError> {
            let b = m.alloc(BLOB, &[Value::number(i as f64)], &BYTES)?;
            m.set(m.fetch(&table), i % s.window_slots, b.into());
            Ok(())
        };
        if heap.mutate(write).is_err() {
            heap.collect(CollectKind::Full);
            must(heap.mutate(write));
        }
    });
    probe.checksum = heap.mutate(|m| {
        let t = m.fetch(&table);
        (0..t.len())
            .filter_map(|i| t.get(i).as_gc()?.get(0).as_number())
            .map(|n| n as u64)
            .sum()
    });
}

#[cfg(test)]
mod tests {
    use gc_runtime::{HeapConfig, Strategy};

    use super::CoreRun;
    use crate::run::{Shape, Size, Workload};

    /// `window` leaves in each slot the object of its last overwrite, on
    /// every backend, the peers included, and times every overwrite; under
    /// a heap limit a little over its live data it runs to the end on the
    /// collecting backends (retrying after a full collection when needed).
    #[test]
    fn window_keeps_the_last_object_of_every_slot() {
        let mut shape = Shape::new(Size::S10MB, true);
        shape.window_slots = 500;
        shape.window_overwrites = 5_250;
        let expected: u64 = (4_750..5_250).sum();
        let limited = HeapConfig::default()
            .with_heap_limit(1 << 20)
            .with_nursery_bytes(64 << 10);
        for s in Strategy::ALL {
            let mut configs = vec![HeapConfig::default()];
            if s != Strategy::NoGc {
                configs.push(limited.clone());
            }
            for config in configs {
                let run = CoreRun {
                    workload: Workload::Window,
                    shape,
                };
                let p = s.run(config, run).unwrap();
                assert_eq!(p.checksum, expected, "{s}");
                assert_eq!(p.ops_over_1ms.is_some(), p.unit_summary.is_some());
                assert!(p.unit_summary.is_some() && p.pause_summary.is_some(), "{s}");
            }
        }
        let rc = crate::peers::run::<crate::peers::RcPeer>(Workload::Window, &shape);
        assert_eq!(rc.checksum, expected);
        assert_eq!(
            crate::arena::run(Workload::Window, &shape).checksum,
            expected
        );
    }
}
