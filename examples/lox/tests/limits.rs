//! clox's limits and the binary's exit codes, with generated programs.

use std::process::{Command, Stdio};

use gc_runtime::{HeapConfig, Strategy};
use lox::{Options, Outcome, run_source};

fn run(src: &str, strategy: Strategy) -> (Outcome, String, String) {
    run_with(src, strategy, HeapConfig::default())
}

fn run_with(src: &str, strategy: Strategy, config: HeapConfig) -> (Outcome, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let o = run_source(
        strategy,
        config,
        src,
        &mut out,
        &mut err,
        Options::default(),
    )
    .unwrap();
    (
        o,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn compile_error(src: &str, expected: &str) {
    for s in Strategy::ALL {
        let (o, out, err) = run(src, s);
        assert_eq!(o, Outcome::CompileError, "{s}: {err}");
        assert!(out.is_empty());
        assert!(
            err.lines().any(|l| l == expected),
            "{s}: expected {expected:?}, got {err}"
        );
    }
}

#[test]
fn too_many_constants() {
    let body: String = (0..257).map(|i| format!("{i}.5;\n")).collect();
    let src = format!("fun f() {{\n{body}}}\n");
    compile_error(
        &src,
        "[line 258] Error at '256.5': Too many constants in one chunk.",
    );
    // 256 are fine.
    let body: String = (0..256).map(|i| format!("{i}.5;\n")).collect();
    let (o, _, err) = run(&format!("fun f() {{\n{body}}}\n"), Strategy::NoGc);
    assert_eq!(o, Outcome::Ok, "{err}");
}

#[test]
fn too_many_locals() {
    let body: String = (0..256).map(|i| format!("var v{i};\n")).collect();
    let src = format!("fun f() {{\n{body}}}\n");
    compile_error(
        &src,
        "[line 257] Error at 'v255': Too many local variables in function.",
    );
}

#[test]
fn too_many_parameters_and_arguments() {
    let params: Vec<String> = (0..256).map(|i| format!("p{i}")).collect();
    compile_error(
        &format!("fun f({}) {{}}", params.join(", ")),
        "[line 1] Error at 'p255': Can't have more than 255 parameters.",
    );
    let args = vec!["nil"; 256];
    compile_error(
        &format!("fun f() {{}} f({});", args.join(", ")),
        "[line 1] Error at 'nil': Can't have more than 255 arguments.",
    );
    // 255 arguments are fine.
    let params: Vec<String> = (0..255).map(|i| format!("p{i}")).collect();
    let mut args = vec!["nil"; 255];
    args[254] = "true";
    let src = format!(
        "fun f({}) {{ return p254; }} print f({});",
        params.join(","),
        args.join(",")
    );
    let (o, out, err) = run(&src, Strategy::NoGc);
    assert_eq!((o, out.as_str()), (Outcome::Ok, "true\n"), "{err}");
}

#[test]
fn too_many_upvalues() {
    // 256 locals in the outer function (slot 0 is the function itself,
    // so 255 named ones), and a closure capturing them all plus one more
    // from a middle function.
    let mut src = String::from("fun outer() {\n");
    for i in 0..200 {
        src += &format!("var a{i};\n");
    }
    src += "fun middle() {\n";
    for i in 0..100 {
        src += &format!("var b{i};\n");
    }
    src += "fun inner() {\n";
    for i in 0..200 {
        src += &format!("a{i};\n");
    }
    for i in 0..100 {
        src += &format!("b{i};\n");
    }
    src += "}\n}\n}\n";
    let line = 1 + 200 + 1 + 100 + 1 + 200 + 57;
    compile_error(
        &src,
        &format!("[line {line}] Error at 'b56': Too many closure variables in function."),
    );
}

#[test]
fn jumps_too_large() {
    let body: String = (0..33_000).map(|_| "nil;").collect();
    compile_error(
        &format!("while (false) {{ {body} }}"),
        "[line 1] Error at '}': Loop body too large.",
    );
    compile_error(
        &format!("if (false) {{ {body} }}"),
        "[line 1] Error at '}': Too much code to jump over.",
    );
}

#[test]
fn stack_overflow_at_64_frames() {
    for s in Strategy::ALL {
        let (o, _, err) = run(
            "fun f(n) { if (n > 0) f(n - 1); } f(62); print 1; f(63);",
            s,
        );
        assert_eq!(o, Outcome::RuntimeError);
        assert!(
            err.starts_with("Stack overflow.\n[line 1] in f()\n"),
            "{err}"
        );
        assert_eq!(err.lines().filter(|l| l.contains("in f()")).count(), 63);
        assert!(err.trim_end().ends_with("[line 1] in script"));
    }
}

#[test]
fn heap_limit_is_a_runtime_error() {
    let src = "class C { init(n) { this.n = n; } } var l = nil; \
               for (var i = 0; i < 10000000; i = i + 1) l = C(l);";
    for s in Strategy::ALL {
        let config = HeapConfig::default()
            .with_heap_limit(4 << 20)
            .with_nursery_bytes(256 << 10);
        let (o, _, err) = run_with(src, s, config);
        assert_eq!(o, Outcome::RuntimeError, "{s}");
        assert!(
            err.starts_with("Out of memory: cannot allocate "),
            "{s}: {err}"
        );
        // Said once.
        let lower = err.to_lowercase();
        assert_eq!(lower.matches("out of memory").count(), 1, "{s}: {err}");
        assert!(err.trim_end().ends_with("in script"), "{s}: {err}");
    }
}

#[test]
fn garbage_does_not_exhaust_a_small_heap() {
    let src = "class C { init(n) { this.n = n; } } var keep = 0; \
               for (var i = 0; i < 300000; i = i + 1) { var c = C(i); c.n = \"s\" + \"t\"; keep = c.n; } \
               print keep;";
    for s in Strategy::ALL.into_iter().filter(|s| *s != Strategy::NoGc) {
        let config = HeapConfig::default()
            .with_heap_limit(4 << 20)
            .with_nursery_bytes(256 << 10);
        let (o, out, err) = run_with(src, s, config);
        assert_eq!((o, out.as_str()), (Outcome::Ok, "st\n"), "{s}: {err}");
    }
}

fn lox(args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lox"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn exit_codes_and_flags() {
    let dir = std::env::temp_dir().join(format!("lox-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ok = dir.join("ok.lox");
    std::fs::write(
        &ok,
        "class C {} var s = \"a\"; for (var i = 0; i < 20000; i = i + 1) { C(); s = \"x\" + \"y\"; } print s;",
    )
    .unwrap();
    let bad = dir.join("bad.lox");
    std::fs::write(&bad, "print ;").unwrap();
    let boom = dir.join("boom.lox");
    std::fs::write(&boom, "print nil + 1;").unwrap();
    let (ok, bad, boom) = (
        ok.to_str().unwrap(),
        bad.to_str().unwrap(),
        boom.to_str().unwrap(),
    );

    for gc in ["nogc", "refcount", "generational"] {
        let (code, out, _) = lox(&["--gc", gc, ok], "");
        assert_eq!((code, out.as_str()), (Some(0), "xy\n"), "{gc}");
    }
    assert_eq!(lox(&[bad], "").0, Some(65));
    let (code, _, err) = lox(&[boom], "");
    assert_eq!(code, Some(70));
    assert!(err.starts_with("Operands must be two numbers or two strings.\n[line 1] in script"));
    // Usage errors: 64; unreadable file: 74.
    assert_eq!(lox(&["--gc", "boehm", ok], "").0, Some(64));
    assert_eq!(lox(&["--bogus"], "").0, Some(64));
    assert_eq!(lox(&[ok, ok], "").0, Some(64));
    assert_eq!(lox(&["--heap-limit", "lots", ok], "").0, Some(64));
    let (code, _, err) = lox(&["/nonexistent/x.lox"], "");
    assert_eq!(code, Some(74));
    assert!(err.contains("Could not open file"));
    // --gc-stats and --gc-trace report on stderr, output unchanged.
    let (code, out, err) = lox(&["--gc", "refcount", "--gc-stats", "--gc-trace", ok], "");
    assert_eq!((code, out.as_str()), (Some(0), "xy\n"));
    assert!(err.contains("gc stats (refcount)"), "{err}");
    assert!(err.lines().any(|l| l.starts_with("gc 1 @")), "{err}");
    // A heap too small for the program is a runtime error, not a crash.
    let (code, _, err) = lox(&["--heap-limit", "100000", "--gc", "nogc", ok], "");
    assert_eq!(code, Some(70), "{err}");
    // The REPL keeps globals between lines and survives errors.
    let (code, out, err) = lox(&[], "var a = 1;\nprint a + 1;\nprint nope;\nprint a;\n");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "2\n1\n");
    assert!(err.contains("Undefined variable 'nope'."));
    std::fs::remove_dir_all(&dir).ok();
}
