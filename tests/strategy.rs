//! Cross-strategy tests of the facade: naming, selection at run time, and
//! the conformance suite once more through `Strategy::run` for every
//! backend this build has.

use gc_runtime::{
    CollectKind, Collector, Heap, HeapConfig, HeapVisitor, Strategy, StrategyError, Value,
};

#[test]
fn names_round_trip() {
    for s in Strategy::ALL {
        assert_eq!(s.name().parse::<Strategy>(), Ok(s));
        assert_eq!(s.to_string(), s.name());
    }
    let names: Vec<_> = Strategy::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["refcount", "generational", "tricolor", "nogc"]);
}

#[test]
fn unknown_names_are_clear_errors() {
    for bad in ["", "rc", "NoGc", "mark-sweep", "refcount "] {
        let err = bad.parse::<Strategy>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("'{bad}'")), "{msg}");
        assert!(
            msg.contains("refcount, generational, tricolor, nogc"),
            "{msg}"
        );
    }
}

/// Allocates a list, collects, and returns what it read back and the name.
struct Probe;

impl HeapVisitor for Probe {
    type Output = (&'static str, f64);
    fn visit<C: Collector>(self, mut heap: Heap<C>) -> Self::Output {
        let root = heap.mutate(|m| {
            let mut head = Value::NIL;
            for i in 0..1000 {
                head = m
                    .alloc(1, &[Value::number(i as f64), head], &[])
                    .unwrap()
                    .into();
            }
            m.persist(head.as_gc().unwrap())
        });
        heap.collect(CollectKind::Full);
        let sum = heap.mutate(|m| {
            let (mut v, mut sum): (Value<'_>, f64) = (m.fetch(&root).into(), 0.0);
            while let Some(g) = v.as_gc() {
                sum += g.get(0).as_number().unwrap();
                v = g.get(1);
            }
            sum
        });
        (C::NAME, sum)
    }
}

#[test]
fn every_strategy_runs_the_same_program() {
    let mut ran = 0;
    for s in Strategy::ALL {
        let (name, sum) = s.run(HeapConfig::default(), Probe).unwrap();
        assert_eq!(name, s.name());
        assert_eq!(sum, 499_500.0);
        ran += 1;
    }
    assert_eq!(ran, Strategy::ALL.len());
}

#[test]
fn misconfigured_is_an_error() {
    let bad = HeapConfig::default().with_marker_threads(0);
    match Strategy::NoGc.run(bad, Probe) {
        Err(StrategyError::Config(e)) => assert_eq!(e.field, "marker_threads"),
        other => panic!("expected a config error, got {other:?}"),
    }
}
