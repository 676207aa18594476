//! # lox: a complete Lox bytecode VM on any gc-core collector
//!
//! The language of *Crafting Interpreters*, with the behaviour of its C
//! implementation clox (output, error messages, exit codes, limits),
//! written once against gc-core and run on whichever collector the user
//! picks at run time.
//!
//! * [`scanner`]: tokens on demand;
//! * [`compiler`]: single-pass Pratt compiler to bytecode;
//! * [`chunk`]: the opcode table and the superinstruction pass;
//! * [`debug`]: the disassembler (`lox --disassemble`);
//! * [`object`]: Lox's objects in gc-core's uniform layout, hash tables,
//!   the weak string interner, number formatting;
//! * [`vm`]: the stack VM, running in bursts between safepoints.
//!
//! ```
//! use lox::{run_source, Options, Outcome};
//! use gc_runtime::{HeapConfig, Strategy};
//!
//! let (mut out, mut err) = (Vec::new(), Vec::new());
//! let outcome = run_source(
//!     Strategy::NoGc,
//!     HeapConfig::default(),
//!     "fun add(a, b) { return a + b; } print add(1, 2);",
//!     &mut out,
//!     &mut err,
//!     Options::default(),
//! )
//! .unwrap();
//! assert_eq!(outcome, Outcome::Ok);
//! assert_eq!(String::from_utf8(out).unwrap(), "3\n");
//! ```

pub mod chunk;
pub mod compiler;
pub mod debug;
pub mod object;
pub mod scanner;
pub mod vm;

use std::io::{BufRead, Write};

use gc_runtime::{Collector, Heap, HeapConfig, HeapVisitor, Strategy, StrategyError};

pub use vm::{Outcome, Vm, out_of_memory};

/// Parses a byte count as `--heap-limit` takes it: a whole number of
/// bytes, optionally followed by a binary-multiple suffix, `K`/`KB`/`KiB`
/// (1024), `M`/`MB`/`MiB` (1024^2) or `G`/`GB`/`GiB` (1024^3), in any
/// case and without a space (`256MB` is 268,435,456 bytes, as gcbench's
/// `--size 100MB` is 100 x 2^20 bytes). The error says what was wrong.
///
/// ```
/// assert_eq!(lox::parse_size("256MB"), Ok(256 << 20));
/// assert_eq!(lox::parse_size("65536"), Ok(65536));
/// assert!(lox::parse_size("lots").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<usize, String> {
    let bad = || {
        format!(
            "invalid size '{text}' (expected a number of bytes, optionally with a suffix K, M or G)"
        )
    };
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, suffix) = text.split_at(digits);
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(bad()),
    };
    let n: usize = number.parse().map_err(|_| bad())?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("size '{text}' is too large"))
}

/// What the binary's `--gc-stats`, `--gc-trace` and `--disassemble` switch
/// on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Print the heap's statistics to stderr at exit.
    pub gc_stats: bool,
    /// Print one line per collection to stderr.
    pub gc_trace: bool,
    /// [`run_source`] prints the script's bytecode ([`Vm::disassemble`])
    /// instead of running it.
    pub disassemble: bool,
}

struct RunSource<'a> {
    source: &'a str,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    opts: Options,
}

fn setup<C: Collector>(heap: &mut Heap<C>, opts: Options) {
    if opts.gc_trace {
        heap.set_event_hook(|e| eprintln!("{e}"));
    }
}

fn finish<C: Collector>(vm: &mut Vm<'_, C>, opts: Options) {
    if opts.gc_stats {
        eprint!("{}", vm.heap().stats());
    }
}

impl HeapVisitor for RunSource<'_> {
    type Output = Outcome;

    fn visit<C: Collector>(self, mut heap: Heap<C>) -> Outcome {
        setup(&mut heap, self.opts);
        let err = self.err;
        let mut vm = match Vm::new(heap, self.out, &mut *err) {
            Ok(vm) => vm,
            Err(e) => {
                let _ = writeln!(err, "{}", out_of_memory(&e));
                return Outcome::RuntimeError;
            }
        };
        let outcome = if self.opts.disassemble {
            vm.disassemble(self.source)
        } else {
            vm.interpret(self.source)
        };
        finish(&mut vm, self.opts);
        outcome
    }
}

/// Runs a script on a fresh heap of the given strategy (or, with
/// [`Options::disassemble`], prints its bytecode).
pub fn run_source(
    strategy: Strategy,
    config: HeapConfig,
    source: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
    opts: Options,
) -> Result<Outcome, StrategyError> {
    strategy.run(
        config,
        RunSource {
            source,
            out,
            err,
            opts,
        },
    )
}

struct Repl<'a> {
    input: &'a mut dyn BufRead,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    opts: Options,
}

impl HeapVisitor for Repl<'_> {
    type Output = Outcome;

    fn visit<C: Collector>(self, mut heap: Heap<C>) -> Outcome {
        setup(&mut heap, self.opts);
        let input = self.input;
        let err = self.err;
        let mut vm = match Vm::new(heap, self.out, &mut *err) {
            Ok(vm) => vm,
            Err(e) => {
                let _ = writeln!(err, "{}", out_of_memory(&e));
                return Outcome::RuntimeError;
            }
        };
        let mut line = String::new();
        let mut outcome = Outcome::Ok;
        loop {
            eprint!("> ");
            line.clear();
            match input.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    eprintln!();
                    break;
                }
                Ok(_) => {
                    // Errors in a line are reported and the loop goes on,
                    // except when the output can no longer be written.
                    if vm.interpret(&line) == Outcome::OutputError {
                        outcome = Outcome::OutputError;
                        break;
                    }
                }
            }
        }
        finish(&mut vm, self.opts);
        outcome
    }
}

/// Runs the read-eval-print loop until end of input, or until the output
/// cannot be written ([`Outcome::OutputError`]; errors of a line are
/// reported and the loop goes on).
pub fn repl(
    strategy: Strategy,
    config: HeapConfig,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
    opts: Options,
) -> Result<Outcome, StrategyError> {
    strategy.run(
        config,
        Repl {
            input,
            out,
            err,
            opts,
        },
    )
}
