//! `gcbench soak`: runs the Lox GC test programs and the differential
//! generator's programs on each gc-core backend, in stress mode with the
//! heap verifier on, for a fixed time per backend, and reports the runs,
//! the collections, the peak memory and every failure.
//!
//! A failure is a Lox program whose output differs from its `// expect:`
//! comments or that does not end normally, a differential program whose
//! heap disagrees with the model, or a panic (the verifiers and the
//! collectors' assertions panic); the soak goes on after a failure and
//! exits with status 1 at the end. `nogc` never frees, so it runs only the
//! differential programs (bounded in size), not the Lox churn.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use gc_runtime::gc_core::differential;
use gc_runtime::{Collector, Heap, HeapConfig, HeapVisitor, Strategy};

use crate::metrics;

const LOX: [(&str, &str); 6] = [
    (
        "gc/cycles.lox",
        include_str!("../../lox/tests/lox/gc/cycles.lox"),
    ),
    (
        "gc/closures_escape.lox",
        include_str!("../../lox/tests/lox/gc/closures_escape.lox"),
    ),
    (
        "gc/strings.lox",
        include_str!("../../lox/tests/lox/gc/strings.lox"),
    ),
    (
        "gc/live_list.lox",
        include_str!("../../lox/tests/lox/gc/live_list.lox"),
    ),
    (
        "language/classes.lox",
        include_str!("../../lox/tests/lox/language/classes.lox"),
    ),
    (
        "language/closures.lox",
        include_str!("../../lox/tests/lox/language/closures.lox"),
    ),
];

/// What one backend's soak did.
#[derive(Debug, Default, serde::Serialize)]
pub struct SoakReport {
    pub backend: String,
    pub seconds: f64,
    pub lox_runs: u64,
    pub differential_runs: u64,
    pub collections: u64,
    pub safepoints: u64,
    pub peak_rss_bytes: u64,
    pub failures: Vec<String>,
}

struct LoxRun<'a>(&'a str);

impl HeapVisitor for LoxRun<'_> {
    type Output = (lox::Outcome, String, u64, u64);
    fn visit<C: Collector>(self, heap: Heap<C>) -> Self::Output {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut vm = match lox::Vm::new(heap, &mut out, &mut err) {
            Ok(vm) => vm,
            Err(e) => return (lox::Outcome::RuntimeError, e.to_string(), 0, 0),
        };
        let outcome = vm.interpret(self.0);
        let stats = vm.heap().stats();
        drop(vm);
        (
            outcome,
            String::from_utf8_lossy(&out).into_owned(),
            stats.collections,
            stats.safepoints,
        )
    }
}

struct DiffRun(Vec<differential::Op>);

impl HeapVisitor for DiffRun {
    type Output = Result<(u64, u64), String>;
    fn visit<C: Collector>(self, mut heap: Heap<C>) -> Self::Output {
        differential::run(&mut heap, &self.0)?;
        let s = heap.stats();
        Ok((s.collections, s.safepoints))
    }
}

fn expected(src: &str) -> String {
    src.lines()
        .filter_map(|l| l.split_once("// expect: ").map(|(_, e)| format!("{e}\n")))
        .collect()
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// Soaks `strategy` for `time`.
pub fn soak(strategy: Strategy, time: Duration, seed: u64) -> SoakReport {
    let mut r = SoakReport {
        backend: strategy.name().into(),
        ..SoakReport::default()
    };
    let config = || HeapConfig::default().with_stress(true).with_verify(true);
    let start = Instant::now();
    let mut i = 0u64;
    while start.elapsed() < time {
        let lox_turn = strategy != Strategy::NoGc && i.is_multiple_of(2);
        if lox_turn {
            let (name, src) = LOX[(i / 2) as usize % LOX.len()];
            match catch_unwind(AssertUnwindSafe(|| strategy.run(config(), LoxRun(src)))) {
                Ok(Ok((outcome, out, collections, safepoints))) => {
                    r.collections += collections;
                    r.safepoints += safepoints;
                    if outcome != lox::Outcome::Ok || out != expected(src) {
                        r.failures
                            .push(format!("{name}: {outcome:?}, output {out:?}"));
                    }
                }
                Ok(Err(e)) => r.failures.push(format!("{name}: {e}")),
                Err(p) => r.failures.push(format!("{name}: panic: {}", panic_text(p))),
            }
            r.lox_runs += 1;
        } else {
            let s = seed.wrapping_add(i);
            let ops = differential::random_program(s, 120);
            match catch_unwind(AssertUnwindSafe(|| strategy.run(config(), DiffRun(ops)))) {
                Ok(Ok(Ok((collections, safepoints)))) => {
                    r.collections += collections;
                    r.safepoints += safepoints;
                }
                Ok(Ok(Err(e))) => r.failures.push(format!("differential seed {s}: {e}")),
                Ok(Err(e)) => r.failures.push(format!("differential seed {s}: {e}")),
                Err(p) => r
                    .failures
                    .push(format!("differential seed {s}: panic: {}", panic_text(p))),
            }
            r.differential_runs += 1;
        }
        r.peak_rss_bytes = r.peak_rss_bytes.max(metrics::current_rss());
        i += 1;
    }
    r.seconds = start.elapsed().as_secs_f64();
    r
}
