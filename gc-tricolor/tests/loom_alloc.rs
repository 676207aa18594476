//! loom models of allocation while the collector runs.
//!
//! (4) objects allocated during marking, and after termination but before
//! the lazy sweep reaches their span, survive; (7) an object allocated
//! during marking and stored into a grey object is published: a marker
//! that finds the pointer sees the object's cell allocated.
#![cfg(loom)]

mod loom_common;

use gc_core::{CollectKind, Value};
use gc_tricolor::faults::Fault;
use loom_common::{LEAF, NODE, broken, heap, model};

fn allocate_across_termination() {
    let mut h = heap(1);
    let a = h.mutate(|m| {
        // Garbage in the same span as the objects to come, so that the
        // span has something to sweep.
        m.alloc(LEAF, &[], b"g").unwrap();
        m.persist(m.alloc_filled(NODE, 2, Value::NIL, &[]).unwrap())
    });
    h.collect(CollectKind::Minor); // cycle starts
    h.mutate(|m| {
        let n1 = m.alloc(LEAF, &[], b"1").unwrap(); // during marking
        m.set(m.fetch(&a), 0, n1.into());
    });
    h.collect(CollectKind::Major); // terminates; the marker sweeps lazily
    h.mutate(|m| {
        let n2 = m.alloc(LEAF, &[], b"2").unwrap(); // before the sweep is done
        m.set(m.fetch(&a), 1, n2.into());
    });
    h.collect(CollectKind::Full);
    h.mutate(|m| {
        let a = m.fetch(&a);
        assert_eq!(a.get(0).as_gc().unwrap().bytes(), b"1");
        assert_eq!(a.get(1).as_gc().unwrap().bytes(), b"2");
    });
}

#[test]
fn m4_allocation_during_and_after_marking() {
    model(allocate_across_termination);
}

#[test]
#[should_panic(expected = "not allocated")]
fn m4_broken_allocate_white() {
    broken(Fault::AllocateWhite, allocate_across_termination);
}

#[test]
#[should_panic(expected = "not allocated")]
fn m4_broken_allocate_in_span_awaiting_sweep() {
    broken(Fault::KeepCacheAtTermination, allocate_across_termination);
}

fn publish_new_object() {
    let mut h = heap(1);
    let a = h.mutate(|m| m.persist(m.alloc(NODE, &[Value::NIL], &[]).unwrap()));
    h.collect(CollectKind::Minor); // a is grey
    h.mutate(|m| {
        let n = m.alloc(LEAF, &[], b"n").unwrap();
        m.set(m.fetch(&a), 0, n.into());
    });
    h.collect(CollectKind::Full);
    h.mutate(|m| assert_eq!(m.fetch(&a).get(0).as_gc().unwrap().bytes(), b"n"));
}

#[test]
fn m7_object_publication() {
    model(publish_new_object);
}

#[test]
#[should_panic(expected = "not allocated")]
fn m7_broken_relaxed_slot_store() {
    broken(Fault::RelaxedPublish, publish_new_object);
}
