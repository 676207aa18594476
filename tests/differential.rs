//! Differential property test: random mutator programs (allocation of
//! random shapes and sizes, slot writes, persistent roots and weak handles
//! made and dropped, the root stack, forced collections of each kind) run
//! on a plain Rust model of the object graph and on every backend, normally
//! and in stress mode, with every backend's heap verifier on. After every
//! safepoint the reachable graph, the weak handles and the identity hashes
//! must agree with the model ([`gc_core::differential`]).
//!
//! proptest generates the programs and, on a failure, shrinks the program
//! to a minimal one, which it prints (operations name objects by index
//! modulo the reachable count, so every sub-program is valid).
//!
//! `GC_DIFF_CASES` sets the number of programs (default 256; each runs on
//! every backend, normally and in stress mode). `GC_DIFF_SEEDS=N` also
//! runs the seeded generator of the `gcbench soak` command for N seeds.
//!
//! History: the seeded first version found two cycle leaks in gc-refcount
//! on its first run (see that crate's docs).

use gc_core::differential::{self, Op, Pick};
use gc_runtime::{CollectKind, Collector, Heap, HeapConfig, HeapVisitor, Strategy as Backend};
use proptest::prelude::*;

struct Program<'a>(&'a [Op]);

impl HeapVisitor for Program<'_> {
    type Output = Result<differential::RunStats, String>;
    fn visit<C: Collector>(self, mut heap: Heap<C>) -> Self::Output {
        differential::run(&mut heap, self.0)
    }
}

/// Runs `ops` on every backend in both modes; the first failure.
fn check(ops: &[Op]) -> Result<(), String> {
    for stress in [false, true] {
        for s in Backend::ALL {
            let config = HeapConfig::default().with_stress(stress).with_verify(true);
            s.run(config, Program(ops))
                .expect("valid configuration")
                .map_err(|e| format!("{s} (stress {stress}): {e}"))?;
        }
    }
    Ok(())
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        1 => Just(Pick::Nil),
        1 => any::<u16>().prop_map(Pick::Num),
        2 => any::<u16>().prop_map(Pick::Obj),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (prop::collection::vec(pick(), 0..4), any::<u8>())
            .prop_map(|(slots, extra)| Op::Alloc { slots, extra }),
        // Wide objects now and then (slot counts past a few hundred).
        1 => (1usize..600, any::<u8>()).prop_map(|(n, extra)| Op::Alloc {
            slots: vec![Pick::Obj(n as u16); n],
            extra
        }),
        5 => (any::<u16>(), any::<u8>(), pick())
            .prop_map(|(obj, slot, val)| Op::Set { obj, slot, val }),
        2 => any::<u16>().prop_map(Op::Root),
        2 => any::<u16>().prop_map(Op::Unroot),
        2 => any::<u16>().prop_map(Op::Weak),
        2 => pick().prop_map(Op::Push),
        1 => Just(Op::Pop),
        3 => prop_oneof![
            Just(None),
            Just(Some(CollectKind::Minor)),
            Just(Some(CollectKind::Major)),
            Just(Some(CollectKind::Full)),
        ]
        .prop_map(Op::End),
    ]
}

fn cases() -> u32 {
    std::env::var("GC_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn backends_agree_with_the_model(ops in prop::collection::vec(op(), 0..400)) {
        if let Err(e) = check(&ops) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// The seeded generator the soak command uses, for `GC_DIFF_SEEDS` seeds
/// (default 20: longer programs than proptest's).
#[test]
fn seeded_programs_agree_with_the_model() {
    let seeds: u64 = std::env::var("GC_DIFF_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    for seed in 1..=seeds {
        let ops = differential::random_program(seed, 120);
        if let Err(e) = check(&ops) {
            panic!("seed {seed}: {e}");
        }
    }
}

/// The checker can fail: a heap that holds an object the model does not
/// know about is reported (a test that cannot fail is worth nothing).
#[test]
fn the_checker_reports_a_disagreement() {
    struct Stray;
    impl HeapVisitor for Stray {
        type Output = Result<differential::RunStats, String>;
        fn visit<C: Collector>(self, mut heap: Heap<C>) -> Self::Output {
            heap.mutate(|m| {
                let g = m.alloc(1, &[], &0u64.to_le_bytes()).unwrap();
                m.stack_push(g.into());
            });
            differential::run(&mut heap, &[Op::End(None)])
        }
    }
    for s in Backend::ALL {
        let r = s.run(HeapConfig::default(), Stray).unwrap();
        let e = r.expect_err("the stray object must be reported");
        assert!(e.contains("dead or unknown"), "{s}: {e}");
    }
}
