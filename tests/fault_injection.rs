//! Allocation-failure injection on every backend: a program (the
//! differential generator's, so the model checks the heap after every
//! safepoint) has its k-th allocation fail, for every k. The error must
//! reach the program, the heap must stay consistent (the backend's
//! verifier runs after every collection and once more at the end), and
//! once the roots are dropped a full collection must leave nothing live.

use gc_core::differential::{self, RunStats};
use gc_runtime::{CollectKind, Collector, Heap, HeapConfig, HeapVisitor, Strategy};

struct FailAt {
    program: Vec<differential::Op>,
    /// 0: no failure.
    k: u64,
}

impl HeapVisitor for FailAt {
    type Output = Result<(RunStats, u64), String>;
    fn visit<C: Collector>(self, mut heap: Heap<C>) -> Self::Output {
        heap.inject_alloc_failure(self.k);
        let stats = differential::run(&mut heap, &self.program)?;
        heap.verify()?;
        // Drop every root: `run`'s persistent roots and weak handles are
        // gone with it; clear the root stack.
        heap.mutate(|m| m.stack_truncate(0));
        heap.collect(CollectKind::Full);
        heap.verify()?;
        Ok((stats, heap.counters().live_bytes))
    }
}

#[test]
fn every_allocation_can_fail_on_every_backend() {
    let program = differential::random_program(7, 25);
    for stress in [false, true] {
        for s in Strategy::ALL {
            let config = || HeapConfig::default().with_stress(stress).with_verify(true);
            let run = |k| {
                s.run(
                    config(),
                    FailAt {
                        program: program.clone(),
                        k,
                    },
                )
                .expect("valid configuration")
                .unwrap_or_else(|e| panic!("{s} stress {stress} k {k}: {e}"))
            };
            let (clean, _) = run(0);
            assert_eq!(clean.alloc_errors, 0);
            assert!(clean.allocated > 50, "the program allocates too little");
            for k in 1..=clean.allocated {
                let (stats, live) = run(k);
                assert_eq!(
                    stats.alloc_errors, 1,
                    "{s} k {k}: the error did not reach the program"
                );
                assert_eq!(stats.allocated, clean.allocated - 1, "{s} k {k}");
                if s != Strategy::NoGc {
                    assert_eq!(live, 0, "{s} stress {stress} k {k}: {live} bytes leaked");
                }
            }
        }
    }
}
