//! The `lox` binary's behaviour at its edges: output that cannot be
//! written, a script that is not UTF-8, and files with more syntax errors
//! than are worth listing.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A script file for this test, written under the target directory.
fn script(name: &str, source: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lox-cli");
    std::fs::create_dir_all(&dir).expect("create the scripts' directory");
    let path = dir.join(name);
    std::fs::write(&path, source).expect("write the script");
    path
}

fn lox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lox"))
}

const MANY_LINES: &str = "for (var i = 0; i < 10000000; i = i + 1) print i;\n";

/// A reader that closes the pipe after the first bytes: the script stops
/// with a message and exit code 74 instead of running on (or exiting 0).
#[test]
fn a_closed_pipe_stops_the_script_with_exit_74() {
    let path = script("many_lines.lox", MANY_LINES);
    let mut child = lox()
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lox");
    let mut head = [0u8; 16];
    child
        .stdout
        .take()
        .expect("piped")
        .read_exact(&mut head)
        .expect("the first lines");
    // The read end is dropped here: the next writes fail with EPIPE.
    let out = child.wait_with_output().expect("lox ends");
    assert_eq!(&head[..4], b"0\n1\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(74), "stderr: {err}");
    assert!(
        err.contains("lox: cannot write the output"),
        "stderr: {err}"
    );
}

/// A full disk (`/dev/full`), both while the script runs and when only the
/// final flush fails.
#[test]
#[cfg(target_os = "linux")]
fn a_full_disk_is_reported_with_exit_74() {
    for (name, source) in [("many.lox", MANY_LINES), ("one.lox", "print 1;\n")] {
        let path = script(name, source);
        let out = lox()
            .arg(&path)
            .stdout(std::fs::File::create("/dev/full").expect("/dev/full"))
            .output()
            .expect("run lox");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(74), "{name}: {err}");
        assert!(
            err.contains("cannot write the output: No space left on device"),
            "{name}: {err}"
        );
    }
}

/// A file with 300 syntax errors lists the first `MAX_ERRORS` and then
/// their number, and exits 65 as for any compile error.
#[test]
fn syntax_errors_are_listed_up_to_a_bound_then_counted() {
    let source: String = (0..300).map(|_| "var 1;\n").collect();
    let path = script("errors.lox", &source);
    let out = lox().arg(&path).output().expect("run lox");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(lines.len(), lox::compiler::MAX_ERRORS + 1, "{err}");
    assert_eq!(lines[0], "[line 1] Error at '1': Expect variable name.");
    assert_eq!(
        lines[lox::compiler::MAX_ERRORS - 1],
        format!(
            "[line {}] Error at '1': Expect variable name.",
            lox::compiler::MAX_ERRORS
        )
    );
    assert_eq!(
        lines[lox::compiler::MAX_ERRORS],
        format!(
            "... and {} more errors (300 in all).",
            300 - lox::compiler::MAX_ERRORS
        )
    );
}

/// A script that is not UTF-8 text opened fine: the message says what is
/// wrong with it and where, not "Could not open file", and it exits 65.
#[test]
fn a_script_that_is_not_utf8_is_reported_as_such() {
    let path = script("latin1.lox", "");
    std::fs::write(&path, b"print 1;\nprint \"caf\xe9\";\n").expect("write the script");
    let out = lox().arg(&path).output().expect("run lox");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert!(
        err.contains("is not UTF-8 text: invalid byte 0xe9 at offset 19 (line 2)."),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing runs");
}

/// `scripts/bench.py`, run by `python3` if the machine has it: without
/// its directory it says what the directory must hold (no traceback);
/// with a directory holding some of the programs it skips the others with
/// a note and times the rest, with a ratio where clox's time is known.
#[test]
fn bench_script_says_what_it_needs_and_skips_missing_programs() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("no python3 here: bench.py not checked");
        return;
    }
    let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/bench.py");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new("python3")
            .arg(&bench)
            .args(args)
            .output()
            .expect("run bench.py");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            err,
        )
    };
    let nowhere = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-bench-dir");
    let (code, _, err) = run(&[nowhere.as_os_str()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("is not a directory") && err.contains("binary_trees.lox"),
        "{err}"
    );
    assert!(!err.contains("Traceback"), "{err}");

    let fib = script("fib.lox", "print 1;\n");
    let dir = fib.parent().expect("the scripts' directory").to_owned();
    std::fs::write(dir.join("zoo.lox"), "print 2;\n").expect("write zoo.lox");
    std::fs::write(dir.join("README.md"), "| fib | 1.5 |\n").expect("write README.md");
    let lox = std::ffi::OsStr::new(env!("CARGO_BIN_EXE_lox"));
    let args = ["--reps", "1", "--gc", "nogc", "--lox"].map(std::ffi::OsStr::new);
    let mut all: Vec<&std::ffi::OsStr> = vec![dir.as_os_str()];
    all.extend(args);
    all.push(lox);
    let (code, out, err) = run(&all);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("skipping programs not in") && err.contains("binary_trees"),
        "{err}"
    );
    assert!(out.contains("| fib | 1.50 |"), "{out}");
    assert!(out.contains("| zoo | - |"), "{out}");
}
