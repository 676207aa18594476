//! loom models of the markers among themselves.
//!
//! (6) two markers (and the assisting mutator) shade the same objects: each
//! object is pushed once (the marked byte count is exact) and no mark bit
//! is lost (the verifier and the final check pass); marking terminates
//! only when no marker holds work.
#![cfg(loom)]

mod loom_common;

use std::cell::Cell;
use std::rc::Rc;

use gc_core::stats::Phase;
use gc_core::{CollectKind, Value};
use gc_tricolor::faults::Fault;
use loom_common::{LEAF, NODE, broken, heap, model};

/// Roots `r1 = [x, y]` and `r2 = [x, y]`: both markers may shade x and y
/// (which share a bitmap word) at once.
fn two_markers_shade_the_same_objects() {
    let mut h = heap(2);
    let marked = Rc::new(Cell::new(0));
    let sink = marked.clone();
    let log = Rc::new(std::cell::RefCell::new(Vec::new()));
    let log2 = log.clone();
    h.set_event_hook(move |e| {
        log2.borrow_mut().push(e.to_string());
        if e.phase == Phase::MarkTermination {
            sink.set(e.live_after)
        }
    });
    let (_r1, _r2) = h.mutate(|m| {
        let x = m.alloc(LEAF, &[], b"x").unwrap();
        let y = m.alloc(LEAF, &[], b"y").unwrap();
        let r1 = m.alloc(NODE, &[x.into(), y.into()], &[]).unwrap();
        let r2 = m.alloc(NODE, &[x.into(), y.into()], &[]).unwrap();
        (m.persist(r1), m.persist(r2))
    });
    h.collect(CollectKind::Major); // one whole cycle, nothing allocated in it
    h.collect(CollectKind::Full);
    // Nothing died: the marked bytes are exactly the live bytes.
    assert_eq!(
        marked.get(),
        h.counters().live_bytes,
        "an object was counted twice {:#?}",
        log.borrow()
    );
    h.mutate(|m| {
        let r1 = m.fetch(&_r1);
        assert_eq!(r1.get(0).as_gc().unwrap().bytes(), b"x");
        assert_eq!(r1.get(1).as_gc().unwrap().bytes(), b"y");
    });
}

#[test]
fn m6_two_markers_shade_once() {
    model(two_markers_shade_the_same_objects);
}

#[test]
#[should_panic(expected = "counted twice")]
fn m6_broken_racy_shade() {
    broken(Fault::RacyShade, two_markers_shade_the_same_objects);
}

/// A chain `root -> a -> b` marked by one marker: termination must wait
/// for the scan in flight.
fn terminate_after_scan() {
    let mut h = heap(1);
    let root = h.mutate(|m| {
        let b = m.alloc(LEAF, &[], b"b").unwrap();
        let a = m.alloc(NODE, &[b.into()], &[]).unwrap();
        m.persist(m.alloc(NODE, &[a.into(), Value::NIL], &[]).unwrap())
    });
    h.collect(CollectKind::Major);
    h.collect(CollectKind::Full);
    h.mutate(|m| {
        let a = m.fetch(&root).get(0).as_gc().unwrap();
        assert_eq!(a.get(0).as_gc().unwrap().bytes(), b"b");
    });
}

#[test]
fn m6_termination_waits_for_markers() {
    model(terminate_after_scan);
}

#[test]
#[should_panic(expected = "not allocated")]
fn m6_broken_termination_ignores_busy_markers() {
    broken(Fault::IgnoreBusyMarkers, terminate_after_scan);
}
