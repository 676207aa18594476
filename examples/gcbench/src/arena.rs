//! The gc-arena peer. gc-arena is the closest relative of gc-core's model
//! (branded `'gc` references, collection only between `mutate` calls), so
//! it is driven the same way gc-core is: one `mutate_root` per unit, and
//! `collect_debt()` after each (the crate's incremental pacing decides how
//! much work that does), timed as a pause.

use std::time::Instant;

use gc_arena::lock::RefLock;
use gc_arena::{Arena, Collect, Gc, Mutation, Rootable};

use crate::lru::{LruIndex, Op, value_len};
use crate::run::{Probe, Rng, Shape, WINDOW_OBJECT, Workload};

type NodeRef<'gc> = Gc<'gc, RefLock<ANode<'gc>>>;

#[derive(Collect)]
#[collect(no_drop)]
struct ANode<'gc> {
    slots: [Option<NodeRef<'gc>>; 2],
    num: f64,
    bytes: Box<[u8]>,
}

#[derive(Collect, Default)]
#[collect(no_drop)]
struct ARoot<'gc> {
    table: Vec<Option<NodeRef<'gc>>>,
    long_lived: Option<NodeRef<'gc>>,
}

type A = Arena<Rootable![ARoot<'_>]>;

fn node<'gc>(
    mc: &Mutation<'gc>,
    a: Option<NodeRef<'gc>>,
    b: Option<NodeRef<'gc>>,
    num: f64,
    bytes: &[u8],
) -> NodeRef<'gc> {
    Gc::new(
        mc,
        RefLock::new(ANode {
            slots: [a, b],
            num,
            bytes: bytes.into(),
        }),
    )
}

fn make_tree<'gc>(mc: &Mutation<'gc>, depth: u32) -> NodeRef<'gc> {
    if depth == 0 {
        node(mc, None, None, 0.0, &[])
    } else {
        let l = make_tree(mc, depth - 1);
        let r = make_tree(mc, depth - 1);
        node(mc, Some(l), Some(r), depth as f64, &[])
    }
}

fn populate<'gc>(mc: &Mutation<'gc>, depth: u32, n: NodeRef<'gc>) {
    if depth > 0 {
        let l = node(mc, None, None, 0.0, &[]);
        let r = node(mc, None, None, 0.0, &[]);
        n.borrow_mut(mc).slots = [Some(l), Some(r)];
        populate(mc, depth - 1, l);
        populate(mc, depth - 1, r);
    }
}

fn count(p: Option<NodeRef<'_>>) -> u64 {
    let mut stack: Vec<NodeRef<'_>> = p.into_iter().collect();
    let mut n = 0;
    while let Some(p) = stack.pop() {
        n += 1;
        stack.extend(p.borrow().slots.iter().flatten().copied());
    }
    n
}

fn debt(arena: &mut A, probe: &mut Probe) {
    probe.pause("debt", || arena.collect_debt());
}

pub fn run(workload: Workload, s: &Shape) -> Probe {
    let mut probe = Probe::new();
    probe.pauses_measured = true;
    let mut arena = A::new(|_| ARoot::default());
    match workload {
        Workload::Gcbench => {
            arena.mutate(|mc, _| {
                make_tree(mc, s.stretch_depth);
            });
            debt(&mut arena, &mut probe);
            arena.mutate_root(|mc, root| {
                let ll = node(mc, None, None, 0.0, &[]);
                populate(mc, s.long_lived_depth, ll);
                root.long_lived = Some(ll);
            });
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
                    let mut left = iters;
                    while left > 0 {
                        let n = per_unit.min(left);
                        arena.mutate(|mc, _| {
                            for _ in 0..n {
                                if top_down {
                                    populate(mc, depth, node(mc, None, None, 0.0, &[]));
                                } else {
                                    make_tree(mc, depth);
                                }
                            }
                        });
                        left -= n;
                        debt(&mut arena, &mut probe);
                        probe.tick();
                    }
                }
            }
            assert_eq!(array[1000], 1.0 / 1000.0);
            probe.checksum = arena.mutate(|_, root| count(root.long_lived));
        }
        Workload::UnitLatency => {
            let mut built = 0;
            while built < s.subtrees {
                arena.mutate_root(|mc, root| {
                    for _ in 0..512.min(s.subtrees - built) {
                        root.table.push(Some(make_tree(mc, s.subtree_depth)));
                        built += 1;
                    }
                });
                debt(&mut arena, &mut probe);
                probe.tick();
            }
            let mut rng = Rng::new(s.seed);
            probe.units(s.units, s.metered_units, |probe, _| {
                let i = rng.below(s.subtrees);
                arena.mutate_root(|mc, root| root.table[i] = Some(make_tree(mc, s.subtree_depth)));
                debt(&mut arena, probe);
            });
            probe.checksum = arena.mutate(|_, root| root.table.iter().map(|t| count(*t)).sum());
        }
        Workload::Cycles => {
            let lists = s.live_objects.div_ceil(Shape::LIVE_LIST);
            for _ in 0..lists {
                arena.mutate_root(|mc, root| {
                    let mut head = None;
                    for k in 0..Shape::LIVE_LIST {
                        head = Some(node(mc, head, None, k as f64, &[]));
                    }
                    root.table.push(head);
                });
                debt(&mut arena, &mut probe);
            }
            if lists > 0 {
                probe.forget_setup();
            }
            arena.collect_all();
            let base = arena.metrics().total_gc_allocation();
            let mut made = 0;
            while made < s.rings {
                arena.mutate(|mc, _| {
                    for _ in 0..s.ring_batch {
                        let nodes: [NodeRef<'_>; 4] =
                            std::array::from_fn(|i| node(mc, None, None, i as f64, &[]));
                        for i in 0..4 {
                            nodes[i].borrow_mut(mc).slots =
                                [Some(nodes[(i + 1) % 4]), Some(nodes[(i + 3) % 4])];
                        }
                    }
                });
                made += s.ring_batch;
                debt(&mut arena, &mut probe);
                probe.tick();
            }
            let t = Instant::now();
            probe.pause("full", || arena.collect_all());
            let live = arena.metrics().total_gc_allocation();
            probe.reclaim_s = Some(t.elapsed().as_secs_f64());
            probe.live_bytes_end = Some(live as u64);
            probe.reclaimed_all = Some(live <= base);
            probe.checksum = made as u64
                + arena.mutate(|_, root| {
                    root.table
                        .iter()
                        .map(|h| {
                            let (mut n, mut v) = (0, *h);
                            while let Some(p) = v {
                                n += 1;
                                v = p.borrow().slots[0];
                            }
                            n
                        })
                        .sum::<u64>()
                });
        }
        Workload::Lru => {
            static FILL: [u8; 256] = [7; 256];
            arena.mutate_root(|_, root| root.table = vec![None; s.lru_capacity]);
            let mut index = LruIndex::new(s.lru_capacity, s.lru_keys, s.seed);
            let mut sum = 0u64;
            probe.units(s.lru_ops / s.lru_batch, 0, |probe, _| {
                arena.mutate_root(|mc, root| {
                    for _ in 0..s.lru_batch {
                        match index.next_op() {
                            Op::Hit {
                                slot,
                                replace_value,
                            } => {
                                let e = root.table[slot].expect("cached entry");
                                let v = e.borrow().slots[1].expect("entry value");
                                sum += v.borrow().bytes.len() as u64;
                                if replace_value {
                                    let key = e.borrow().num as u32;
                                    let nv = node(mc, None, None, 0.0, &FILL[..value_len(key)]);
                                    e.borrow_mut(mc).slots[1] = Some(nv);
                                }
                            }
                            Op::Miss { slot, key } => {
                                let v = node(mc, None, None, 0.0, &FILL[..value_len(key)]);
                                root.table[slot] = Some(node(mc, None, Some(v), key as f64, &[]));
                                sum += 1;
                            }
                        }
                    }
                });
                debt(&mut arena, probe);
            });
            probe.checksum = sum;
        }
        Workload::Window => {
            // `collect_debt()` after every overwrite, inside the timed step
            // (the latency a user of the arena sees) and not recorded as a
            // pause: 10 million of them would be 480 MB of pause records.
            static BYTES: [u8; WINDOW_OBJECT] = [7; WINDOW_OBJECT];
            probe.pauses_measured = false;
            arena.mutate_root(|_, root| root.table = vec![None; s.window_slots]);
            probe.live_target_bytes = Some(s.window_live_bytes());
            probe.timed_ops(s.window_overwrites, |_, i| {
                arena.mutate_root(|mc, root| {
                    root.table[i % s.window_slots] = Some(node(mc, None, None, i as f64, &BYTES));
                });
                arena.collect_debt();
            });
            probe.checksum = arena.mutate(|_, root| {
                root.table
                    .iter()
                    .flatten()
                    .map(|p| p.borrow().num as u64)
                    .sum()
            });
        }
        Workload::Lox => unreachable!("lox is rejected before a run starts"),
    }
    if probe.live_bytes_end.is_none() {
        probe.live_bytes_end = Some(arena.metrics().total_gc_allocation() as u64);
    }
    probe
}
