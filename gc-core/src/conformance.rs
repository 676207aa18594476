//! The conformance suite every backend passes.
//!
//! A backend instantiates the whole suite with one line in its tests:
//!
//! ```text
//! gc_core::conformance_suite!(my_backend::MyCollector);
//! ```
//!
//! which generates one `#[test]` per case in a module `conformance`, and
//! again in `conformance_stress` with [`HeapConfig::stress`] on. Every heap
//! the suite makes has [`HeapConfig::verify`] on, so the backend's heap
//! verifier runs after every collection. Cases that a backend cannot pass
//! by design (reclamation for `NoGc`) check [`Capabilities`] and report
//! themselves as skipped on stderr; they are never left out.
//!
//! Sizes follow the brief (a 1,000,000-long list, a 1,000,000-slot
//! object); set `GC_CONFORMANCE_SCALE=N` to divide them by `N` (for runs
//! under valgrind).
//!
//! [`Capabilities`]: crate::Capabilities

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use crate::{AllocError, CollectKind, Collector, Gc, Heap, HeapConfig, Mutator, Value};

const NODE: u16 = 1;
const LEAF: u16 = 2;
const BLOB: u16 = 3;

/// Divisor for the big sizes, from `GC_CONFORMANCE_SCALE` (default 1).
pub fn scale() -> usize {
    std::env::var("GC_CONFORMANCE_SCALE")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

fn config(stress: bool) -> HeapConfig {
    HeapConfig::default()
        .with_stress(stress)
        .with_verify(true)
        .with_heap_limit(1 << 30)
}

fn heap<C: Collector>(stress: bool) -> Heap<C> {
    Heap::new(config(stress)).expect("the suite's configuration is valid")
}

fn skip<C: Collector>(case: &str, why: &str) {
    eprintln!("conformance: {case} skipped for {}: {why}", C::NAME);
}

fn full<C: Collector>(h: &mut Heap<C>) -> u64 {
    h.collect(CollectKind::Full);
    h.counters().live_bytes
}

fn all_kinds<C: Collector>(h: &mut Heap<C>) {
    for k in [CollectKind::Minor, CollectKind::Major, CollectKind::Full] {
        h.collect(k);
    }
}

/// Allocates `n` unrooted objects (garbage by the next safepoint).
fn garbage<C: Collector>(m: &Mutator<'_, C>, n: usize) {
    let mut prev = Value::NIL;
    for i in 0..n {
        let leaf = m.alloc(LEAF, &[], &i.to_le_bytes()).unwrap();
        let node = m.alloc(NODE, &[leaf.into(), prev], &[]).unwrap();
        prev = if i % 8 == 0 { Value::NIL } else { node.into() };
    }
}

/// Prepends `n` nodes `[number, next]` to the list, returning the new head.
fn prepend<'gc, C: Collector>(
    m: &Mutator<'gc, C>,
    mut head: Value<'gc>,
    from: usize,
    n: usize,
) -> Value<'gc> {
    for i in from..from + n {
        head = m
            .alloc(NODE, &[Value::number(i as f64), head], &[])
            .unwrap()
            .into();
    }
    head
}

/// Walks a list made by `prepend`, iteratively; returns (length, sum).
fn walk(mut v: Value<'_>) -> (usize, f64) {
    let (mut n, mut sum) = (0, 0.0);
    while let Some(g) = v.as_gc() {
        assert_eq!(g.kind(), NODE);
        sum += g.get(0).as_number().unwrap();
        n += 1;
        v = g.get(1);
    }
    (n, sum)
}

fn sum_to(n: usize) -> f64 {
    (n as f64) * (n as f64 - 1.0) / 2.0
}

/// Numbers (NaN, infinities, signed zero, subnormals), booleans, `nil`
/// and references round-trip through slots, across collections.
pub fn values_round_trip<C: Collector>(stress: bool) {
    let mut h = heap::<C>(stress);
    let nums = [
        0.0,
        -0.0,
        1.0,
        -1.5,
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    let root = h.mutate(|m| {
        let leaf = m.alloc(LEAF, &[], b"leaf").unwrap();
        let mut vals: Vec<Value<'_>> = nums.iter().map(|&f| Value::number(f)).collect();
        vals.extend([
            Value::number(f64::NAN),
            Value::bool(true),
            Value::bool(false),
            Value::NIL,
            leaf.into(),
        ]);
        let obj = m.alloc(NODE, &vals, b"bytes").unwrap();
        // Write every slot once more through the barrier.
        for (i, v) in vals.iter().enumerate() {
            m.set(obj, i, *v);
        }
        m.persist(obj)
    });
    for round in 0..3 {
        all_kinds(&mut h);
        h.mutate(|m| {
            let obj = m.fetch(&root);
            assert_eq!(obj.kind(), NODE);
            assert_eq!(obj.len(), nums.len() + 5);
            assert_eq!(obj.bytes(), b"bytes");
            for (i, &f) in nums.iter().enumerate() {
                let got = obj.get(i).as_number().unwrap();
                assert_eq!(got.to_bits(), f.to_bits(), "slot {i} round {round}");
            }
            let k = nums.len();
            assert!(obj.get(k).as_number().unwrap().is_nan());
            assert_ne!(obj.get(k), obj.get(k), "NaN is not equal to itself");
            assert_eq!(obj.get(k + 1).as_bool(), Some(true));
            assert_eq!(obj.get(k + 2).as_bool(), Some(false));
            assert!(obj.get(k + 3).is_nil());
            let leaf = obj.get(k + 4).as_gc().unwrap();
            assert_eq!((leaf.kind(), leaf.bytes()), (LEAF, &b"leaf"[..]));
            assert!(obj.try_get(k + 5).is_none());
            garbage(m, 1000);
        });
    }
}

/// Objects reachable from persistent roots survive many collections of
/// every kind, interleaved with garbage, with their contents intact.
pub fn rooted_objects_survive<C: Collector>(stress: bool) {
    let mut h = heap::<C>(stress);
    let root = h.mutate(|m| {
        // A binary tree of depth 10 whose leaves carry bytes.
        fn tree<'gc, C: Collector>(m: &Mutator<'gc, C>, depth: u32, id: u64) -> Gc<'gc> {
            // Iterative would be nicer; depth 10 is tiny.
            if depth == 0 {
                return m.alloc(LEAF, &[], &id.to_le_bytes()).unwrap();
            }
            let l = tree(m, depth - 1, id * 2);
            let r = tree(m, depth - 1, id * 2 + 1);
            m.alloc(NODE, &[l.into(), r.into(), Value::number(id as f64)], &[])
                .unwrap()
        }
        m.persist(tree(m, 10, 1))
    });
    for round in 0..20 {
        h.mutate(|m| garbage(m, 2000));
        h.collect(match round % 3 {
            0 => CollectKind::Minor,
            1 => CollectKind::Major,
            _ => CollectKind::Full,
        });
        h.mutate(|m| {
            let mut stack = vec![(m.fetch(&root), 10u32, 1u64)];
            let mut leaves = 0;
            while let Some((g, depth, id)) = stack.pop() {
                if depth == 0 {
                    assert_eq!(g.kind(), LEAF);
                    assert_eq!(g.bytes(), id.to_le_bytes());
                    leaves += 1;
                } else {
                    assert_eq!(g.kind(), NODE);
                    assert_eq!(g.get(2).as_number(), Some(id as f64));
                    stack.push((g.get(0).as_gc().unwrap(), depth - 1, id * 2));
                    stack.push((g.get(1).as_gc().unwrap(), depth - 1, id * 2 + 1));
                }
            }
            assert_eq!(leaves, 1024, "round {round}");
        });
    }
}

/// Unreachable objects are reclaimed: live bytes return to their baseline.
pub fn unreachable_objects_reclaimed<C: Collector>(stress: bool) {
    if !C::CAPABILITIES.reclaims {
        return skip::<C>("unreachable_objects_reclaimed", "backend never frees");
    }
    let mut h = heap::<C>(stress);
    let keep = h.mutate(|m| m.persist(m.alloc(LEAF, &[], b"keep").unwrap()));
    let base = full(&mut h);
    let freed0 = h.counters().freed_bytes;
    for _ in 0..5 {
        h.mutate(|m| garbage(m, 20_000));
        assert_eq!(full(&mut h), base, "live bytes after a full collection");
    }
    assert!(h.counters().freed_bytes > freed0);
    drop(keep);
    assert!(full(&mut h) < base);
}

/// A 4-node doubly linked ring with a self-loop on its first node.
fn make_ring<'gc, C: Collector>(m: &Mutator<'gc, C>) -> Gc<'gc> {
    let nodes: Vec<Gc<'gc>> = (0..4)
        .map(|i| m.alloc_filled(NODE, 3, Value::NIL, &[i as u8]).unwrap())
        .collect();
    for i in 0..4 {
        m.set(nodes[i], 0, nodes[(i + 1) % 4].into());
        m.set(nodes[i], 1, nodes[(i + 3) % 4].into());
    }
    m.set(nodes[0], 2, nodes[0].into());
    nodes[0]
}

/// Cyclic garbage (rings, self-loops) is reclaimed; a rooted cycle is not.
pub fn cyclic_garbage_reclaimed<C: Collector>(stress: bool) {
    if !C::CAPABILITIES.reclaims_cycles {
        return skip::<C>("cyclic_garbage_reclaimed", "backend does not free cycles");
    }
    let mut h = heap::<C>(stress);
    let base = full(&mut h);
    let kept = h.mutate(|m| {
        for _ in 0..5000 {
            make_ring(m);
        }
        m.persist(make_ring(m))
    });
    let with_kept = full(&mut h);
    assert!(with_kept > base);
    h.mutate(|m| {
        let r = m.fetch(&kept);
        let mut g = r;
        for i in 0..4 {
            assert_eq!(g.bytes(), [i as u8]);
            g = g.get(0).as_gc().unwrap();
        }
        assert_eq!(g, r, "the ring is intact");
        for _ in 0..5000 {
            make_ring(m);
        }
    });
    assert_eq!(full(&mut h), with_kept, "only the rooted ring is live");
    drop(kept);
    assert_eq!(full(&mut h), base);
}

/// Weak handles stay set while their target is reachable (also only
/// indirectly, or only from the root stack) and are cleared once it dies.
pub fn weak_handles<C: Collector>(stress: bool) {
    let mut h = heap::<C>(stress);
    let (root, w_direct, w_indirect, w_stack, w_garbage) = h.mutate(|m| {
        let direct = m.alloc(LEAF, &[], b"direct").unwrap();
        let indirect = m.alloc(LEAF, &[], b"indirect").unwrap();
        let mid = m.alloc(NODE, &[indirect.into()], &[]).unwrap();
        let top = m.alloc(NODE, &[direct.into(), mid.into()], &[]).unwrap();
        let on_stack = m.alloc(LEAF, &[], b"stack").unwrap();
        m.stack_push(on_stack.into());
        let dead = m.alloc(LEAF, &[], b"dead").unwrap();
        (
            m.persist(top),
            m.downgrade(direct),
            m.downgrade(indirect),
            m.downgrade(on_stack),
            m.downgrade(dead),
        )
    });
    let w_direct2 = w_direct.clone();
    assert_eq!(h.weak_count(), 4);
    for _ in 0..3 {
        h.mutate(|m| garbage(m, 1000));
        all_kinds(&mut h);
        h.mutate(|m| {
            for (w, b) in [
                (&w_direct, &b"direct"[..]),
                (&w_direct2, b"direct"),
                (&w_indirect, b"indirect"),
                (&w_stack, b"stack"),
            ] {
                let g = m.upgrade(w).expect("weak target is reachable");
                assert_eq!(g.bytes(), b);
            }
            let top = m.fetch(&root);
            assert_eq!(m.upgrade(&w_direct), top.get(0).as_gc());
            if !C::CAPABILITIES.reclaims {
                assert!(
                    m.upgrade(&w_garbage).is_some(),
                    "nothing dies in this backend"
                );
            }
        });
    }
    if !C::CAPABILITIES.reclaims {
        return skip::<C>("weak_handles (clearing)", "backend never frees");
    }
    h.mutate(|m| {
        assert!(m.upgrade(&w_garbage).is_none(), "garbage target was freed");
        // Cut the indirect path and empty the root stack.
        let mid = m.fetch(&root).get(1).as_gc().unwrap();
        m.set(mid, 0, Value::NIL);
        m.stack_truncate(0);
    });
    full(&mut h);
    h.mutate(|m| {
        assert!(m.upgrade(&w_indirect).is_none());
        assert!(m.upgrade(&w_stack).is_none());
        assert!(m.upgrade(&w_direct).is_some());
    });
    drop(root);
    full(&mut h);
    h.mutate(|m| {
        assert!(m.upgrade(&w_direct).is_none());
        assert!(m.upgrade(&w_direct2).is_none());
    });
}

/// Identity hashes do not change across collections (moves included) and
/// distinguish objects.
pub fn identity_hash_stable<C: Collector>(stress: bool) {
    let mut h = heap::<C>(stress);
    let (roots, hashes): (Vec<_>, Vec<u64>) = h.mutate(|m| {
        (0..1000)
            .map(|i| {
                let g = m.alloc(LEAF, &[], &[i as u8]).unwrap();
                garbage(m, 3);
                (m.persist(g), m.identity_hash(g))
            })
            .unzip()
    });
    let mut distinct = hashes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(
        distinct.len() >= 990,
        "only {} distinct hashes",
        distinct.len()
    );
    for _ in 0..5 {
        h.mutate(|m| garbage(m, 5000));
        all_kinds(&mut h);
        h.mutate(|m| {
            for (r, &hash) in roots.iter().zip(&hashes) {
                assert_eq!(m.identity_hash(m.fetch(r)), hash);
            }
        });
    }
}

/// A 1,000,000-long linked list is kept, walked and reclaimed without
/// recursion in the collector (a recursive marker, copier or freer would
/// overflow the 2 MiB test-thread stack).
pub fn long_list<C: Collector>(stress: bool) {
    let n = 1_000_000 / scale();
    let chunk = n / 10;
    let mut h = heap::<C>(stress);
    let base = full(&mut h);
    let root = h.mutate(|m| m.persist(m.alloc(LEAF, &[], &[]).unwrap()));
    let head = h.mutate(|m| {
        let head = prepend(m, Value::NIL, 0, 1);
        m.persist(head.as_gc().unwrap())
    });
    drop(root);
    for c in 0..10 {
        h.mutate(|m| {
            let old = m.fetch(&head).into();
            let new = prepend(m, old, 1 + c * chunk, chunk);
            m.set_persistent(&head, new.as_gc().unwrap());
        });
    }
    let len = 1 + 10 * chunk;
    for k in [CollectKind::Minor, CollectKind::Full, CollectKind::Full] {
        h.collect(k);
        h.mutate(|m| assert_eq!(walk(m.fetch(&head).into()), (len, sum_to(len))));
    }
    if !C::CAPABILITIES.reclaims {
        return skip::<C>("long_list (reclamation)", "backend never frees");
    }
    drop(head);
    assert_eq!(full(&mut h), base);
}

/// A 1,000,000-slot object, some of whose slots reference small objects,
/// is kept intact and reclaimed.
pub fn wide_object<C: Collector>(stress: bool) {
    let n = 1_000_000 / scale();
    let mut h = heap::<C>(stress);
    let base = full(&mut h);
    let root = h.mutate(|m| {
        let wide = m.alloc_filled(NODE, n, Value::NIL, &[]).unwrap();
        for i in 0..n {
            let v = if i % 100 == 0 {
                m.alloc(LEAF, &[], &(i as u64).to_le_bytes())
                    .unwrap()
                    .into()
            } else {
                Value::number(i as f64)
            };
            m.set(wide, i, v);
        }
        m.persist(wide)
    });
    for k in [CollectKind::Minor, CollectKind::Major, CollectKind::Full] {
        h.mutate(|m| garbage(m, 1000));
        h.collect(k);
        h.mutate(|m| {
            let wide = m.fetch(&root);
            assert_eq!(wide.len(), n);
            for i in 0..n {
                let v = wide.get(i);
                if i % 100 == 0 {
                    assert_eq!(v.as_gc().unwrap().bytes(), (i as u64).to_le_bytes());
                } else {
                    assert_eq!(v.as_number(), Some(i as f64));
                }
            }
        });
    }
    if !C::CAPABILITIES.reclaims {
        return skip::<C>("wide_object (reclamation)", "backend never frees");
    }
    drop(root);
    assert_eq!(full(&mut h), base);
}

/// Large objects (1 MiB of bytes; 100,000 slots pointing at young
/// objects) keep their contents across collections and are reclaimed.
pub fn large_objects<C: Collector>(stress: bool) {
    let mut h = heap::<C>(stress);
    let base = full(&mut h);
    let pattern = |k: usize| -> Vec<u8> { (0..1 << 20).map(|i| (i * 7 + k) as u8).collect() };
    let roots = h.mutate(|m| {
        let mut roots: Vec<_> = (0..3)
            .map(|k| m.persist(m.alloc(BLOB, &[], &pattern(k)).unwrap()))
            .collect();
        roots.push(m.persist(m.alloc_filled(NODE, 100_000, Value::NIL, &[]).unwrap()));
        roots
    });
    for round in 0..3 {
        // Point the big slot object at fresh (young) objects, then collect.
        h.mutate(|m| {
            let big = m.fetch(&roots[3]);
            for i in (0..100_000).step_by(10) {
                let leaf = m.alloc(LEAF, &[], &[(i + round) as u8]).unwrap();
                m.set(big, i, leaf.into());
            }
        });
        all_kinds(&mut h);
        h.mutate(|m| {
            for (k, r) in roots[..3].iter().enumerate() {
                assert!(m.fetch(r).bytes() == pattern(k), "blob {k}");
            }
            let big = m.fetch(&roots[3]);
            for i in (0..100_000).step_by(10) {
                let leaf = big.get(i).as_gc().unwrap();
                assert_eq!(leaf.bytes(), [(i + round) as u8]);
            }
        });
    }
    if !C::CAPABILITIES.reclaims {
        return skip::<C>("large_objects (reclamation)", "backend never frees");
    }
    drop(roots);
    assert_eq!(full(&mut h), base);
}

/// Allocating past the byte limit returns `Err(OutOfMemory)`; the heap
/// stays consistent and usable (and, if it reclaims, can allocate again
/// once the roots are dropped).
pub fn heap_limit<C: Collector>(stress: bool) {
    let limit = 2 << 20;
    let cfg = config(stress)
        .with_heap_limit(limit)
        .with_nursery_bytes(256 << 10);
    let mut h = Heap::<C>::new(cfg).unwrap();
    let fill = |h: &mut Heap<C>| -> (crate::Persistent, usize) {
        let head = h.mutate(|m| m.persist(m.alloc(NODE, &[Value::NIL], &[]).unwrap()));
        let mut count = 1;
        let mut failures = 0;
        // Fill across several mutate calls so that backends may collect in
        // between; stop after the limit has been hit twice in a row.
        while failures < 2 {
            let (added, err) = h.mutate(|m| {
                let mut cur = m.fetch(&head);
                let mut added = 0;
                let err = loop {
                    match m.alloc(NODE, &[cur.into()], &[0xAB; 1000]) {
                        Ok(g) => {
                            cur = g;
                            added += 1;
                            if added == 200 {
                                break None;
                            }
                        }
                        Err(e) => break Some(e),
                    }
                };
                m.set_persistent(&head, cur);
                (added, err)
            });
            count += added;
            match err {
                Some(AllocError::OutOfMemory {
                    requested,
                    limit: l,
                    in_use,
                }) => {
                    assert!(requested >= 1000 && l == limit && in_use <= limit);
                    failures += 1;
                }
                Some(e) => panic!("unexpected error {e}"),
                None => failures = 0,
            }
            assert!(count < limit / 1000, "the limit was never enforced");
        }
        (head, count)
    };
    let (head, count) = fill(&mut h);
    assert!(count > 100, "only {count} objects fit in {limit} bytes");
    // Consistent: the whole chain is intact and readable.
    h.collect(CollectKind::Full);
    h.mutate(|m| {
        let mut n = 0;
        let mut v: Value<'_> = m.fetch(&head).into();
        while let Some(g) = v.as_gc() {
            n += 1;
            v = g.get(0);
        }
        assert_eq!(n, count);
        // A request larger than the whole limit fails cleanly too.
        let err = m.alloc(BLOB, &[], &vec![0; limit + 1]).unwrap_err();
        assert!(matches!(err, AllocError::OutOfMemory { .. }), "{err}");
        assert!(err.to_string().contains("out of memory"));
    });
    if !C::CAPABILITIES.reclaims {
        return skip::<C>("heap_limit (reuse after drop)", "backend never frees");
    }
    drop(head);
    h.collect(CollectKind::Full);
    let (_head, again) = fill(&mut h);
    assert!(
        again * 10 >= count * 9,
        "{again} objects fit after freeing, {count} before"
    );
}

/// Persistent handles: clones name the same root, the last drop releases
/// it, and a handle cannot be used with another heap.
pub fn persistent_handles<C: Collector>(stress: bool) {
    let mut h = heap::<C>(stress);
    let base = full(&mut h);
    let a = h.mutate(|m| m.persist(m.alloc(LEAF, &[], b"a").unwrap()));
    let b = a.clone();
    assert_eq!(a, b);
    assert_eq!(h.persistent_count(), 1);
    drop(a);
    all_kinds(&mut h);
    h.mutate(|m| assert_eq!(m.fetch(&b).bytes(), b"a"));
    // Re-pointing a root.
    h.mutate(|m| {
        let other = m.alloc(LEAF, &[], b"other").unwrap();
        m.set_persistent(&b, other);
    });
    all_kinds(&mut h);
    h.mutate(|m| assert_eq!(m.fetch(&b).bytes(), b"other"));

    let mut h2 = heap::<C>(stress);
    let foreign = catch_unwind(AssertUnwindSafe(|| h2.mutate(|m| m.fetch(&b).len())));
    assert!(foreign.is_err(), "a Persistent of another heap is rejected");
    h2.mutate(|m| garbage(m, 10));

    if !C::CAPABILITIES.reclaims {
        return skip::<C>("persistent_handles (release)", "backend never frees");
    }
    drop(b);
    assert_eq!(full(&mut h), base);
    assert_eq!(h.persistent_count(), 0);
}

/// Values on the root stack survive (and follow moves), whether pushed one
/// by one or through a [`crate::RootStack`] guard; popping them lets them
/// die.
pub fn root_stack<C: Collector>(stress: bool) {
    let mut h = heap::<C>(stress);
    let base = full(&mut h);
    fn value<'gc, C: Collector>(m: &Mutator<'gc, C>, i: u32) -> Value<'gc> {
        if i.is_multiple_of(2) {
            Value::number(f64::from(i))
        } else {
            m.alloc(LEAF, &[], &i.to_le_bytes()).unwrap().into()
        }
    }
    h.mutate(|m| {
        for i in 0..5_000u32 {
            m.stack_push(value(m, i));
        }
    });
    h.mutate(|m| {
        let mut stack = m.root_stack();
        assert_eq!(stack.len(), 5_000);
        for i in 5_000..10_000u32 {
            stack.push(value(m, i));
        }
    });
    for round in 0..3 {
        h.mutate(|m| garbage(m, 1000));
        all_kinds(&mut h);
        h.mutate(|m| {
            assert_eq!(m.stack_len(), 10_000);
            let guard = (round % 2 == 1).then(|| m.root_stack());
            for i in 0..10_000u32 {
                let v = match &guard {
                    Some(g) => g[i as usize],
                    None => m.stack_get(i as usize),
                };
                if i % 2 == 0 {
                    assert_eq!(v.as_number(), Some(f64::from(i)));
                } else {
                    assert_eq!(v.as_gc().unwrap().bytes(), i.to_le_bytes());
                }
            }
        });
    }
    h.mutate(|m| {
        let top = m.stack_pop().unwrap();
        m.stack_set(0, top);
        assert_eq!(m.stack_get(0), top);
        m.stack_truncate(0);
        assert!(m.stack_pop().is_none());
    });
    if !C::CAPABILITIES.reclaims {
        return skip::<C>("root_stack (reclamation)", "backend never frees");
    }
    assert_eq!(full(&mut h), base);
}

/// Writes of young objects into old ones (the generational barrier's
/// case), and of old objects into young ones, are never lost.
pub fn old_to_young_writes<C: Collector>(stress: bool) {
    let mut h = heap::<C>(stress);
    let old = h.mutate(|m| m.persist(m.alloc_filled(NODE, 64, Value::NIL, &[]).unwrap()));
    for _ in 0..4 {
        all_kinds(&mut h); // make `old` as old as it gets
    }
    for round in 0..10u8 {
        h.mutate(|m| {
            let o = m.fetch(&old);
            for i in 0..64 {
                let young = m.alloc(LEAF, &[], &[round, i as u8]).unwrap();
                // young -> old as well
                let pair = m.alloc(NODE, &[young.into(), o.into()], &[]).unwrap();
                m.set(o, i, pair.into());
            }
            garbage(m, 500);
        });
        h.collect(CollectKind::Minor);
        h.mutate(|m| {
            let o = m.fetch(&old);
            for i in 0..64 {
                let pair = o.get(i).as_gc().unwrap();
                assert_eq!(pair.get(0).as_gc().unwrap().bytes(), [round, i as u8]);
                assert_eq!(pair.get(1).as_gc(), Some(o));
            }
        });
    }
}

/// A tiny deterministic generator, so the mutations below are the same in
/// every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Objects move between containers while the collector works: every
/// item is always in exactly one container slot, so it stays reachable,
/// but it moves under an incremental or concurrent marker (a backend's
/// stress mode does a small step of its work at every safepoint, with
/// minor collections and allocation in between). A collector that misses
/// an item moved from a container it has not scanned into one it has
/// (no deletion or insertion barrier) frees it, and the verifier or the
/// walk finds the dangling reference.
pub fn objects_move_while_collecting<C: Collector>(stress: bool) {
    const CONTAINERS: usize = 64;
    const SLOTS: usize = 64;
    const ITEMS: usize = CONTAINERS * SLOTS / 2;
    let mut h = heap::<C>(stress);
    let root = h.mutate(|m| {
        let root = m.alloc_filled(NODE, CONTAINERS, Value::NIL, &[]).unwrap();
        for c in 0..CONTAINERS {
            let cont = m.alloc_filled(NODE, SLOTS, Value::NIL, &[]).unwrap();
            m.set(root, c, cont.into());
        }
        m.persist(root)
    });
    h.mutate(|m| {
        let r = m.fetch(&root);
        for i in 0..ITEMS {
            let item = m.alloc(LEAF, &[], &i.to_le_bytes()).unwrap();
            let cont = r.get(i % CONTAINERS).as_gc().unwrap();
            m.set(cont, i / CONTAINERS, item.into());
        }
    });
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..300 {
        if round % 100 == 50 {
            h.collect(CollectKind::Minor);
        }
        h.mutate(|m| {
            let r = m.fetch(&root);
            // Every item is in exactly one slot, intact.
            let mut seen = vec![false; ITEMS];
            for c in 0..CONTAINERS {
                let cont = r.get(c).as_gc().unwrap();
                for s in 0..SLOTS {
                    if let Some(item) = cont.get(s).as_gc() {
                        let i = usize::from_le_bytes(item.bytes().try_into().unwrap());
                        assert!(!seen[i], "item {i} twice");
                        seen[i] = true;
                    }
                }
            }
            assert!(seen.iter().all(|&s| s), "an item was lost");
            // Move a few items to free slots.
            let mut slot = || {
                let c = r.get(rng.below(CONTAINERS)).as_gc().unwrap();
                (c, rng.below(SLOTS))
            };
            for _ in 0..16 {
                let ((from, i), (to, j)) = (slot(), slot());
                let v = from.get(i);
                if !v.is_nil() && to.get(j).is_nil() {
                    m.set(to, j, v);
                    m.set(from, i, Value::NIL);
                }
            }
            // Garbage, to drive collections, promotion and sweeping.
            garbage(m, 40);
        });
    }
    h.collect(CollectKind::Full);
}

/// Weak handles are upgraded and their targets stored while the collector
/// works: a target that was old but reachable only weakly when a marker
/// took its snapshot, then made strongly reachable again through
/// `upgrade`, must survive (the marker shades it in `weak_upgraded`); a
/// weak handle whose target stays unreachable is eventually cleared.
pub fn weak_upgrade_while_collecting<C: Collector>(stress: bool) {
    let mut h = heap::<C>(stress);
    // Ballast that takes an incremental marker several steps, rooted
    // before the holder, so that the holder is often scanned before
    // marking ends: a target stored into it after that is found only if
    // `weak_upgraded` shaded it.
    let _ballast = h.mutate(|m| {
        let head = prepend(m, Value::NIL, 0, 1_000);
        m.persist(head.as_gc().unwrap())
    });
    let holder = h.mutate(|m| m.persist(m.alloc_filled(NODE, 9, Value::NIL, &[]).unwrap()));
    for round in 0..400u32 {
        let slot = (round % 8) as usize;
        // A target held strongly (slot 8) until it is old, then weakly.
        let weak = h.mutate(|m| {
            let o = m.alloc(LEAF, &[], &round.to_le_bytes()).unwrap();
            m.set(m.fetch(&holder), 8, o.into());
            m.downgrade(o)
        });
        h.collect(CollectKind::Minor);
        h.collect(CollectKind::Minor);
        h.mutate(|m| m.set(m.fetch(&holder), 8, Value::NIL));
        for _ in 0..(round % 3) {
            h.mutate(|m| garbage(m, 10));
        }
        h.mutate(|m| {
            if let Some(o) = m.upgrade(&weak) {
                m.set(m.fetch(&holder), slot, o.into());
            }
        });
        for _ in 0..(round % 5) {
            h.mutate(|m| garbage(m, 10));
        }
        h.mutate(|m| {
            if let Some(o) = m.fetch(&holder).get(slot).as_gc() {
                assert_eq!(o.bytes(), round.to_le_bytes());
            }
        });
    }
    h.collect(CollectKind::Full);
    let weak = h.mutate(|m| m.downgrade(m.alloc(LEAF, &[], b"gone").unwrap()));
    h.collect(CollectKind::Full);
    if C::CAPABILITIES.reclaims {
        assert!(h.mutate(|m| m.upgrade(&weak).is_none()));
    }
}

/// Stats count allocation, and every pause reaches the event hook.
pub fn stats_and_events<C: Collector>(stress: bool) {
    let mut h = heap::<C>(stress);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&seen);
    h.set_event_hook(move |e| sink.borrow_mut().push(*e));
    let before = h.counters().allocated_bytes;
    h.mutate(|m| garbage(m, 10_000));
    let after = h.counters();
    // Each garbage step allocates a leaf (8 bytes) and a 2-slot node.
    assert!(after.allocated_bytes - before >= 10_000 * (32 + 40));
    assert!(after.allocated_objects >= 20_000);
    h.collect(CollectKind::Full);
    let stats = h.stats();
    assert_eq!(stats.backend, C::NAME);
    assert!(stats.safepoints >= 2);
    let events = seen.borrow();
    assert_eq!(events.len() as u64, stats.pauses);
    assert_eq!(stats.all_pauses().count(), stats.pauses);
    for w in events.windows(2) {
        assert!(w[0].seq < w[1].seq && w[0].at <= w[1].at);
    }
    if C::CAPABILITIES.reclaims {
        assert!(stats.collections >= 1, "a full collection records a pause");
        assert!(events.iter().any(|e| e.freed > 0));
        assert!(!events[0].to_string().is_empty());
    }
}

/// Objects that cannot be represented are an error, not a crash.
pub fn too_large_is_err<C: Collector>(stress: bool) {
    let mut h = heap::<C>(stress);
    h.mutate(|m| {
        let err = m
            .alloc_filled(NODE, crate::object::MAX_SLOTS + 1, Value::NIL, &[])
            .unwrap_err();
        assert!(matches!(err, AllocError::TooLarge { .. }), "{err}");
        // Still usable.
        assert_eq!(m.alloc(LEAF, &[], b"ok").unwrap().bytes(), b"ok");
    });
}

/// Generates the suite's tests for a backend: one `#[test]` per case in
/// module `conformance`, and the same in `conformance_stress` with stress
/// mode on. See the [module docs](crate::conformance).
#[macro_export]
macro_rules! conformance_suite {
    ($collector:ty) => {
        $crate::conformance_suite!(@cases $collector;
            values_round_trip, rooted_objects_survive, unreachable_objects_reclaimed,
            cyclic_garbage_reclaimed, weak_handles, identity_hash_stable, long_list,
            wide_object, large_objects, heap_limit, persistent_handles, root_stack,
            old_to_young_writes, objects_move_while_collecting,
            weak_upgrade_while_collecting, stats_and_events, too_large_is_err);
    };
    (@cases $collector:ty; $($case:ident),* $(,)?) => {
        mod conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $case() {
                    $crate::conformance::$case::<$collector>(false);
                }
            )*
        }
        mod conformance_stress {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $case() {
                    $crate::conformance::$case::<$collector>(true);
                }
            )*
        }
    };
}
