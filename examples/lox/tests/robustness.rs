//! No input crashes the compiler or the VM: every prefix of every test
//! program, pseudo-random token soup, and mutants of the test programs
//! give output, a compile error or a runtime error, never a panic or a
//! hang. A small heap limit, clox's frame limit and a step limit
//! bound what a random program can do; the generators are seeded, so the
//! programs are the same on every run (`LOX_FUZZ_CASES` raises the mutant
//! count for long runs).

use std::path::Path;

use gc_runtime::{Collector, Heap, HeapConfig, HeapVisitor, Strategy};
use lox::{Options, Outcome, Vm, run_source};

fn run(src: &str, s: Strategy) -> Outcome {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let config = HeapConfig::default()
        .with_heap_limit(8 << 20)
        .with_nursery_bytes(256 << 10);
    run_source(s, config, src, &mut out, &mut err, Options::default())
        .expect("a valid configuration")
}

struct Limited<'a>(&'a str);

impl HeapVisitor for Limited<'_> {
    type Output = Outcome;
    fn visit<C: Collector>(self, heap: Heap<C>) -> Outcome {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let Ok(mut vm) = Vm::new(heap, &mut out, &mut err) else {
            return Outcome::RuntimeError;
        };
        vm.set_step_limit(Some(200_000));
        vm.interpret(self.0)
    }
}

/// Mutants of every test program (deleted, duplicated and swapped ranges,
/// inserted tokens, replaced bytes) on every backend, with a small heap
/// and a step limit: each ends with output, a compile error or a
/// runtime error.
#[test]
fn mutated_programs() {
    const TOKENS: [&str; 12] = [
        "while (true) {",
        "}",
        "fun f(a) { return f(a); }",
        "var x = x;",
        "\"",
        "(",
        ")",
        "class A < A {}",
        "print this;",
        "return;",
        "for (;;) x = x + 1;",
        "super.x",
    ];
    let cases: usize = std::env::var("LOX_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    let programs = programs();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n.max(1) as u64) as usize
    };
    let mut outcomes = [0usize; 3];
    for i in 0..cases {
        let mut src = programs[i % programs.len()].clone().into_bytes();
        for _ in 0..1 + next(3) {
            let len = src.len();
            let (a, b) = {
                let a = next(len + 1);
                (a, (a + next(40)).min(len))
            };
            match next(5) {
                0 => {
                    src.drain(a..b);
                }
                1 => {
                    let dup: Vec<u8> = src[a..b].to_vec();
                    let at = next(src.len() + 1);
                    src.splice(at..at, dup);
                }
                2 => {
                    let t = TOKENS[next(TOKENS.len())].as_bytes();
                    src.splice(a..a, t.iter().copied());
                }
                3 if a < len => {
                    const BYTES: &[u8] = b"(){};.=+-*/!<>\"aZ09 \n";
                    src[a] = BYTES[next(BYTES.len())];
                }
                _ => {
                    let c = next(len + 1);
                    let (lo, hi) = (a.min(c), a.max(c));
                    src[lo..hi].reverse();
                }
            }
        }
        let src = String::from_utf8_lossy(&src).into_owned();
        for s in Strategy::ALL {
            let o = s
                .run(
                    HeapConfig::default().with_heap_limit(8 << 20),
                    Limited(&src),
                )
                .unwrap();
            outcomes[match o {
                Outcome::Ok => 0,
                Outcome::CompileError => 1,
                Outcome::RuntimeError | Outcome::OutputError => 2,
            }] += 1;
        }
    }
    // The mutants exercise all three endings.
    assert!(outcomes.iter().all(|&n| n > 0), "{outcomes:?}");
}

#[test]
fn step_limit_stops_an_endless_loop() {
    for s in Strategy::ALL {
        let o = s
            .run(HeapConfig::default(), Limited("while (true) {}"))
            .unwrap();
        assert_eq!(o, Outcome::RuntimeError, "{s}");
    }
}

fn programs() -> Vec<String> {
    let mut out = Vec::new();
    for d in ["language", "compile_error", "runtime_error"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/lox")
            .join(d);
        for e in std::fs::read_dir(dir).unwrap() {
            out.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
        }
    }
    out
}

#[test]
fn every_prefix_of_every_program() {
    for p in programs() {
        let cuts: Vec<usize> = (0..=p.len()).filter(|&i| p.is_char_boundary(i)).collect();
        let step = (cuts.len() / 60).max(1);
        for &i in cuts.iter().step_by(step) {
            for s in Strategy::ALL {
                run(&p[..i], s);
            }
        }
    }
}

#[test]
fn token_soup() {
    const WORDS: [&str; 40] = [
        "(", ")", "{", "}", ",", ".", "-", "+", ";", "/", "*", "!", "!=", "=", "==", ">", ">=",
        "<", "<=", "a", "b", "\"s\"", "1", "2.5", "and", "class", "else", "false", "for", "fun",
        "if", "nil", "or", "print", "return", "super", "this", "true", "var", "while",
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..3000 {
        let n = 1 + (next() % 40) as usize;
        let src: Vec<&str> = (0..n).map(|_| WORDS[(next() % 40) as usize]).collect();
        let src = src.join(" ");
        for s in Strategy::ALL {
            run(&src, s);
        }
    }
}

#[test]
fn bytes_that_are_not_lox() {
    for src in [
        "\u{0}\u{1}\u{7f}",
        "ü",
        "\"unterminated",
        "print \"a\" + ;",
        "{{{{{{{{",
        "}}}}",
        "fun",
        "class A < A {}",
    ] {
        for s in Strategy::ALL {
            run(src, s);
        }
    }
}
