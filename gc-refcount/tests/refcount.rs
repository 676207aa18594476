//! Behaviour specific to deferred reference counting and its cycle passes.

use std::cell::RefCell;
use std::rc::Rc;

use gc_core::{CollectKind, GcEvent, Heap, HeapConfig, Phase, Value};
use gc_refcount::{FREE_STEP, RefCount, SLICE_VISITS};

fn heap(cfg: HeapConfig) -> Heap<RefCount> {
    Heap::new(cfg.with_verify(true)).unwrap()
}

fn scale() -> usize {
    gc_core::conformance::scale()
}

/// Freeing a 10,000,000-long list is one worklist, not a recursion (this
/// runs on the 2 MiB test thread), and it is done in bounded steps: each
/// minor safepoint dismantles at most `FREE_STEP` work of it, so it takes
/// many safepoints, and no free pause frees more than a step's objects.
#[test]
fn ten_million_long_list_is_freed_iteratively_in_bounded_steps() {
    let n = 10_000_000 / scale();
    let mut h = Heap::<RefCount>::new(HeapConfig::default()).unwrap();
    let events = Rc::new(RefCell::new(Vec::<GcEvent>::new()));
    let sink = Rc::clone(&events);
    h.set_event_hook(move |e| sink.borrow_mut().push(*e));
    let head = h.mutate(|m| {
        let mut v = Value::NIL;
        for i in 0..n {
            v = m
                .alloc(1, &[Value::number(i as f64), v], &[])
                .unwrap()
                .into();
        }
        m.persist(v.as_gc().unwrap())
    });
    h.collect(CollectKind::Full);
    let live = h.counters().live_bytes;
    assert!(live >= (n * 40) as u64);
    events.borrow_mut().clear();
    drop(head);
    let mut minors = 0;
    while h.counters().live_bytes > 0 {
        h.collect(CollectKind::Minor);
        minors += 1;
        assert!(minors <= n, "a minor safepoint freed nothing");
    }
    // Each node is two slots and a cell: 6 work units.
    let per_step = FREE_STEP / 6 + 1;
    assert!(minors >= n / per_step, "{minors} minors for {n} nodes");
    let ev = events.borrow();
    let most = ev.iter().map(|e| e.visited).max().unwrap();
    assert!(
        most as usize <= per_step,
        "one free pause freed {most} objects"
    );
}

/// A list of `len` one-slot nodes whose last node refers to `tail`, held
/// by the returned root.
fn dying_list_ending_in<'gc>(
    m: &gc_core::Mutator<'gc, RefCount>,
    len: usize,
    tail: Value<'gc>,
) -> gc_core::Persistent {
    let mut v = tail;
    for _ in 0..len {
        v = m.alloc(1, &[v], &[]).unwrap().into();
    }
    m.persist(v.as_gc().unwrap())
}

/// Allocation dismantles dead objects as it goes, so a program that drops
/// a big structure and keeps allocating reuses its memory at once instead
/// of growing until safepoints have freed it all.
#[test]
fn allocation_reuses_the_memory_of_dying_objects() {
    let n = 200_000;
    let mut h = heap(HeapConfig::default());
    let head = h.mutate(|m| dying_list_ending_in(m, n, Value::NIL));
    h.collect(CollectKind::Full);
    let full = h.counters().live_bytes;
    drop(head);
    h.collect(CollectKind::Minor);
    let after_step = h.counters().live_bytes;
    assert!(after_step > full / 2, "one step freed most of the list");
    let keep = h.mutate(|m| {
        let mut v = Value::NIL;
        for _ in 0..n / 2 {
            v = m.alloc(1, &[v], &[]).unwrap().into();
            assert!(m.counters().live_bytes <= after_step);
        }
        m.persist(v.as_gc().unwrap())
    });
    assert!(h.counters().peak_bytes <= full);
    drop(keep);
}

/// The mutator reads an object out of a live slot into a local, then
/// clears the slot: the object's only counted reference left is from a
/// dying list. Dismantling the list from allocation must not free it.
#[test]
fn an_object_held_in_a_local_is_not_freed_by_allocation() {
    let mut h = heap(HeapConfig::default());
    let (head, holder) = h.mutate(|m| {
        let tail = m.alloc(2, &[], b"the tail: still here").unwrap();
        let holder = m.alloc(1, &[tail.into()], &[]).unwrap();
        (
            dying_list_ending_in(m, 100_000, tail.into()),
            m.persist(holder),
        )
    });
    h.collect(CollectKind::Full);
    drop(head);
    h.collect(CollectKind::Minor);
    h.mutate(|m| {
        let holder = m.fetch(&holder);
        let tail = holder.get(0).as_gc().unwrap();
        m.set(holder, 0, Value::NIL);
        for _ in 0..200_000 {
            m.alloc(2, &[], b"a newer object !!!!!").unwrap();
        }
        assert_eq!(tail.bytes(), b"the tail: still here");
    });
    h.collect(CollectKind::Full);
}

/// The same through a weak handle: upgraded into a local, the handle
/// dropped, the object's last counted reference from a dying list.
#[test]
fn an_upgraded_object_is_not_freed_by_allocation() {
    let mut h = heap(HeapConfig::default());
    let (head, weak) = h.mutate(|m| {
        let tail = m.alloc(2, &[], b"the tail: still here").unwrap();
        (
            dying_list_ending_in(m, 100_000, tail.into()),
            m.downgrade(tail),
        )
    });
    h.collect(CollectKind::Full);
    drop(head);
    h.collect(CollectKind::Minor);
    h.mutate(|m| {
        let tail = m.upgrade(&weak).expect("the list still holds it");
        drop(weak);
        for _ in 0..200_000 {
            m.alloc(2, &[], b"a newer object !!!!!").unwrap();
        }
        assert_eq!(tail.bytes(), b"the tail: still here");
    });
}

/// Garbage is freed at the next safepoint by counting alone, without a
/// cycle pass.
#[test]
fn acyclic_garbage_needs_no_cycle_pass() {
    let mut h = heap(HeapConfig::default());
    let events = Rc::new(RefCell::new(Vec::<GcEvent>::new()));
    let sink = Rc::clone(&events);
    h.set_event_hook(move |e| sink.borrow_mut().push(*e));
    h.mutate(|m| {
        for _ in 0..1000 {
            let leaf = m.alloc(2, &[], b"x").unwrap();
            m.alloc(1, &[leaf.into()], &[]).unwrap();
        }
    });
    h.mutate(|_| {});
    assert_eq!(h.counters().live_bytes, 0);
    let ev = events.borrow();
    assert!(ev.iter().all(|e| e.phase == Phase::Free), "{ev:?}");
    assert!(
        ev.iter().any(|e| e.visited == 2000),
        "one free pause freed all 2000 objects"
    );
}

/// A cycle referenced only from the root stack survives while it is there,
/// and is found once it is popped (a vanished stack reference is a
/// decrement the counts never saw).
#[test]
fn cycle_held_only_by_the_root_stack() {
    let mut h = heap(HeapConfig::default());
    let weak = h.mutate(|m| {
        let a = m.alloc_filled(1, 1, Value::NIL, &[]).unwrap();
        let b = m.alloc(1, &[a.into()], &[]).unwrap();
        m.set(a, 0, b.into());
        m.stack_push(a.into());
        m.downgrade(b)
    });
    for _ in 0..3 {
        h.collect(CollectKind::Full);
        h.mutate(|m| assert!(m.upgrade(&weak).is_some()));
    }
    h.mutate(|m| {
        m.stack_pop();
    });
    h.collect(CollectKind::Full);
    h.mutate(|m| assert!(m.upgrade(&weak).is_none()));
    assert_eq!(h.counters().live_bytes, 0);
}

/// A young ring that points into an old object, which points back: the
/// cycle spans both generations and is still found.
#[test]
fn cycle_through_old_and_young_objects() {
    let mut h = heap(HeapConfig::default());
    let root = h.mutate(|m| m.persist(m.alloc_filled(1, 2, Value::NIL, &[]).unwrap()));
    h.collect(CollectKind::Full); // `root`'s object is old now
    let weak = h.mutate(|m| {
        let old = m.fetch(&root);
        let young = m.alloc(1, &[old.into()], &[]).unwrap();
        m.set(old, 0, young.into());
        m.downgrade(young)
    });
    h.collect(CollectKind::Full);
    h.mutate(|m| assert!(m.upgrade(&weak).is_some()));
    drop(root);
    h.collect(CollectKind::Full);
    h.mutate(|m| assert!(m.upgrade(&weak).is_none()));
    assert_eq!(h.counters().live_bytes, 0);
}

/// Old cycles dropped all at once make many candidates; ordinary
/// safepoints process them in slices of bounded work, paced by
/// allocation, until the backlog is gone.
#[test]
fn candidate_passes_are_sliced() {
    let rings = 40_000;
    let mut h = heap(HeapConfig::default().with_cycle_threshold(1000));
    let events = Rc::new(RefCell::new(Vec::<GcEvent>::new()));
    let sink = Rc::clone(&events);
    h.set_event_hook(move |e| sink.borrow_mut().push(*e));
    let table = h.mutate(|m| {
        let t = m.alloc_filled(1, rings, Value::NIL, &[]).unwrap();
        for i in 0..rings {
            let nodes: Vec<_> = (0..4)
                .map(|_| m.alloc_filled(1, 2, Value::NIL, &[]).unwrap())
                .collect();
            for k in 0..4 {
                m.set(nodes[k], 0, nodes[(k + 1) % 4].into());
                m.set(nodes[k], 1, nodes[(k + 3) % 4].into());
            }
            m.set(t, i, nodes[0].into());
        }
        m.persist(t)
    });
    h.collect(CollectKind::Full);
    let with_rings = h.counters().live_bytes;
    events.borrow_mut().clear();
    // Drop every ring: each head is decremented to a non-zero count.
    h.mutate(|m| {
        let t = m.fetch(&table);
        for i in 0..rings {
            m.set(t, i, Value::NIL);
        }
    });
    // The mutator goes on allocating (acyclic garbage); passes are paced by
    // allocation, so the backlog drains slice by slice.
    for _ in 0..200 {
        h.mutate(|m| {
            for _ in 0..4096 {
                m.alloc(2, &[], &[0; 40]).unwrap();
            }
        });
    }
    let ev = events.borrow();
    let passes: Vec<&GcEvent> = ev.iter().filter(|e| e.phase == Phase::Cycle).collect();
    assert!(passes.len() >= 3, "{} cycle passes", passes.len());
    for p in &passes {
        // A slice stops taking roots once it has marked SLICE_VISITS
        // objects; the last root adds at most one ring.
        assert!(p.visited <= (SLICE_VISITS + 4) as u64, "{p}");
        assert!(p.freed > 0 && p.roots > 0, "{p}");
    }
    drop(ev);
    assert!(
        h.counters().live_bytes < with_rings / 10,
        "the rings were reclaimed by ordinary safepoints"
    );
    drop(table);
    h.collect(CollectKind::Full);
    assert_eq!(h.counters().live_bytes, 0);
}

/// Freed cells are reused: churning garbage does not grow the heap.
#[test]
fn freed_cells_are_reused() {
    let mut h = heap(HeapConfig::default());
    let mut peak = 0;
    for round in 0..50 {
        h.mutate(|m| {
            for _ in 0..10_000 {
                let a = m.alloc_filled(1, 2, Value::NIL, &[]).unwrap();
                let b = m.alloc(1, &[a.into(), a.into()], &[]).unwrap();
                m.set(a, 0, b.into()); // a cycle, half the time kept alive a while
            }
        });
        if round == 5 {
            peak = h.counters().peak_bytes;
        }
    }
    h.collect(CollectKind::Full);
    assert_eq!(h.counters().live_bytes, 0);
    assert!(
        h.counters().peak_bytes <= peak * 2,
        "peak grew from {peak} to {}",
        h.counters().peak_bytes
    );
}

/// An old object that drops to zero and gets a reference back inside one
/// `mutate`, from an object it then forms a garbage cycle with, is still
/// found by a full collection.
#[test]
fn cycle_formed_after_a_drop_to_zero() {
    let mut h = heap(HeapConfig::default());
    let p = h.mutate(|m| {
        let o = m.alloc_filled(1, 1, Value::NIL, &[]).unwrap();
        m.persist(m.alloc(1, &[o.into()], &[]).unwrap())
    });
    h.collect(CollectKind::Full);
    let w = h.mutate(|m| {
        let holder = m.fetch(&p);
        let o = holder.get(0).as_gc().unwrap();
        m.set(holder, 0, Value::NIL); // o: count 0, in the ZCT
        let y = m.alloc(1, &[o.into()], &[]).unwrap(); // o: count 1 again
        m.set(o, 0, y.into()); // o <-> y, unreachable
        m.downgrade(o)
    });
    h.collect(CollectKind::Full);
    h.mutate(|m| assert!(m.upgrade(&w).is_none(), "the cycle leaked"));
    drop(p);
    h.collect(CollectKind::Full);
    assert_eq!(h.counters().live_bytes, 0);
}

/// A candidate that then gets a reference from a store made through a
/// mutator local (here: into its own slot) stays a candidate: the local is
/// not counted, so its death decrements nothing.
#[test]
fn candidate_incremented_through_a_local_is_still_examined() {
    let mut h = heap(HeapConfig::default());
    let holder = h.mutate(|m| {
        let s = m.alloc_filled(1, 1, Value::NIL, &[]).unwrap();
        m.persist(m.alloc(1, &[s.into()], &[]).unwrap())
    });
    h.collect(CollectKind::Full); // s is old
    let w = h.mutate(|m| {
        let hd = m.fetch(&holder);
        let s = hd.get(0).as_gc().unwrap();
        m.set(s, 0, s.into()); // s: count 2
        m.set(hd, 0, Value::NIL); // s: count 1, a candidate
        m.set(s, 0, s.into()); // overwrite with itself: +1 then -1
        m.downgrade(s)
    });
    h.collect(CollectKind::Full);
    h.mutate(|m| assert!(m.upgrade(&w).is_none(), "the self-loop leaked"));
}

/// An object the root stack holds while it is still in the ZCT keeps
/// others alive through its slots; later it leaves the stack and closes a garbage cycle through an
/// old object. Both what it kept alive and the object itself must be
/// looked at again.
#[test]
fn cycle_closed_by_an_object_that_left_the_stack() {
    let mut h = heap(HeapConfig::default().with_cycle_threshold(1));
    let w = h.mutate(|m| {
        let a = m.alloc_filled(1, 3, Value::NIL, &[]).unwrap(); // 81
        let b = m.alloc(1, &[a.into(), a.into(), a.into()], &[]).unwrap(); // 82
        m.set(b, 0, b.into());
        let c = m.alloc(1, &[b.into(), Value::NIL], &[]).unwrap(); // 84
        m.stack_push(c.into());
        m.downgrade(c)
    });
    h.collect(CollectKind::Full);
    h.mutate(|m| {
        let c = m.stack_pop().unwrap().as_gc().unwrap();
        let b = c.get(0).as_gc().unwrap();
        let a = b.get(1).as_gc().unwrap();
        m.alloc(1, &[c.into()], &[]).unwrap(); // 85, garbage
        m.set(a, 1, c.into()); // closes c -> b -> a -> c
    });
    h.collect(CollectKind::Full);
    h.mutate(|m| assert!(m.upgrade(&w).is_none(), "the cycle leaked"));
    assert_eq!(h.counters().live_bytes, 0);
}

/// Dying objects that were candidates (purple, buffered) when they died
/// leave the buffer with their colour: the verifier, which runs after
/// every collection here, checks the dying backlog a bounded step leaves.
#[test]
fn dying_candidates_pass_the_verifier() {
    let mut h = heap(HeapConfig::default());
    let (head, holder) = h.mutate(|m| {
        let holder = m.alloc_filled(1, 1, Value::NIL, &[]).unwrap();
        (
            dying_list_ending_in(m, 50_000, Value::NIL),
            m.persist(holder),
        )
    });
    h.collect(CollectKind::Full);
    h.mutate(|m| {
        // Every node is decremented to a non-zero count: a candidate.
        let holder = m.fetch(&holder);
        let mut v = m.fetch(&head).into();
        while let Some(n) = Value::as_gc(v) {
            m.set(holder, 0, v);
            m.set(holder, 0, Value::NIL);
            v = n.get(0);
        }
    });
    drop(head);
    h.collect(CollectKind::Minor);
    h.collect(CollectKind::Minor);
    h.collect(CollectKind::Full);
    assert!(h.counters().live_bytes > 0);
}
