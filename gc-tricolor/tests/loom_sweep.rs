//! loom models of lazy sweeping.
//!
//! (8) the background sweep (an idle marker) races the mutator's
//! allocation, which sweeps on demand, and the start of the next cycle,
//! which must wait for sweeps in flight (no span swept twice, no mark on
//! an unswept span); (9) mark epochs: the marks of one cycle are consumed
//! by its sweep, so an object live in one cycle and dead in the next is
//! freed, and one live in both survives.
#![cfg(loom)]

mod loom_common;

use gc_core::{CollectKind, Value};
use gc_tricolor::faults::Fault;
use loom_common::{LEAF, NODE, broken, heap, model};

fn sweep_races_allocation_and_next_cycle() {
    let mut h = heap(1);
    let a = h.mutate(|m| {
        m.alloc(LEAF, &[], b"g").unwrap();
        m.persist(m.alloc_filled(NODE, 2, Value::NIL, &[]).unwrap())
    });
    h.collect(CollectKind::Major); // a whole cycle; the marker then sweeps
    h.mutate(|m| {
        let n = m.alloc(LEAF, &[], b"n").unwrap();
        m.set(m.fetch(&a), 0, n.into());
    });
    h.collect(CollectKind::Minor); // next cycle starts while sweeping may run
    h.collect(CollectKind::Full);
    h.mutate(|m| assert_eq!(m.fetch(&a).get(0).as_gc().unwrap().bytes(), b"n"));
}

#[test]
fn m8_lazy_sweep_races_allocation_and_next_cycle() {
    model(sweep_races_allocation_and_next_cycle);
}

#[test]
#[should_panic(expected = "has not been swept")]
fn m8_broken_next_cycle_does_not_wait_for_sweep() {
    broken(Fault::NoSweepWait, sweep_races_allocation_and_next_cycle);
}

fn mark_epochs() {
    let mut h = heap(1);
    let (a, weak) = h.mutate(|m| {
        let d = m.alloc(LEAF, &[], b"d").unwrap();
        let k = m.alloc(LEAF, &[], b"k").unwrap();
        let a = m.alloc(NODE, &[d.into(), k.into()], &[]).unwrap();
        (m.persist(a), m.downgrade(d))
    });
    h.collect(CollectKind::Major); // cycle 1: d and k live
    h.mutate(|m| m.set(m.fetch(&a), 0, Value::NIL)); // d dies
    h.collect(CollectKind::Full); // cycle 2 must not see cycle 1's marks
    h.mutate(|m| {
        assert!(
            m.upgrade(&weak).is_none(),
            "a dead object survived on a stale mark"
        );
        assert_eq!(m.fetch(&a).get(1).as_gc().unwrap().bytes(), b"k");
    });
}

#[test]
fn m9_mark_epoch_flip() {
    model(mark_epochs);
}

#[test]
#[should_panic(expected = "stale mark")]
fn m9_broken_marks_not_cleared() {
    broken(Fault::KeepMarks, mark_epochs);
}
