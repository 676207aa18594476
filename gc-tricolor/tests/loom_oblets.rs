//! loom models of big objects marked in oblets (`src/grey.rs`; under loom
//! an oblet is two slots, so a four-slot object is split in two).
//!
//! (10) the mutator moves references between the two oblets of a grey
//! object while a marker scans them: the deletion barrier still covers
//! the oblet not yet scanned, and termination waits for the rest of the
//! object, which the marker requeues while it is busy.
#![cfg(loom)]

mod loom_common;

use gc_core::{CollectKind, Value};
use gc_tricolor::faults::Fault;
use loom_common::{LEAF, NODE, broken, heap, model};

/// Root `b = [x, nil, nil, y]` (oblets `[x, nil]` and `[nil, y]`); a
/// cycle starts; the mutator moves `y` into the first oblet and `x` into
/// the second while the marker scans them in some order.
fn swap_across_oblets() {
    let mut h = heap(1);
    let b = h.mutate(|m| {
        let x = m.alloc(LEAF, &[], b"x").unwrap();
        let y = m.alloc(LEAF, &[], b"y").unwrap();
        let slots = [x.into(), Value::NIL, Value::NIL, y.into()];
        m.persist(m.alloc(NODE, &slots, &[]).unwrap())
    });
    h.collect(CollectKind::Minor); // starts a cycle: b grey, x and y white
    h.mutate(|m| {
        let b = m.fetch(&b);
        let (x, y) = (b.get(0), b.get(3));
        m.set(b, 1, y);
        m.set(b, 3, Value::NIL);
        m.set(b, 2, x);
        m.set(b, 0, Value::NIL);
    });
    h.collect(CollectKind::Full);
    h.mutate(|m| {
        let b = m.fetch(&b);
        let leaves: Vec<&[u8]> = (1..3).map(|i| b.get(i).as_gc().unwrap().bytes()).collect();
        assert_eq!(leaves, [b"y", b"x"]);
    });
}

#[test]
fn m10_writes_across_oblets() {
    model(swap_across_oblets);
}

#[test]
#[should_panic(expected = "not allocated")]
fn m10_broken_no_deletion_barrier() {
    broken(Fault::NoDeletionBarrier, swap_across_oblets);
}

#[test]
#[should_panic(expected = "not allocated")]
fn m10_broken_rest_requeued_after_idle() {
    broken(Fault::RequeueAfterIdle, swap_across_oblets);
}
