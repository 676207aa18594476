//! The bytecode VM (clox's `vm.c`), generic over the collector.
//!
//! # State and safepoints
//!
//! All VM state that lives across safepoints is in the heap: the operand
//! stack is the heap's root stack, and a `ROOT` object (held by a
//! `Persistent`) holds the globals array, the open upvalues and the
//! closure of every call frame. Rust-side the VM keeps only integers
//! (each frame's instruction pointer and stack base) and the global names.
//!
//! It runs in bursts: each `mutate` call executes instructions until a
//! fuel budget is spent or the heap asks for a safepoint (`should_yield`,
//! polled every `POLL` ticks), so long-running scripts collect. Fuel is
//! counted in ticks: one per backward jump and per call, the only ways a
//! program runs for long (between two ticks there is at most one
//! function's straight-line code), so the dispatch of other instructions
//! pays nothing for it.
//!
//! # A burst
//!
//! A burst takes the root stack out of the heap as a local vector
//! ([`gc_runtime::RootStack`]) and rebuilds the call frames as branded
//! `CallFrame`s (closure, function, code slice, ip, base) from the
//! `FRAMES` object. The dispatch loop then keeps the current frame's code,
//! ip and base in locals, as clox keeps them in registers, and touches the
//! heap only for objects. When the burst ends (yield, error, out of
//! memory) the frames are written back: ips and bases to the Rust side,
//! closures into `FRAMES` (only those that changed, through the barrier),
//! and the guard puts the stack back, so that every value is a root again
//! at the safepoint.
//!
//! Every instruction allocates before it changes the stack, so one that
//! fails for lack of memory can be retried after a full collection; if it
//! fails again, the script stops with a runtime error.
//!
//! # Speed
//!
//! Beyond clox's design: globals are array slots resolved by the compiler
//! ([`Globals`]); property and method lookups go through inline caches
//! (`Vm::hints`, one `u32` per constant, seeded with global slots, checked
//! by [`table_get_hinted`] and never trusted); and the compiler's
//! peephole pass ([`crate::chunk::fuse`]) turns common sequences into
//! superinstructions, whose slow paths resume at the sequence's second
//! instruction. `docs/BENCHMARKS.md` has the figures and what each step
//! bought.

use std::io::{self, Write};
use std::time::Instant;

use gc_runtime::{
    AllocError, CollectKind, Collector, Gc, Heap, Mutator, Persistent, Unpacked, Value,
};

use gc_runtime::gc_core::RawValue;

use crate::chunk::{len_of, op, rest_of};
use crate::compiler::{CompileError, Globals, compile};
use crate::object::*;

/// Ticks (backward jumps and calls) per burst before the VM returns to a
/// safepoint anyway.
const FUEL: u32 = 20_000;
/// The same in stress mode.
const STRESS_FUEL: u32 = 97;
/// Free stack slots a burst starts with (the window doubles when full).
const HEADROOM: usize = 256;
/// Ticks between two polls of `should_yield` (and of the fuel).
const POLL: u32 = 128;

struct Frame {
    ip: usize,
    base: usize,
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The script ran to the end (exit code 0).
    Ok,
    /// Exit code 65.
    CompileError,
    /// Exit code 70.
    RuntimeError,
    /// The output could not be written (a closed pipe, a full disk): the
    /// script was stopped at the `print` that found out, or it ended but
    /// its output could not be flushed. Exit code 74 (`EX_IOERR`).
    OutputError,
}

enum Step {
    Yield,
    Done,
    Error(String),
    Oom(AllocError),
    Output(io::Error),
}

/// A Lox VM on a heap of collector `C`.
pub struct Vm<'io, C: Collector> {
    heap: Heap<C>,
    root: Persistent,
    interner: Interner,
    globals: Globals,
    /// Inline caches of property and method lookups (see
    /// [`table_get_hinted`]), indexed by [`FnInfo::cache`] plus the name's
    /// constant.
    hints: Vec<u32>,
    frames: Vec<Frame>,
    out: &'io mut dyn Write,
    err: &'io mut dyn Write,
    start: Instant,
    /// Steps left, if limited ([`Vm::set_step_limit`]).
    budget: Option<u64>,
}

impl<'io, C: Collector> Vm<'io, C> {
    /// Makes a VM; fails only if the heap cannot hold its root objects.
    pub fn new(
        mut heap: Heap<C>,
        out: &'io mut dyn Write,
        err: &'io mut dyn Write,
    ) -> Result<Self, AllocError> {
        let mut interner = Interner::default();
        let mut globals = Globals::default();
        let root = heap.mutate(|m| -> Result<Persistent, AllocError> {
            let undef = m.alloc(UNDEF, &[], &[])?;
            let array = m.alloc_filled(GLOBALS, 8, undef.into(), &[])?;
            let init = interner.intern(m, "init")?;
            let frames = m.alloc_filled(FRAMES, FRAMES_MAX, Value::NIL, &[])?;
            let clock_name = interner.intern(m, "clock")?;
            let clock = m.alloc(NATIVE, &[clock_name.into()], &[0])?;
            m.set(array, globals.slot("clock"), clock.into());
            let root = m.alloc(
                ROOT,
                &[
                    array.into(),
                    Value::NIL,
                    init.into(),
                    frames.into(),
                    undef.into(),
                ],
                &[],
            )?;
            Ok(m.persist(root))
        })?;
        Ok(Vm {
            heap,
            root,
            interner,
            globals,
            hints: Vec::new(),
            frames: Vec::new(),
            out,
            err,
            start: Instant::now(),
            budget: None,
        })
    }

    /// Limits the work the VM does from now on, in steps: backward jumps
    /// (loop iterations) and calls, which every long-running program makes
    /// (`None`: no limit). Past the limit, execution stops with the runtime
    /// error "Step limit exceeded." (for fuzzing and sandboxing: every
    /// program then terminates).
    pub fn set_step_limit(&mut self, limit: Option<u64>) {
        self.budget = limit;
    }

    /// The heap (for statistics).
    pub fn heap(&self) -> &Heap<C> {
        &self.heap
    }

    /// The heap, mutably (to set an event hook).
    pub fn heap_mut(&mut self) -> &mut Heap<C> {
        &mut self.heap
    }

    /// Compiles and runs `source`; globals persist between calls (REPL).
    pub fn interpret(&mut self, source: &str) -> Outcome {
        let Vm {
            heap,
            root,
            interner,
            globals,
            ..
        } = self;
        let compiled = heap.mutate(|m| -> Result<(), CompileError> {
            let f = compile(m, interner, globals, source)?;
            let root = m.fetch(root);
            grow_globals(m, root, globals.len()).map_err(CompileError::Memory)?;
            let closure = Closure::alloc(m, &[f.into()]).map_err(CompileError::Memory)?;
            m.stack_push(closure.into());
            let frames = root.get(ROOT_FRAMES).as_gc().expect("frames");
            m.set(frames, 0, closure.into());
            Ok(())
        });
        self.globals.take_new_caches(&mut self.hints);
        debug_assert_eq!(self.hints.len(), self.globals.caches());
        if let Err(e) = compiled {
            return self.compile_error(e);
        }
        self.frames.clear();
        self.frames.push(Frame { ip: 0, base: 0 });
        let mut retried = false;
        loop {
            let step = {
                let Vm {
                    heap,
                    root,
                    interner,
                    globals,
                    hints,
                    frames,
                    out,
                    start,
                    budget,
                    ..
                } = self;
                heap.mutate(|m| {
                    let root = m.fetch(root);
                    let mut b = Burst {
                        m,
                        root,
                        globals: root.get(ROOT_GLOBALS).as_gc().expect("globals"),
                        undef: root.get(ROOT_UNDEF).raw(),
                        open_upvalues: !root.get(ROOT_OPEN_UPVALUES).is_nil(),
                        interner,
                        names: globals,
                        hints,
                        spare_hint: 0,
                        out: &mut **out,
                        start: *start,
                    };
                    b.run(frames, budget)
                })
            };
            match step {
                Step::Yield => retried = false,
                Step::Done => {
                    return match self.out.flush() {
                        Ok(()) => Outcome::Ok,
                        Err(e) => self.output_error(e),
                    };
                }
                Step::Output(e) => return self.output_error(e),
                Step::Oom(_) if !retried => {
                    retried = true;
                    self.heap.collect(CollectKind::Full);
                }
                Step::Oom(e) => {
                    let _ = self.out.flush();
                    return self.runtime_error(out_of_memory(&e));
                }
                Step::Error(msg) => {
                    let _ = self.out.flush();
                    return self.runtime_error(msg);
                }
            }
        }
    }

    /// Compiles `source` and writes the disassembly of the script and of
    /// every function in it to the output, without running it (`lox
    /// --disassemble`).
    pub fn disassemble(&mut self, source: &str) -> Outcome {
        let Vm {
            heap,
            interner,
            globals,
            out,
            ..
        } = self;
        let compiled = heap.mutate(|m| -> Result<io::Result<()>, CompileError> {
            let f = compile(m, interner, globals, source)?;
            Ok(crate::debug::disassemble_all(
                &mut **out,
                Function(f),
                globals,
            ))
        });
        self.globals.take_new_caches(&mut self.hints);
        match compiled {
            Ok(written) => match written.and_then(|()| self.out.flush()) {
                Ok(()) => Outcome::Ok,
                Err(e) => self.output_error(e),
            },
            Err(e) => self.compile_error(e),
        }
    }

    fn compile_error(&mut self, e: CompileError) -> Outcome {
        match e {
            CompileError::Syntax(errors) => {
                for e in errors {
                    let _ = writeln!(self.err, "{e}");
                }
            }
            CompileError::Memory(e) => {
                let _ = writeln!(self.err, "{} (while compiling)", out_of_memory(&e));
            }
        }
        Outcome::CompileError
    }

    /// Reports that the output could not be written and stops the script
    /// (its frames are discarded, as after a runtime error).
    fn output_error(&mut self, e: io::Error) -> Outcome {
        let _ = writeln!(self.err, "lox: cannot write the output: {e}");
        let root = &self.root;
        self.heap.mutate(|m| reset_stack(m, root));
        self.frames.clear();
        Outcome::OutputError
    }

    fn runtime_error(&mut self, msg: String) -> Outcome {
        let _ = writeln!(self.err, "{msg}");
        let frames = &self.frames;
        let err = &mut *self.err;
        self.heap.mutate(|m| {
            let fa = m
                .fetch(&self.root)
                .get(ROOT_FRAMES)
                .as_gc()
                .expect("frames");
            for (i, f) in frames.iter().enumerate().rev() {
                let closure = Closure(fa.get(i).as_gc().expect("frame closure"));
                let function = closure.function();
                let line = function.info().line(f.ip.saturating_sub(1));
                match function.name() {
                    Some(name) => {
                        let _ = writeln!(err, "[line {line}] in {}()", str_text(name));
                    }
                    None => {
                        let _ = writeln!(err, "[line {line}] in script");
                    }
                }
            }
            reset_stack(m, &self.root);
        });
        self.frames.clear();
        Outcome::RuntimeError
    }
}

/// Empties the value stack and the open-upvalue list: the state a stopped
/// script leaves for the next REPL line (the caller clears the frames).
fn reset_stack<C: Collector>(m: &Mutator<'_, C>, root: &Persistent) {
    m.stack_truncate(0);
    m.set(m.fetch(root), ROOT_OPEN_UPVALUES, Value::NIL);
}

/// The runtime error of an allocation that failed again after a full
/// collection (the heap limit is reached, or the object is too large).
pub fn out_of_memory(e: &AllocError) -> String {
    match e {
        AllocError::OutOfMemory {
            requested,
            limit,
            in_use,
        } => format!(
            "Out of memory: cannot allocate {requested} bytes with {in_use} of the heap's {limit} bytes in use."
        ),
        AllocError::TooLarge { slots, bytes } => format!(
            "Out of memory: an object of {slots} slots and {bytes} bytes is too large (at most {} of each).",
            u32::MAX
        ),
    }
}

/// `print`: a string is written from the heap (no copy of a long string
/// outside it), anything else as [`display`] formats it.
#[inline(never)]
fn print_value(out: &mut dyn Write, v: Value<'_>) -> io::Result<()> {
    match v.as_gc().filter(|g| g.kind() == STRING) {
        Some(s) => out
            .write_all(str_text(s).as_bytes())
            .and_then(|()| out.write_all(b"\n")),
        None => writeln!(out, "{}", display(v)),
    }
}

/// Makes the globals array at least `n` slots long (new slots hold the
/// undefined marker).
fn grow_globals<'gc, C: Collector>(
    m: &Mutator<'gc, C>,
    root: Gc<'gc>,
    n: usize,
) -> Result<(), AllocError> {
    let old = root.get(ROOT_GLOBALS).as_gc().expect("globals");
    if old.len() >= n {
        return Ok(());
    }
    let undef = root.get(ROOT_UNDEF);
    let new = m.alloc_filled(GLOBALS, n.max(2 * old.len()), undef, &[])?;
    for i in 0..old.len() {
        m.set(new, i, old.get(i));
    }
    m.set(root, ROOT_GLOBALS, new.into());
    Ok(())
}

/// A call frame inside a burst: the closure with its function and code
/// looked up once, where the Rust-side `Frame` keeps only integers.
#[derive(Clone, Copy)]
struct CallFrame<'gc> {
    closure: Closure<'gc>,
    function: Function<'gc>,
    code: &'gc [u8],
    cache: usize,
    ip: usize,
    base: usize,
}

impl<'gc> CallFrame<'gc> {
    #[inline(always)]
    fn new(closure: Closure<'gc>, ip: usize, base: usize) -> Self {
        Self::enter(closure, base).0.at(ip)
    }

    /// A frame at the start of `closure` with its slots from `base`, and
    /// the function's arity.
    #[inline(always)]
    fn enter(closure: Closure<'gc>, base: usize) -> (Self, u8) {
        let function = closure.function();
        let info = function.info();
        let frame = CallFrame {
            closure,
            function,
            code: info.code,
            cache: info.cache,
            ip: 0,
            base,
        };
        (frame, info.arity)
    }

    #[inline(always)]
    fn at(self, ip: usize) -> Self {
        CallFrame { ip, ..self }
    }
}

/// The call stack inside a burst: a fixed array (clox's `frames`), so
/// that a call is a store and an increment, with the one `FRAMES_MAX`
/// check that a call makes anyway (no vector capacity check).
struct Frames<'gc> {
    slots: [CallFrame<'gc>; FRAMES_MAX],
    depth: usize,
}

impl<'gc> Frames<'gc> {
    #[inline(always)]
    fn is_empty(&self) -> bool {
        self.depth == 0
    }

    /// The running frame.
    ///
    /// The index wraps (`depth - 1` with depth 0 is `usize::MAX`, which is
    /// 63 modulo 64) instead of panicking: the compiler then sees an index
    /// that is always in bounds and emits no bounds check or panic path in
    /// the dispatch loop. The loop never runs with no frame, so the
    /// wrapped index is never used.
    #[inline(always)]
    fn top(&self) -> &CallFrame<'gc> {
        &self.slots[self.depth.wrapping_sub(1) % FRAMES_MAX]
    }

    #[inline(always)]
    fn top_mut(&mut self) -> &mut CallFrame<'gc> {
        &mut self.slots[self.depth.wrapping_sub(1) % FRAMES_MAX]
    }

    /// Pushes `f`, or fails with clox's "Stack overflow.".
    #[inline(always)]
    fn push(&mut self, f: CallFrame<'gc>) -> Result<(), Step> {
        match self.slots.get_mut(self.depth) {
            Some(slot) => {
                *slot = f;
                self.depth += 1;
                Ok(())
            }
            None => Err(Step::Error("Stack overflow.".into())),
        }
    }

    #[inline(always)]
    fn pop(&mut self) {
        self.depth -= 1;
    }

    fn live(&self) -> &[CallFrame<'gc>] {
        &self.slots[..self.depth]
    }
}

/// The VM inside one `mutate` call.
struct Burst<'a, 'gc, C: Collector> {
    m: &'a Mutator<'gc, C>,
    root: Gc<'gc>,
    /// The globals array (it only changes when a script is compiled).
    globals: Gc<'gc>,
    /// The undefined marker, as stored in the globals array.
    undef: RawValue,
    /// Whether any upvalue is open (the `ROOT_OPEN_UPVALUES` list is not
    /// empty): checked on every return.
    open_upvalues: bool,
    interner: &'a mut Interner,
    names: &'a Globals,
    hints: &'a mut [u32],
    /// Stands in for a cache beyond `hints` (cannot happen: the VM sizes
    /// `hints` after every compilation; this keeps it a non-event).
    spare_hint: u32,
    out: &'a mut dyn Write,
    start: Instant,
}

type Stack<'gc> = Vec<Value<'gc>>;

/// The message of a failed `table_get` on a method.
fn undefined_property(name: Gc<'_>) -> Step {
    Step::Error(format!("Undefined property '{}'.", str_text(name)))
}

impl<'gc, C: Collector> Burst<'_, 'gc, C> {
    /// Runs one burst: rebuilds the frames, executes, writes them back.
    fn run(&mut self, frames: &mut Vec<Frame>, budget: &mut Option<u64>) -> Step {
        let fa = self.root.get(ROOT_FRAMES).as_gc().expect("frames");
        let first = Closure(fa.get(0).as_gc().expect("frame closure"));
        let mut cfs = Frames {
            // Slots above the depth are never read; any frame fills them.
            slots: [CallFrame::new(first, 0, 0); FRAMES_MAX],
            depth: 0,
        };
        for (i, f) in frames.iter().enumerate().take(FRAMES_MAX) {
            let closure = Closure(fa.get(i).as_gc().expect("frame closure"));
            if cfs.push(CallFrame::new(closure, f.ip, f.base)).is_err() {
                unreachable!("at most FRAMES_MAX frames are saved");
            }
        }
        // In stress mode, return to a safepoint (and so collect) far more
        // often, but in proportion to the live heap, so that a program with
        // a big heap does not spend its life in full collections.
        let mut fuel = if self.m.config().stress {
            STRESS_FUEL + (self.m.counters().live_bytes / 256).min(u64::from(FUEL)) as u32
        } else {
            FUEL
        };
        if let Some(b) = *budget {
            if b == 0 {
                return Step::Error("Step limit exceeded.".into());
            }
            fuel = fuel.min(b.min(u64::from(u32::MAX)) as u32);
        }
        let mut stack = self.m.root_stack();
        let (step, executed) = self.exec(&mut stack, &mut cfs, fuel);
        drop(stack);
        if let Some(b) = budget.as_mut() {
            *b = b.saturating_sub(u64::from(executed));
        }
        frames.clear();
        for (i, f) in cfs.live().iter().enumerate() {
            if fa.get(i).as_gc() != Some(f.closure.0) {
                self.m.set(fa, i, f.closure.into());
            }
            frames.push(Frame {
                ip: f.ip,
                base: f.base,
            });
        }
        step
    }

    /// Pushes a frame for `closure` called with `argc` arguments.
    #[inline(always)]
    fn call(
        &self,
        frames: &mut Frames<'gc>,
        stack_len: usize,
        closure: Closure<'gc>,
        argc: usize,
    ) -> Result<(), Step> {
        let (frame, arity) = CallFrame::enter(closure, stack_len - argc - 1);
        if argc != usize::from(arity) {
            return Err(Step::Error(format!(
                "Expected {arity} arguments but got {argc}."
            )));
        }
        frames.push(frame)
    }

    #[inline(always)]
    fn call_value(
        &mut self,
        slots: &mut [Value<'gc>],
        sp: &mut usize,
        frames: &mut Frames<'gc>,
        callee: Value<'gc>,
        argc: usize,
    ) -> Result<(), Step> {
        if let Some(g) = callee.as_gc() {
            // Closures first, with a plain branch: the common case, and a
            // `match` here would be a second indirect jump per call.
            if g.kind() == CLOSURE {
                return self.call(frames, *sp, Closure(g), argc);
            }
            let slot = *sp - argc - 1;
            match g.kind() {
                BOUND => {
                    let bound = Bound(g);
                    slots[slot] = bound.receiver();
                    return self.call(frames, *sp, bound.method(), argc);
                }
                CLASS => {
                    let inst = Instance::alloc(self.m, g).map_err(Step::Oom)?;
                    slots[slot] = inst.into();
                    return match Class(g).init().as_gc() {
                        Some(init) => self.call(frames, *sp, Closure(init), argc),
                        None if argc != 0 => {
                            Err(Step::Error(format!("Expected 0 arguments but got {argc}.")))
                        }
                        None => Ok(()),
                    };
                }
                NATIVE => {
                    let v = Value::number(self.start.elapsed().as_secs_f64());
                    slots[slot] = v;
                    *sp = slot + 1;
                    return Ok(());
                }
                _ => {}
            }
        }
        Err(Step::Error("Can only call functions and classes.".into()))
    }

    /// The inline cache `i`: where the key of the lookup at this
    /// instruction was found last time (see [`table_get_hinted`]). A hint
    /// is only ever a guess that the lookup checks, so a stale or wrong
    /// one costs a probe, never a wrong answer.
    #[inline(always)]
    fn hint(&mut self, i: usize) -> &mut u32 {
        match self.hints.get_mut(i) {
            Some(h) => h,
            None => &mut self.spare_hint,
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn invoke_from_class(
        &mut self,
        sp: usize,
        frames: &mut Frames<'gc>,
        class: Class<'gc>,
        name: Gc<'gc>,
        argc: usize,
        cache: usize,
    ) -> Result<(), Step> {
        match table_get_hinted(class.methods(), name, self.hint(cache)) {
            Some(m) => self.call(frames, sp, Closure(m.as_gc().expect("method")), argc),
            None => Err(undefined_property(name)),
        }
    }

    /// Replaces the receiver on top of the stack by `class`'s method
    /// `name` bound to it.
    fn bind_method(
        &mut self,
        slots: &mut [Value<'gc>],
        sp: usize,
        class: Class<'gc>,
        name: Gc<'gc>,
    ) -> Result<(), Step> {
        let Some(method) = table_get(class.methods(), name) else {
            return Err(undefined_property(name));
        };
        let top = &mut slots[sp - 1];
        let bound = Bound::alloc(self.m, *top, method).map_err(Step::Oom)?;
        *top = bound.into();
        Ok(())
    }

    /// The open upvalue for stack slot `index`, made if there is none
    /// (clox's `captureUpvalue`).
    fn capture_upvalue(&mut self, index: usize) -> Result<Upvalue<'gc>, AllocError> {
        let mut prev: Option<Upvalue<'gc>> = None;
        let mut up = self.root.get(ROOT_OPEN_UPVALUES).as_gc().map(Upvalue);
        while let Some(u) = up {
            let i = u.stack_index();
            if i <= index {
                if i == index {
                    return Ok(u);
                }
                break;
            }
            prev = Some(u);
            up = u.next();
        }
        let new = Upvalue::alloc_open(self.m, index, up)?;
        match prev {
            None => self.m.set(self.root, ROOT_OPEN_UPVALUES, new.into()),
            Some(p) => p.set_next(self.m, new),
        }
        self.open_upvalues = true;
        Ok(new)
    }

    #[inline]
    fn close_upvalues(&mut self, slots: &[Value<'gc>], last: usize) {
        if !self.open_upvalues {
            return;
        }
        self.close_upvalues_slow(slots, last)
    }

    #[inline(never)]
    fn close_upvalues_slow(&mut self, slots: &[Value<'gc>], last: usize) {
        while let Some(u) = self.root.get(ROOT_OPEN_UPVALUES).as_gc().map(Upvalue) {
            let i = u.stack_index();
            if i < last {
                break;
            }
            let next = u.next().map_or(Value::NIL, Value::from);
            u.close(self.m, slots[i]);
            self.m.set(self.root, ROOT_OPEN_UPVALUES, next);
        }
        self.open_upvalues = !self.root.get(ROOT_OPEN_UPVALUES).is_nil();
    }

    /// The slot of the global whose constant is `k`: the compiler seeded
    /// the constant's inline cache with it ([`Globals::take_new_caches`]),
    /// so this reads a `u32` where clox would hash a name. A missing
    /// cache gives a slot past the end: "Undefined variable".
    #[inline(always)]
    fn global_slot(&self, cache: usize, k: u8) -> usize {
        self.hints
            .get(cache + usize::from(k))
            .map_or(usize::MAX, |&s| s as usize)
    }

    /// The global in `slot`, or the "Undefined variable" error.
    #[inline]
    fn global(&self, slot: usize) -> Result<Value<'gc>, Step> {
        // A slot whose `DEFINE_GLOBAL` has not run holds the `UNDEF`
        // marker object (compared by its bits): globals stay late-bound,
        // as in clox, although the compiler resolved their slots.
        match self.globals.try_get(slot) {
            Some(v) if v.raw() != self.undef => Ok(v),
            _ => Err(Step::Error(format!(
                "Undefined variable '{}'.",
                self.names.name(slot)
            ))),
        }
    }

    /// For `GET_LOCAL a; GET_PROPERTY k` with `ip` at `a` (just past the
    /// opcode): the local, and its field `k` if the local is an instance
    /// that has it (through the inline cache of `k`).
    #[inline(always)]
    fn local_field(
        &mut self,
        slots: &[Value<'gc>],
        base: usize,
        function: Function<'gc>,
        code: &[u8],
        ip: usize,
        cache: usize,
    ) -> (Value<'gc>, Option<Value<'gc>>) {
        let local = slots[base + usize::from(code[ip])];
        // GET_PROPERTY's operand, past GET_LOCAL's and its own opcode.
        let k = usize::from(code[ip + 2]);
        let name = function.string(k);
        let field = Instance::of(local)
            .and_then(Instance::fields)
            .and_then(|t| table_get_hinted(t, name, self.hint(cache + k)));
        (local, field)
    }

    /// `INVOKE name argc` (clox's `invoke`): calls the receiver's field
    /// `name` if it has one, else its class's method `name` (through the
    /// inline cache `cache`). If it fails for lack of memory, the stack is
    /// as it was, so that the instruction can be retried.
    #[inline(always)]
    fn invoke(
        &mut self,
        slots: &mut [Value<'gc>],
        sp: &mut usize,
        frames: &mut Frames<'gc>,
        name: Gc<'gc>,
        argc: usize,
        cache: usize,
    ) -> Result<(), Step> {
        let slot = *sp - argc - 1;
        let receiver = slots[slot];
        let Some(inst) = Instance::of(receiver) else {
            return Err(Step::Error("Only instances have methods.".into()));
        };
        // Almost always a miss, which the fields table's key filter
        // answers without a probe.
        if let Some(v) = inst.fields().and_then(|t| table_get(t, name)) {
            slots[slot] = v;
            let called = self.call_value(slots, sp, frames, v, argc);
            if let Err(Step::Oom(_)) = called {
                slots[slot] = receiver;
            }
            return called;
        }
        self.invoke_from_class(*sp, frames, inst.class(), name, argc, cache)
    }

    /// Executes up to `fuel` ticks; returns how the burst ended and how
    /// many ticks it used. The current frame's ip is saved
    /// in `frames` on every way out.
    fn exec(&mut self, stack: &mut Stack<'gc>, frames: &mut Frames<'gc>, fuel: u32) -> (Step, u32) {
        let m = self.m;
        // The stack as a window with headroom: `slots[..sp]` are the
        // values, `slots[sp..]` nil. The top index lives in a register,
        // where a `Vec`'s length would be reloaded after every store.
        let mut sp = stack.len();
        stack.resize(sp + HEADROOM, Value::NIL);
        let mut slots: &mut [Value<'gc>] = &mut stack[..];
        // Instructions left in this poll window, and after it.
        let mut tick = POLL.min(fuel);
        let mut rest = fuel - tick;
        'frame: loop {
            let CallFrame {
                function,
                code,
                cache,
                base,
                mut ip,
                ..
            } = *frames.top();
            // The frame's closure and the frame itself are looked up
            // through `frames` when needed (`frames.top()`): fewer live
            // values in the dispatch loop, fewer spills.
            //
            // The macros below stay macros for one of two reasons. Control
            // flow: they leave `exec` (`return`), go to the next frame
            // (`continue 'frame`) or bail out of the instruction. Or the
            // stack: `push!` writes the register-resident `slots` and `sp`
            // and, when the window is full, re-borrows `slots` from
            // `stack`, which no function can take together; `pop!`,
            // `top!` and `peek!` keep it company so the stack reads one way.

            // Ends the burst with `$step` (the frame's ip already saved).
            macro_rules! leave {
                ($step:expr) => {{
                    stack.truncate(sp);
                    return ($step, fuel - rest - tick);
                }};
            }
            // Saves the frame's ip and ends the burst with `$step`.
            macro_rules! out {
                ($step:expr) => {{
                    frames.top_mut().ip = ip;
                    leave!($step)
                }};
            }
            macro_rules! fail {
                ($($t:tt)*) => {
                    out!(Step::Error(format!($($t)*)))
                };
            }
            // The value of a helper's `Result`, or the end of the burst:
            // out of memory retries the instruction from `$start` after a
            // collection; any other error is the script's runtime error.
            macro_rules! check {
                ($e:expr, $start:expr) => {
                    match $e {
                        Ok(v) => v,
                        Err(Step::Oom(e)) => {
                            frames.top_mut().ip = $start;
                            leave!(Step::Oom(e))
                        }
                        Err(e) => out!(e),
                    }
                };
            }
            macro_rules! alloc {
                ($e:expr, $start:expr) => {
                    check!($e.map_err(Step::Oom), $start)
                };
            }
            macro_rules! push {
                ($v:expr) => {{
                    let v = $v;
                    if sp == slots.len() {
                        let w = slots.len();
                        stack.resize(2 * w, Value::NIL);
                        slots = &mut stack[..];
                    }
                    slots[sp] = v;
                    sp += 1;
                }};
            }
            macro_rules! pop {
                () => {{
                    sp -= 1;
                    slots[sp]
                }};
            }
            macro_rules! top {
                () => {
                    &mut slots[sp - 1]
                };
            }
            macro_rules! peek {
                ($d:expr) => {
                    slots[sp - 1 - $d]
                };
            }
            // The fused arithmetic families, one match arm per operator:
            // `$f` is one of the `num_*` functions (inlined, so the
            // operator costs no second dispatch). Macros for `push!` and
            // `check!`.
            macro_rules! local_constant {
                ($f:ident) => {{
                    let first = slots[base + usize::from(code[ip])];
                    let c = function.constant(usize::from(code[ip + 2]));
                    match $f(first, c) {
                        Some(v) => {
                            push!(v);
                            ip += const { rest_of(&[op::GET_LOCAL, op::CONSTANT, op::EQUAL]) };
                        }
                        None => {
                            push!(first);
                            ip += const { rest_of(&[op::GET_LOCAL]) };
                        }
                    }
                }};
            }
            macro_rules! global_constant {
                ($f:ident, $start:expr) => {{
                    let slot = self.global_slot(cache, read_byte(code, &mut ip));
                    let first = check!(self.global(slot), $start);
                    let c = function.constant(usize::from(code[ip + 1]));
                    match $f(first, c) {
                        Some(v) => {
                            push!(v);
                            ip += const { len_of(&[op::CONSTANT, op::EQUAL]) };
                        }
                        None => push!(first),
                    }
                }};
            }
            macro_rules! top_constant {
                ($f:ident) => {{
                    let c = function.constant(usize::from(code[ip]));
                    let top = top!();
                    match $f(*top, c) {
                        Some(v) => {
                            *top = v;
                            ip += const { rest_of(&[op::CONSTANT, op::EQUAL]) };
                        }
                        None => {
                            ip += const { rest_of(&[op::CONSTANT]) };
                            push!(c);
                        }
                    }
                }};
            }
            // Returns from the current frame with `result`.
            macro_rules! ret {
                ($result:expr) => {{
                    let result = $result;
                    self.close_upvalues(slots, base);
                    // The frame's slot in FRAMES keeps its closure until
                    // the next call at this depth overwrites it: at most
                    // 64 closures held a little longer, and no barrier on
                    // every return.
                    frames.pop();
                    sp = base;
                    if frames.is_empty() {
                        leave!(Step::Done);
                    }
                    push!(result);
                    continue 'frame;
                }};
            }
            // A numeric operator (`$f` is one of the `num_*` functions).
            macro_rules! binary {
                ($f:ident) => {{
                    let b = pop!();
                    let a = top!();
                    match $f(*a, b) {
                        Some(v) => *a = v,
                        None => fail!("Operands must be numbers."),
                    }
                }};
            }
            loop {
                // Where the instruction starts: it restarts there after a
                // yield or a failed allocation.
                let start = ip;
                // A backward jump or a call: spend a tick; at the end of a
                // poll window, maybe yield (the instruction then restarts
                // after the safepoint).
                macro_rules! tick {
                    () => {
                        tick -= 1;
                        if tick == 0 {
                            if rest == 0 || m.should_yield() {
                                frames.top_mut().ip = start;
                                leave!(Step::Yield);
                            }
                            tick = POLL.min(rest);
                            rest -= tick;
                        }
                    };
                }
                match read_byte(code, &mut ip) {
                    op::CONSTANT => {
                        let c = read_constant(function, code, &mut ip);
                        push!(c)
                    }
                    op::NIL => push!(Value::NIL),
                    op::TRUE => push!(Value::bool(true)),
                    op::FALSE => push!(Value::bool(false)),
                    op::POP => {
                        pop!();
                    }
                    op::GET_LOCAL => {
                        let v = slots[base + usize::from(read_byte(code, &mut ip))];
                        push!(v);
                    }
                    op::SET_LOCAL => {
                        let s = base + usize::from(read_byte(code, &mut ip));
                        slots[s] = peek!(0);
                    }
                    op::GET_GLOBAL => {
                        let slot = self.global_slot(cache, read_byte(code, &mut ip));
                        let v = check!(self.global(slot), start);
                        push!(v);
                    }
                    op::DEFINE_GLOBAL => {
                        let name = read_string(function, code, &mut ip);
                        let slot = self
                            .names
                            .lookup(str_text(name))
                            .expect("the compiler gives every global a slot");
                        store(m, self.globals, slot, pop!());
                    }
                    op::SET_GLOBAL => {
                        let slot = self.global_slot(cache, read_byte(code, &mut ip));
                        check!(self.global(slot), start);
                        store(m, self.globals, slot, peek!(0));
                    }
                    op::GET_UPVALUE => {
                        let u = frames
                            .top()
                            .closure
                            .upvalue(usize::from(read_byte(code, &mut ip)));
                        let v = if u.is_open() {
                            slots[u.stack_index()]
                        } else {
                            u.closed()
                        };
                        push!(v);
                    }
                    op::SET_UPVALUE => {
                        let u = frames
                            .top()
                            .closure
                            .upvalue(usize::from(read_byte(code, &mut ip)));
                        let v = peek!(0);
                        if u.is_open() {
                            slots[u.stack_index()] = v;
                        } else {
                            store(m, u.0, Upvalue::VALUE, v)
                        }
                    }
                    op::GET_PROPERTY => {
                        let k = usize::from(read_byte(code, &mut ip));
                        let name = function.string(k);
                        let Some(inst) = Instance::of(peek!(0)) else {
                            fail!("Only instances have properties.")
                        };
                        let field = match inst.fields() {
                            Some(t) => table_get_hinted(t, name, self.hint(cache + k)),
                            None => None,
                        };
                        if let Some(v) = field {
                            *top!() = v;
                        } else {
                            check!(self.bind_method(slots, sp, inst.class(), name), start);
                        }
                    }
                    op::SET_PROPERTY => {
                        let k = usize::from(read_byte(code, &mut ip));
                        let name = function.string(k);
                        let Some(inst) = Instance::of(peek!(1)) else {
                            fail!("Only instances have fields.")
                        };
                        let v = peek!(0);
                        // Overwriting a field where the cache says it is;
                        // otherwise the general path, which sizes a new
                        // fields table by what the class's instances grew
                        // to before (so that they do not all regrow).
                        let hit = inst.fields().and_then(|t| {
                            let at = hinted_slot(t, name, *self.hint(cache + k))?;
                            store(m, t, at + 1, v);
                            Some(())
                        });
                        if hit.is_none() {
                            let class = inst.class();
                            let want = class.fields_hint();
                            let (_, at) = alloc!(
                                table_set_sized(m, inst.0, Instance::FIELDS, name, v, want),
                                start
                            );
                            *self.hint(cache + k) = at;
                            let t = inst.fields().expect("fields");
                            if capacity(t) > want {
                                let cap = Value::number(capacity(t) as f64);
                                store(m, class.0, Class::FIELDS_HINT, cap);
                            }
                        }
                        pop!();
                        *top!() = v;
                    }
                    op::GET_SUPER => {
                        let name = read_string(function, code, &mut ip);
                        let sup = Class(pop!().as_gc().expect("superclass"));
                        if let Err(e) = self.bind_method(slots, sp, sup, name) {
                            if let Step::Oom(_) = e {
                                push!(sup.into());
                                frames.top_mut().ip = start;
                                leave!(e);
                            }
                            out!(e);
                        }
                    }
                    op::EQUAL => {
                        let b = pop!();
                        let a = top!();
                        *a = Value::bool(*a == b);
                    }
                    op::GREATER => binary!(num_gt),
                    op::LESS => binary!(num_lt),
                    op::ADD => {
                        let (b, a) = (peek!(0), peek!(1));
                        match (a.unpack(), b.unpack()) {
                            (Unpacked::Number(x), Unpacked::Number(y)) => {
                                pop!();
                                *top!() = Value::number(x + y);
                            }
                            (Unpacked::Ref(x), Unpacked::Ref(y))
                                if x.kind() == STRING && y.kind() == STRING =>
                            {
                                let r = alloc!(
                                    self.interner.intern_concat(m, str_text(x), str_text(y)),
                                    start
                                );
                                pop!();
                                *top!() = r.into();
                            }
                            _ => fail!("Operands must be two numbers or two strings."),
                        }
                    }
                    op::SUBTRACT => binary!(num_sub),
                    op::MULTIPLY => binary!(num_mul),
                    op::DIVIDE => binary!(num_div),
                    op::NOT => {
                        let v = top!();
                        *v = Value::bool(is_falsey(*v));
                    }
                    op::NEGATE => {
                        let v = top!();
                        let Some(n) = v.as_number() else {
                            fail!("Operand must be a number.")
                        };
                        *v = Value::number(-n);
                    }
                    op::PRINT => {
                        let v = pop!();
                        if let Err(e) = print_value(&mut *self.out, v) {
                            out!(Step::Output(e))
                        }
                    }
                    op::JUMP => {
                        let off = read_short(code, &mut ip);
                        ip += off;
                    }
                    op::JUMP_IF_FALSE => {
                        let off = read_short(code, &mut ip);
                        if is_falsey(peek!(0)) {
                            ip += off;
                        }
                    }
                    op::LOOP => {
                        tick!();
                        let off = read_short(code, &mut ip);
                        ip -= off;
                    }
                    op::CALL => {
                        tick!();
                        let argc = usize::from(read_byte(code, &mut ip));
                        frames.top_mut().ip = ip;
                        let callee = peek!(argc);
                        check!(self.call_value(slots, &mut sp, frames, callee, argc), start);
                        continue 'frame;
                    }
                    op::INVOKE => {
                        tick!();
                        let (k, argc) = read_invoke(code, &mut ip);
                        frames.top_mut().ip = ip;
                        let call = self.invoke(
                            slots,
                            &mut sp,
                            frames,
                            function.string(k),
                            argc,
                            cache + k,
                        );
                        check!(call, start);
                        continue 'frame;
                    }
                    op::SUPER_INVOKE => {
                        tick!();
                        let (k, argc) = read_invoke(code, &mut ip);
                        let name = function.string(k);
                        frames.top_mut().ip = ip;
                        let sup = Class(pop!().as_gc().expect("superclass"));
                        check!(
                            self.invoke_from_class(sp, frames, sup, name, argc, cache + k),
                            start
                        );
                        continue 'frame;
                    }
                    op::CLOSURE => {
                        let f = Function(
                            read_constant(function, code, &mut ip)
                                .as_gc()
                                .expect("function constant"),
                        );
                        let n = f.upvalue_count();
                        let mut slots: Vec<Value<'gc>> = Vec::with_capacity(Closure::UPVALUES + n);
                        slots.push(f.into());
                        for _ in 0..n {
                            let local = read_byte(code, &mut ip) == 1;
                            let index = usize::from(read_byte(code, &mut ip));
                            let up = if local {
                                alloc!(self.capture_upvalue(base + index), start)
                            } else {
                                frames.top().closure.upvalue(index)
                            };
                            slots.push(up.into());
                        }
                        let c = alloc!(Closure::alloc(m, &slots), start);
                        push!(c.into());
                    }
                    op::CLOSE_UPVALUE => {
                        self.close_upvalues(slots, sp - 1);
                        pop!();
                    }
                    op::RETURN => {
                        let result = pop!();
                        ret!(result);
                    }
                    op::CLASS => {
                        let name = read_string(function, code, &mut ip);
                        let class = alloc!(Class::alloc(m, name), start);
                        push!(class.into());
                    }
                    op::INHERIT => {
                        let Some(sup) = peek!(1).as_gc().filter(|g| g.kind() == CLASS) else {
                            fail!("Superclass must be a class.")
                        };
                        let sup = Class(sup);
                        let sub = Class(peek!(0).as_gc().expect("subclass"));
                        alloc!(
                            table_add_all(m, sup.methods(), sub.0, Class::METHODS),
                            start
                        );
                        store(m, sub.0, Class::INIT, sup.init());
                        pop!();
                    }
                    op::METHOD => {
                        let name = read_string(function, code, &mut ip);
                        let method = peek!(0);
                        let class = peek!(1).as_gc().expect("class");
                        alloc!(table_set(m, class, Class::METHODS, name, method), start);
                        if Some(name) == self.root.get(ROOT_INIT).as_gc() {
                            store(m, class, Class::INIT, method);
                        }
                        pop!();
                    }
                    // Superinstructions: see `chunk::fuse`. `ip` is just
                    // past the first opcode; a fast path skips the whole
                    // sequence (`rest_of` its instructions), a slow one
                    // does the first instruction and resumes at the
                    // second, whose bytes are still in place.
                    op::LOCAL_PROPERTY_INVOKE => {
                        tick!();
                        let (local, field) =
                            self.local_field(slots, base, function, code, ip, cache);
                        match field {
                            Some(v) => {
                                push!(v);
                                // On to INVOKE's operands.
                                ip += const { rest_of(&[op::GET_LOCAL, op::GET_PROPERTY]) + 1 };
                                let (k, argc) = read_invoke(code, &mut ip);
                                frames.top_mut().ip = ip;
                                let call = self.invoke(
                                    slots,
                                    &mut sp,
                                    frames,
                                    function.string(k),
                                    argc,
                                    cache + k,
                                );
                                check!(
                                    call,
                                    start + const { len_of(&[op::GET_LOCAL, op::GET_PROPERTY]) }
                                );
                                continue 'frame;
                            }
                            None => {
                                push!(local);
                                ip += const { rest_of(&[op::GET_LOCAL]) };
                            }
                        }
                    }
                    op::LOCAL_PROPERTY => {
                        let (local, field) =
                            self.local_field(slots, base, function, code, ip, cache);
                        match field {
                            Some(v) => {
                                push!(v);
                                ip += const { rest_of(&[op::GET_LOCAL, op::GET_PROPERTY]) };
                            }
                            None => {
                                push!(local);
                                ip += const { rest_of(&[op::GET_LOCAL]) };
                            }
                        }
                    }
                    op::LOCAL_CONSTANT_EQ => local_constant!(num_eq),
                    op::LOCAL_CONSTANT_GT => local_constant!(num_gt),
                    op::LOCAL_CONSTANT_LT => local_constant!(num_lt),
                    op::LOCAL_CONSTANT_ADD => local_constant!(num_add),
                    op::LOCAL_CONSTANT_SUB => local_constant!(num_sub),
                    op::LOCAL_CONSTANT_MUL => local_constant!(num_mul),
                    op::LOCAL_CONSTANT_DIV => local_constant!(num_div),
                    op::GLOBAL_CONSTANT_EQ => global_constant!(num_eq, start),
                    op::GLOBAL_CONSTANT_GT => global_constant!(num_gt, start),
                    op::GLOBAL_CONSTANT_LT => global_constant!(num_lt, start),
                    op::GLOBAL_CONSTANT_ADD => global_constant!(num_add, start),
                    op::GLOBAL_CONSTANT_SUB => global_constant!(num_sub, start),
                    op::GLOBAL_CONSTANT_MUL => global_constant!(num_mul, start),
                    op::GLOBAL_CONSTANT_DIV => global_constant!(num_div, start),
                    op::CONSTANT_EQ => top_constant!(num_eq),
                    op::CONSTANT_GT => top_constant!(num_gt),
                    op::CONSTANT_LT => top_constant!(num_lt),
                    op::CONSTANT_ADD => top_constant!(num_add),
                    op::CONSTANT_SUB => top_constant!(num_sub),
                    op::CONSTANT_MUL => top_constant!(num_mul),
                    op::CONSTANT_DIV => top_constant!(num_div),
                    op::TEST_POP => {
                        let off = read_short(code, &mut ip);
                        if is_falsey(pop!()) {
                            ip += off;
                        }
                        // Past the POP, here or at the target.
                        ip += const { len_of(&[op::POP]) };
                    }
                    op::LOCAL_LOCAL => {
                        let a = slots[base + usize::from(code[ip])];
                        let b = slots[base + usize::from(code[ip + 2])];
                        push!(a);
                        push!(b);
                        ip += const { rest_of(&[op::GET_LOCAL, op::GET_LOCAL]) };
                    }
                    op::LITERAL_POP => ip += const { rest_of(&[op::NIL, op::POP]) },
                    op::CONSTANT_POP => ip += const { rest_of(&[op::CONSTANT, op::POP]) },
                    op::RETURN_NIL => ret!(Value::NIL),
                    op::GLOBAL_INVOKE => {
                        tick!();
                        let slot = self.global_slot(cache, read_byte(code, &mut ip));
                        let v = check!(self.global(slot), start);
                        push!(v);
                        ip += 1; // INVOKE's opcode
                        let (k, argc) = read_invoke(code, &mut ip);
                        frames.top_mut().ip = ip;
                        let call = self.invoke(
                            slots,
                            &mut sp,
                            frames,
                            function.string(k),
                            argc,
                            cache + k,
                        );
                        check!(call, start + const { len_of(&[op::GET_GLOBAL]) });
                        continue 'frame;
                    }
                    op::LOCAL_PROPERTY_RETURN => {
                        let (local, field) =
                            self.local_field(slots, base, function, code, ip, cache);
                        match field {
                            Some(v) => ret!(v),
                            None => {
                                push!(local);
                                ip += const { rest_of(&[op::GET_LOCAL]) };
                            }
                        }
                    }
                    op::RETURN_LOCAL => ret!(slots[base + usize::from(code[ip])]),
                    op::POP_LOCAL => {
                        let v = slots[base + usize::from(code[ip + 1])];
                        *top!() = v;
                        ip += const { len_of(&[op::GET_LOCAL]) };
                    }
                    other => fail!("Unknown opcode {other}."),
                }
            }
        }
    }
}

/// Reads the byte at `ip` and moves past it (clox's `READ_BYTE`).
#[inline(always)]
fn read_byte(code: &[u8], ip: &mut usize) -> u8 {
    *ip += 1;
    code[*ip - 1]
}

/// Reads a big-endian 16-bit operand (clox's `READ_SHORT`).
#[inline(always)]
fn read_short(code: &[u8], ip: &mut usize) -> usize {
    *ip += 2;
    (usize::from(code[*ip - 2]) << 8) | usize::from(code[*ip - 1])
}

/// Reads a constant operand (clox's `READ_CONSTANT`).
#[inline(always)]
fn read_constant<'gc>(function: Function<'gc>, code: &[u8], ip: &mut usize) -> Value<'gc> {
    function.constant(usize::from(read_byte(code, ip)))
}

/// Reads a constant operand that is a name (clox's `READ_STRING`).
#[inline(always)]
fn read_string<'gc>(function: Function<'gc>, code: &[u8], ip: &mut usize) -> Gc<'gc> {
    function.string(usize::from(read_byte(code, ip)))
}

/// Reads `INVOKE`'s operands: the name's constant and the argument count.
#[inline(always)]
fn read_invoke(code: &[u8], ip: &mut usize) -> (usize, usize) {
    let k = usize::from(read_byte(code, ip));
    (k, usize::from(read_byte(code, ip)))
}

// The numeric operators: the result, or `None` if the operands are not
// both numbers (the plain instruction's error; a fused instruction's slow
// path).
macro_rules! numeric {
    ($($name:ident => |$x:ident, $y:ident| $e:expr;)*) => {$(
        #[inline(always)]
        fn $name<'gc>(a: Value<'gc>, b: Value<'gc>) -> Option<Value<'gc>> {
            let ($x, $y) = (a.as_number()?, b.as_number()?);
            Some($e)
        }
    )*};
}

numeric! {
    num_gt => |x, y| Value::bool(x > y);
    num_lt => |x, y| Value::bool(x < y);
    num_add => |x, y| Value::number(x + y);
    num_sub => |x, y| Value::number(x - y);
    num_mul => |x, y| Value::number(x * y);
    num_div => |x, y| Value::number(x / y);
}

/// Equality takes any operands (Lox's `==` never fails).
#[inline(always)]
fn num_eq<'gc>(a: Value<'gc>, b: Value<'gc>) -> Option<Value<'gc>> {
    Some(Value::bool(a == b))
}

/// A slot store through the collector's write barrier, kept out of the
/// dispatch loop: inlined, each backend's barrier made the loop's code
/// (and its branch prediction) differ by backend.
#[inline(never)]
fn store<'gc, C: Collector>(m: &Mutator<'gc, C>, obj: Gc<'gc>, index: usize, value: Value<'gc>) {
    m.set(obj, index, value)
}

/// Lox truthiness: `nil` and `false` are false, everything else true.
pub fn is_falsey(v: Value<'_>) -> bool {
    v.is_nil() || v.as_bool() == Some(false)
}
