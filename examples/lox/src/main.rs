//! `lox [--gc refcount|generational|tricolor|nogc] [--gc-stats] [--gc-trace] [--heap-limit SIZE] [--disassemble] [--version] [script]`
//!
//! With a script, runs it (exit 65 on a compile error, 70 on a runtime
//! error); without one, starts a REPL. With `--disassemble`, prints the
//! script's bytecode in clox's format instead of running it (exit 0, or 65
//! on a compile error). Usage errors exit 64, an unreadable script 74,
//! like clox; output that cannot be written (a closed pipe, a full disk)
//! is reported and exits 74 too, and a script that is not UTF-8 text is
//! reported with the offset of its first invalid byte and exits 65.

use std::io::Write;
use std::process::ExitCode;

use gc_runtime::{HeapConfig, Strategy};
use lox::{Options, Outcome};

const USAGE: &str = "Usage: lox [--gc refcount|generational|tricolor|nogc] [--gc-stats] [--gc-trace] [--heap-limit SIZE] [--disassemble] [--version] [script]";

const HELP: &str = "\
Runs a Lox script, or a REPL without one.

Options:
  --gc BACKEND        the collector: refcount, generational (default),
                      tricolor or nogc
  --gc-stats          print the heap's statistics to stderr at exit
  --gc-trace          print one line per collection to stderr
  --heap-limit SIZE   the most the heap may hold, the VM's big temporary
                      buffers (a long string being built) included: bytes,
                      or with a binary suffix K, M or G (256MB = 256 x 2^20
                      bytes); at least 64K (default 4G)
  --disassemble       print the script's bytecode (clox's format) and
                      exit without running it
  -h, --help          print this help
  -V, --version       print the version and the collectors built in";

fn usage(msg: &str) -> ExitCode {
    if !msg.is_empty() {
        eprintln!("lox: {msg}");
    }
    eprintln!("{USAGE}");
    ExitCode::from(64)
}

fn main() -> ExitCode {
    let mut strategy = Strategy::Generational;
    let mut opts = Options::default();
    let mut config = HeapConfig::default();
    let mut script = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--gc" => match args.next().map(|s| s.parse::<Strategy>()) {
                Some(Ok(s)) => strategy = s,
                Some(Err(e)) => return usage(&e.to_string()),
                None => return usage("--gc needs a value"),
            },
            "--gc-stats" => opts.gc_stats = true,
            "--gc-trace" => opts.gc_trace = true,
            "--disassemble" => opts.disassemble = true,
            "--heap-limit" => match args.next().map(|s| lox::parse_size(&s)) {
                Some(Ok(n)) => {
                    config = config
                        .with_heap_limit(n)
                        .with_nursery_bytes(HeapConfig::default().nursery_bytes.min(n))
                }
                Some(Err(e)) => return usage(&format!("--heap-limit: {e}")),
                None => return usage("--heap-limit needs a size"),
            },
            "-V" | "--version" => {
                println!(
                    "lox {} (gc-runtime; collectors: refcount, generational, tricolor, nogc)",
                    env!("CARGO_PKG_VERSION")
                );
                return ExitCode::SUCCESS;
            }
            "-h" | "--help" => {
                println!("{USAGE}\n\n{HELP}");
                return ExitCode::SUCCESS;
            }
            s if s.starts_with('-') => return usage(&format!("unknown option '{s}'")),
            s => {
                if script.is_some() {
                    return usage("");
                }
                script = Some(s.to_owned());
            }
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = std::io::stderr();
    if opts.disassemble && script.is_none() {
        return usage("--disassemble needs a script");
    }
    let result = match script {
        None => {
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            lox::repl(strategy, config, &mut input, &mut out, &mut err, opts)
        }
        Some(path) => {
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(_) => {
                    eprintln!("Could not open file \"{path}\".");
                    return ExitCode::from(74);
                }
            };
            let source = match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => {
                    let at = e.utf8_error().valid_up_to();
                    let line = 1 + e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count();
                    eprintln!(
                        "File \"{path}\" is not UTF-8 text: invalid byte 0x{:02x} at offset {at} (line {line}).",
                        e.as_bytes()[at]
                    );
                    return ExitCode::from(65);
                }
            };
            lox::run_source(strategy, config, &source, &mut out, &mut err, opts)
        }
    };
    let flushed = out.flush();
    match result {
        Ok(Outcome::Ok) => match flushed {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lox: cannot write the output: {e}");
                ExitCode::from(74)
            }
        },
        Ok(Outcome::CompileError) => ExitCode::from(65),
        Ok(Outcome::RuntimeError) => ExitCode::from(70),
        Ok(Outcome::OutputError) => ExitCode::from(74),
        Err(e) => {
            eprintln!("lox: {e}");
            ExitCode::from(64)
        }
    }
}
