//! No input crashes the compiler or the VM: every prefix of every test
//! program, and pseudo-random token soup, gives output, a compile error or
//! a runtime error, never a panic. A small heap limit and clox's frame
//! limit bound what a random program can do; the soup's generator is
//! seeded, so the programs are the same on every run (none of them loops
//! forever).

use std::path::Path;

use gc_runtime::{HeapConfig, Strategy};
use lox::{Options, run_source};

fn run(src: &str, s: Strategy) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let config = HeapConfig::default()
        .with_heap_limit(8 << 20)
        .with_nursery_bytes(256 << 10);
    run_source(s, config, src, &mut out, &mut err, Options::default())
        .expect("a valid configuration");
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
            for s in Strategy::available() {
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
        for s in Strategy::available() {
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
        for s in Strategy::available() {
            run(src, s);
        }
    }
}
