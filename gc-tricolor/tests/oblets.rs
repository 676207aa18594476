//! Big objects are marked in oblets (`src/grey.rs`): every slot of a big
//! object is scanned even when it is split, while the mutator writes its
//! slots between collection steps.
#![cfg(not(loom))]

use gc_core::stats::Phase;
use gc_core::{CollectKind, Heap, HeapConfig, Value};
use gc_tricolor::Tricolor;

const LEAF: u16 = 1;
const ARRAY: u16 = 2;
/// Many oblets of 16,384 slots.
const LEN: usize = 1_000_000;

fn heap(markers: usize) -> Heap<Tricolor> {
    Heap::new(
        HeapConfig::default()
            .with_marker_threads(markers)
            .with_verify(true),
    )
    .expect("valid configuration")
}

/// Every slot of the array holds a leaf whose number is one of `0..LEN`,
/// each number once.
fn check_all_leaves(h: &mut Heap<Tricolor>, array: &gc_core::Persistent) {
    let mut seen = vec![false; LEN];
    h.mutate(|m| {
        let a = m.fetch(array);
        assert_eq!(a.len(), LEN);
        for i in 0..LEN {
            let leaf = a.get(i).as_gc().expect("every slot holds a leaf");
            let n = leaf.get(0).as_number().expect("a leaf holds its number") as usize;
            assert!(!seen[n], "leaf {n} twice");
            seen[n] = true;
        }
    });
    assert!(seen.into_iter().all(|s| s));
}

/// A 1,000,000-slot array of leaves survives cycles in which the mutator,
/// between safepoints, swaps slots of far-apart oblets (moving the only
/// references from oblets not yet scanned into oblets already scanned, and
/// back) and replaces leaves with fresh ones holding the same numbers.
fn big_array_survives(markers: usize) {
    let mut h = heap(markers);
    let terminations = std::rc::Rc::new(std::cell::Cell::new(0));
    let t = terminations.clone();
    h.set_event_hook(move |e| {
        if e.phase == Phase::MarkTermination {
            t.set(t.get() + 1);
        }
    });
    let array = h.mutate(|m| {
        let a = m.alloc_filled(ARRAY, LEN, Value::NIL, &[]).unwrap();
        for i in 0..LEN {
            let leaf = m.alloc(LEAF, &[Value::number(i as f64)], &[]).unwrap();
            m.set(a, i, leaf.into());
        }
        m.persist(a)
    });
    for round in 0..3 {
        // Starts a cycle if none is running (the array grey, its leaves
        // white), or gives the running one a chance to terminate.
        h.collect(CollectKind::Minor);
        for step in 0..40 {
            h.mutate(|m| {
                let a = m.fetch(&array);
                for k in 0..2_000 {
                    let i = (step * 2_000 + k) * 7 % LEN;
                    let j = LEN - 1 - i;
                    let (x, y) = (a.get(i), a.get(j));
                    m.set(a, i, y);
                    m.set(a, j, x);
                    if k % 16 == round {
                        let n = a.get(i).as_gc().unwrap().get(0);
                        let fresh = m.alloc(LEAF, &[n], &[]).unwrap();
                        m.set(a, i, fresh.into());
                    }
                }
            });
        }
        check_all_leaves(&mut h, &array);
    }
    // Finish the cycle in progress and run a whole one: the verifier walks
    // the heap after each termination.
    h.collect(CollectKind::Full);
    assert!(terminations.get() >= 1);
    check_all_leaves(&mut h, &array);
    h.verify().unwrap();
}

#[test]
fn big_array_survives_split_marking_one_marker() {
    big_array_survives(1);
}

#[test]
fn big_array_survives_split_marking_two_markers() {
    big_array_survives(2);
}
