//! `lox --disassemble`: clox's listing of every function, without
//! running the script.

use std::path::Path;
use std::process::Command;

fn lox(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lox"))
        .args(args)
        .output()
        .expect("run lox");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn program(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/disassemble")
        .join(name);
    p.to_str().expect("utf-8 path").to_owned()
}

/// Nested functions first, then the script (clox's order); repeated lines
/// as `   |`; jumps with their targets; a closure's upvalues; global
/// accesses by name; superinstructions under their own names, followed by
/// the instructions they fuse.
const EXPECTED: &str = "\
== inner ==
0000    4 OP_GET_UPVALUE      0
0002    | OP_RETURN
0003    5 OP_RETURN_NIL
0004    | OP_RETURN
== outer ==
0000    2 OP_CONSTANT         0 '1.2'
0002    5 OP_CLOSURE          1 <fn inner>
0004      |                     local 1
0006    6 OP_RETURN_LOCAL     2
0008    | OP_RETURN
0009    7 OP_RETURN_NIL
0010    | OP_RETURN
== m ==
0000    9 OP_RETURN_LOCAL     1
0002    | OP_RETURN
0003    | OP_RETURN_NIL
0004    | OP_RETURN
== <script> ==
0000    7 OP_CLOSURE          1 <fn outer>
0002    | OP_DEFINE_GLOBAL    0 'outer'
0004    8 OP_CLASS            2 'C'
0006    | OP_DEFINE_GLOBAL    2 'C'
0008    | OP_GET_GLOBAL       3 'C'
0010    9 OP_CLOSURE          5 <fn m>
0012    | OP_METHOD           4 'm'
0014   10 OP_POP
0015   11 OP_CONSTANT         7 '1'
0017    | OP_DEFINE_GLOBAL    6 'a'
0019   12 OP_GLOBAL_CONSTANT_LT    8 'a'
0021    | OP_CONSTANT_LT      9 '2'
0023    | OP_LESS
0024    | OP_TEST_POP        24 -> 38
0027    | OP_POP
0028    | OP_GET_GLOBAL      10 'outer'
0030    | OP_CALL             0
0032    | OP_CALL             0
0034    | OP_PRINT
0035    | OP_JUMP            35 -> 39
0038    | OP_POP
0039   13 OP_GLOBAL_CONSTANT_GT   11 'a'
0041    | OP_CONSTANT_GT     12 '0'
0043    | OP_GREATER
0044    | OP_TEST_POP        44 -> 59
0047    | OP_POP
0048    | OP_GLOBAL_CONSTANT_SUB   14 'a'
0050    | OP_CONSTANT_SUB    15 '1'
0052    | OP_SUBTRACT
0053    | OP_SET_GLOBAL      13 'a'
0055    | OP_POP
0056    | OP_LOOP            56 -> 39
0059    | OP_POP
0060   14 OP_GET_GLOBAL      16 'C'
0062    | OP_CALL             0
0064    | OP_CONSTANT        18 '3'
0066    | OP_INVOKE        (1 args)   17 'm'
0069    | OP_PRINT
0070   15 OP_RETURN_NIL
0071    | OP_RETURN
";

#[test]
fn disassembles_every_function_without_running() {
    let (code, out, err) = lox(&["--disassemble", &program("program.lox")]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, EXPECTED);
    assert_eq!(err, "");
}

#[test]
fn disassembles_on_every_backend() {
    for gc in ["refcount", "generational", "tricolor", "nogc"] {
        let (code, out, _) = lox(&["--gc", gc, "--disassemble", &program("program.lox")]);
        assert_eq!(code, Some(0), "{gc}");
        assert_eq!(out, EXPECTED, "{gc}");
    }
}

#[test]
fn compile_errors_exit_65() {
    let (code, out, err) = lox(&["--disassemble", &program("error.lox")]);
    assert_eq!(code, Some(65));
    assert_eq!(out, "");
    assert_eq!(err, "[line 1] Error at ';': Expect expression.\n");
}

#[test]
fn needs_a_script_and_is_in_the_help() {
    let (code, _, err) = lox(&["--disassemble"]);
    assert_eq!(code, Some(64));
    assert!(err.contains("--disassemble needs a script"), "{err}");
    let (code, out, _) = lox(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(
        out.starts_with("Usage: lox ") && out.contains("--disassemble"),
        "{out}"
    );
}

#[test]
fn version_names_the_release_and_the_collectors() {
    for flag in ["--version", "-V"] {
        let (code, out, err) = lox(&[flag]);
        assert_eq!(code, Some(0), "{flag}: {err}");
        assert!(
            out.starts_with(&format!("lox {} ", env!("CARGO_PKG_VERSION")))
                && out.contains("tricolor"),
            "{out}"
        );
    }
    let (_, out, _) = lox(&["--help"]);
    assert!(out.contains("--version"), "{out}");
}
