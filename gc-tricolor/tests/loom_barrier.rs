//! loom models of the write barrier and the root snapshot: the mutator
//! hides a white object from a running marker.
//!
//! Models (numbers as in the crate's issue): (1) the only reference to a
//! white object moves into an already-scanned object; (2) a reference is
//! loaded into a local, deleted from the heap and kept on the root stack;
//! (3) the first writes after the cycle starts race the markers woken by
//! the root snapshot; (5) termination with a non-empty barrier buffer.
#![cfg(loom)]

mod loom_common;

use gc_core::{CollectKind, Value};
use gc_tricolor::faults::Fault;
use loom_common::{LEAF, NODE, broken, heap, model};

/// Roots `a = [w]` and `b = [nil]`; a cycle starts; the mutator moves `w`
/// from `a` to `b` while the marker scans `a` and `b` in some order.
fn move_only_reference() {
    let mut h = heap(1);
    let (a, b) = h.mutate(|m| {
        let w = m.alloc(LEAF, &[], b"w").unwrap();
        let a = m.alloc(NODE, &[w.into()], &[]).unwrap();
        let b = m.alloc(NODE, &[Value::NIL], &[]).unwrap();
        // Root order is snapshot order: the marker takes b before a, so
        // the bad interleaving (b scanned, then the move, then a) exists.
        let pb = m.persist(b);
        (m.persist(a), pb)
    });
    h.collect(CollectKind::Minor); // starts a cycle: a and b grey, w white
    h.mutate(|m| {
        let (a, b) = (m.fetch(&a), m.fetch(&b));
        let w = a.get(0);
        m.set(b, 0, w);
        m.set(a, 0, Value::NIL);
    });
    h.collect(CollectKind::Full);
    h.mutate(|m| assert_eq!(m.fetch(&b).get(0).as_gc().unwrap().bytes(), b"w"));
}

#[test]
fn m1_move_into_scanned_object() {
    model(move_only_reference);
}

#[test]
#[should_panic(expected = "not allocated")]
fn m1_broken_no_deletion_barrier() {
    broken(Fault::NoDeletionBarrier, move_only_reference);
}

#[test]
#[should_panic(expected = "not allocated")]
fn m5_broken_termination_without_buffer_flush() {
    broken(Fault::NoBufferFlush, move_only_reference);
}

/// `w` is loaded into a local, deleted from `a`, and kept only on the
/// root stack (which has no barrier).
fn local_then_deleted() {
    let mut h = heap(1);
    let a = h.mutate(|m| {
        let w = m.alloc(LEAF, &[], b"w").unwrap();
        m.persist(m.alloc(NODE, &[w.into()], &[]).unwrap())
    });
    h.collect(CollectKind::Minor);
    h.mutate(|m| {
        let a = m.fetch(&a);
        let w = a.get(0);
        m.set(a, 0, Value::NIL);
        m.stack_push(w);
    });
    h.collect(CollectKind::Full);
    h.mutate(|m| assert_eq!(m.stack_get(0).as_gc().unwrap().bytes(), b"w"));
}

#[test]
fn m2_local_then_deleted() {
    model(local_then_deleted);
}

#[test]
#[should_panic(expected = "not allocated")]
fn m2_broken_no_deletion_barrier() {
    broken(Fault::NoDeletionBarrier, local_then_deleted);
}

/// `w` is only on the root stack when the cycle starts; the mutator's
/// first action is to move it into `a`, which the marker may already have
/// scanned.
fn first_write_after_snapshot() {
    let mut h = heap(1);
    let a = h.mutate(|m| {
        let w = m.alloc(LEAF, &[], b"w").unwrap();
        m.stack_push(w.into());
        m.persist(m.alloc(NODE, &[Value::NIL], &[]).unwrap())
    });
    h.collect(CollectKind::Minor);
    h.mutate(|m| {
        let w = m.stack_pop().unwrap();
        m.set(m.fetch(&a), 0, w);
    });
    h.collect(CollectKind::Full);
    h.mutate(|m| assert_eq!(m.fetch(&a).get(0).as_gc().unwrap().bytes(), b"w"));
}

#[test]
fn m3_first_write_races_the_snapshot() {
    model(first_write_after_snapshot);
}

#[test]
#[should_panic(expected = "not allocated")]
fn m3_broken_snapshot_without_root_stack() {
    broken(Fault::NoStackSnapshot, first_write_after_snapshot);
}
