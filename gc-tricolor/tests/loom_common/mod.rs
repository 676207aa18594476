//! Helpers shared by the loom models (`tests/loom_*.rs`).
//!
//! Every model builds a real `Heap<Tricolor>` inside `loom::model`, so the
//! marker threads are loom threads and every atomic, lock and condition
//! variable of the collector is the shim's loom version. The checks at the
//! end of a model are the collector's own: the heap verifier (`verify` is
//! on: a reachable object in a free cell is an error) and the marker's
//! assertion that it never reaches an unallocated cell. A model passes if
//! no interleaving (up to `LOOM_MAX_PREEMPTIONS`) makes them fail.

#![allow(dead_code)]

use gc_core::{Heap, HeapConfig};
use gc_tricolor::Tricolor;
use gc_tricolor::faults::{self, Fault};

pub const LEAF: u16 = 1;
pub const NODE: u16 = 2;

/// A heap with `markers` marker threads and the verifier on.
pub fn heap(markers: usize) -> Heap<Tricolor> {
    Heap::new(
        HeapConfig::default()
            .with_marker_threads(markers)
            .with_verify(true),
    )
    .expect("valid configuration")
}

/// Explores `f` under loom (the preemption bound comes from
/// `LOOM_MAX_PREEMPTIONS`; unset, loom explores without a bound, which is
/// far too slow: CI sets 2).
pub fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    // A model runs a whole heap (creation, several safepoints, sweeping):
    // far more than loom's default of 1,000 branch points per execution.
    b.max_branches = 100_000;
    b.check(f);
}

/// The broken twin: `f` with `fault` switched on. Must panic.
pub fn broken(fault: Fault, f: impl Fn() + Sync + Send + 'static) {
    faults::inject(fault);
    model(f);
}
