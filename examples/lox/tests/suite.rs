//! The team's Lox test suite: every `.lox` file under `tests/lox/`, run
//! on every available collector, then once more on each in stress mode.
//!
//! Expectations live in comments, in the book's convention:
//! `// expect: OUTPUT` (one stdout line), `// expect runtime error: MSG`
//! (exit 70; stderr starts with MSG and the trace names the comment's
//! line), `// Error at 'x': MSG` or `// Error: MSG` (a compile error on the
//! comment's line), `// [line N] Error...` (on line N). Compile errors mean
//! exit 65 and no output.

use std::path::{Path, PathBuf};

use gc_runtime::{HeapConfig, Strategy};
use lox::{Options, Outcome, run_source};

struct Expect {
    out: Vec<String>,
    compile: Vec<String>,
    runtime: Option<(String, usize)>,
}

fn parse(src: &str) -> Expect {
    let mut e = Expect {
        out: Vec::new(),
        compile: Vec::new(),
        runtime: None,
    };
    for (i, line) in src.lines().enumerate() {
        let n = i + 1;
        if let Some(p) = line.find("// expect: ") {
            e.out.push(line[p + 11..].to_owned());
        } else if let Some(p) = line.find("// expect runtime error: ") {
            e.runtime = Some((line[p + 25..].to_owned(), n));
        } else if let Some(p) = line.find("// [line ") {
            e.compile.push(line[p + 3..].to_owned());
        } else if let Some(p) = line.find("// Error") {
            e.compile.push(format!("[line {n}] {}", &line[p + 3..]));
        }
    }
    e
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("test directory") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "lox") {
            out.push(p);
        }
    }
}

fn check(path: &Path, src: &str, strategy: Strategy, config: HeapConfig) -> Result<(), String> {
    let e = parse(src);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome = run_source(
        strategy,
        config,
        src,
        &mut out,
        &mut err,
        Options::default(),
    )
    .map_err(|e| e.to_string())?;
    let out = String::from_utf8_lossy(&out);
    let err = String::from_utf8_lossy(&err);
    let out_lines: Vec<&str> = out.lines().collect();
    let ctx = || {
        format!(
            "{} on {strategy}:\n--- stdout\n{out}--- stderr\n{err}",
            path.display()
        )
    };
    if !e.compile.is_empty() {
        if outcome != Outcome::CompileError {
            return Err(format!(
                "expected a compile error, got {outcome:?}\n{}",
                ctx()
            ));
        }
        let got: Vec<&str> = err.lines().collect();
        if got != e.compile {
            return Err(format!(
                "compile errors differ: expected {:?}\n{}",
                e.compile,
                ctx()
            ));
        }
        return Ok(());
    }
    if out_lines != e.out {
        return Err(format!("output differs: expected {:?}\n{}", e.out, ctx()));
    }
    match (&e.runtime, outcome) {
        (None, Outcome::Ok) => Ok(()),
        (Some((msg, line)), Outcome::RuntimeError) => {
            let mut lines = err.lines();
            if lines.next() != Some(msg.as_str()) {
                return Err(format!("expected runtime error {msg:?}\n{}", ctx()));
            }
            let trace = lines.next().unwrap_or("");
            if !trace.starts_with(&format!("[line {line}] in ")) {
                return Err(format!("expected a trace at line {line}\n{}", ctx()));
            }
            if !err.trim_end().ends_with("in script") {
                return Err(format!("the trace must end in the script\n{}", ctx()));
            }
            Ok(())
        }
        (_, o) => Err(format!("unexpected outcome {o:?}\n{}", ctx())),
    }
}

fn run_all(stress: bool) {
    let mut paths = Vec::new();
    files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lox"),
        &mut paths,
    );
    paths.sort();
    assert!(paths.len() >= 40, "only {} test programs", paths.len());
    let mut failures = Vec::new();
    let mut runs = 0;
    for p in &paths {
        let src = std::fs::read_to_string(p).expect("readable test");
        for s in Strategy::ALL {
            let config = HeapConfig::default()
                .with_stress(stress)
                .with_verify(stress);
            runs += 1;
            if let Err(msg) = check(p, &src, s, config) {
                failures.push(msg);
            }
        }
    }
    eprintln!("{runs} runs of {} programs", paths.len());
    assert!(
        failures.is_empty(),
        "{} failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn lox_suite_on_every_backend() {
    run_all(false);
}

#[test]
fn lox_suite_on_every_backend_in_stress_mode() {
    run_all(true);
}
