//! The bytecode VM (clox's `vm.c`), generic over the collector.
//!
//! All VM state that lives across safepoints is in the heap: the operand
//! stack is the heap's root stack, and a `ROOT` object (held by a
//! `Persistent`) holds the globals, the open upvalues and the closure of
//! every call frame. Rust-side the VM keeps only integers (each frame's
//! instruction pointer and stack base). It runs in bursts: each `mutate`
//! call executes instructions until a fuel budget is spent or the heap asks
//! for a safepoint (`should_yield`), so long-running scripts collect.
//!
//! Every instruction allocates before it changes the stack, so one that
//! fails for lack of memory can be retried after a full collection; if it
//! fails again, the script stops with a runtime error.

use std::io::Write;
use std::time::Instant;

use gc_runtime::{
    AllocError, CollectKind, Collector, Gc, Heap, Mutator, Persistent, Unpacked, Value,
};

use crate::compiler::{CompileError, compile, op};
use crate::object::*;

/// Instructions per burst before the VM returns to a safepoint anyway.
const FUEL: u32 = 100_000;
/// The same in stress mode.
const STRESS_FUEL: u32 = 997;

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
}

enum Step {
    Yield,
    Done,
    Error(String),
    Oom(AllocError),
}

/// A Lox VM on a heap of collector `C`.
pub struct Vm<'io, C: Collector> {
    heap: Heap<C>,
    root: Persistent,
    interner: Interner,
    frames: Vec<Frame>,
    out: &'io mut dyn Write,
    err: &'io mut dyn Write,
    start: Instant,
    /// Instructions left, if limited ([`Vm::set_instruction_limit`]).
    budget: Option<u64>,
}

fn runtime<T>(msg: String) -> Result<T, Step> {
    Err(Step::Error(msg))
}

impl<'io, C: Collector> Vm<'io, C> {
    /// Makes a VM; fails only if the heap cannot hold its root objects.
    pub fn new(
        mut heap: Heap<C>,
        out: &'io mut dyn Write,
        err: &'io mut dyn Write,
    ) -> Result<Self, AllocError> {
        let mut interner = Interner::default();
        let root = heap.mutate(|m| -> Result<Persistent, AllocError> {
            let globals = new_table(m, 8)?;
            let init = interner.intern(m, "init")?;
            let frames = m.alloc_filled(FRAMES, FRAMES_MAX, Value::NIL, &[])?;
            let root = m.alloc(
                ROOT,
                &[globals.into(), Value::NIL, init.into(), frames.into()],
                &[],
            )?;
            let clock_name = interner.intern(m, "clock")?;
            let clock = m.alloc(NATIVE, &[clock_name.into()], &[0])?;
            table_set(m, root, ROOT_GLOBALS, clock_name, clock.into())?;
            Ok(m.persist(root))
        })?;
        Ok(Vm {
            heap,
            root,
            interner,
            frames: Vec::new(),
            out,
            err,
            start: Instant::now(),
            budget: None,
        })
    }

    /// Limits the instructions the VM executes from now on (`None`: no
    /// limit). Past the limit, execution stops with the runtime error
    /// "Instruction limit exceeded." (for fuzzing and sandboxing: every
    /// program then terminates).
    pub fn set_instruction_limit(&mut self, limit: Option<u64>) {
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
        let interner = &mut self.interner;
        let compiled = self.heap.mutate(|m| -> Result<(), CompileError> {
            let f = compile(m, interner, source)?;
            let closure = m
                .alloc(CLOSURE, &[f.into()], &[])
                .map_err(CompileError::Memory)?;
            m.stack_push(closure.into());
            let frames = m
                .fetch(&self.root)
                .get(ROOT_FRAMES)
                .as_gc()
                .expect("frames");
            m.set(frames, 0, closure.into());
            Ok(())
        });
        match compiled {
            Ok(()) => {}
            Err(CompileError::Syntax(errors)) => {
                for e in errors {
                    let _ = writeln!(self.err, "{e}");
                }
                return Outcome::CompileError;
            }
            Err(CompileError::Memory(e)) => {
                let _ = writeln!(self.err, "Out of memory while compiling: {e}");
                return Outcome::CompileError;
            }
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
                    frames,
                    out,
                    start,
                    budget,
                    ..
                } = self;
                heap.mutate(|m| {
                    let mut b = Burst {
                        m,
                        root: m.fetch(root),
                        interner,
                        frames,
                        out: &mut **out,
                        start: *start,
                        budget,
                    };
                    match b.run() {
                        Ok(s) | Err(s) => s,
                    }
                })
            };
            match step {
                Step::Yield => retried = false,
                Step::Done => {
                    let _ = self.out.flush();
                    return Outcome::Ok;
                }
                Step::Oom(e) if !retried => {
                    let _ = e;
                    retried = true;
                    self.heap.collect(CollectKind::Full);
                }
                Step::Oom(e) => {
                    let _ = self.out.flush();
                    return self.runtime_error(format!("Out of memory: {e}"));
                }
                Step::Error(msg) => {
                    let _ = self.out.flush();
                    return self.runtime_error(msg);
                }
            }
        }
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
                let closure = fa.get(i).as_gc().expect("frame closure");
                let function = closure.get(0).as_gc().expect("closure function");
                let line = fn_info(function).line(f.ip.saturating_sub(1));
                match function.get(0).as_gc() {
                    Some(name) => {
                        let _ = writeln!(err, "[line {line}] in {}()", str_text(name));
                    }
                    None => {
                        let _ = writeln!(err, "[line {line}] in script");
                    }
                }
            }
            m.stack_truncate(0);
            m.set(m.fetch(&self.root), ROOT_OPEN_UPVALUES, Value::NIL);
        });
        self.frames.clear();
        Outcome::RuntimeError
    }
}

/// The VM inside one `mutate` call.
struct Burst<'a, 'gc, C: Collector> {
    m: &'a Mutator<'gc, C>,
    root: Gc<'gc>,
    interner: &'a mut Interner,
    frames: &'a mut Vec<Frame>,
    out: &'a mut dyn Write,
    start: Instant,
    budget: &'a mut Option<u64>,
}

fn oom(e: AllocError) -> Step {
    Step::Oom(e)
}

impl<'gc, C: Collector> Burst<'_, 'gc, C> {
    #[inline]
    fn peek(&self, distance: usize) -> Value<'gc> {
        self.m.stack_get(self.m.stack_len() - 1 - distance)
    }

    #[inline]
    fn pop(&self) -> Value<'gc> {
        self.m.stack_pop().expect("stack underflow")
    }

    #[inline]
    fn push(&self, v: Value<'gc>) {
        self.m.stack_push(v)
    }

    #[inline]
    fn frames_arr(&self) -> Gc<'gc> {
        self.root.get(ROOT_FRAMES).as_gc().expect("frames")
    }

    #[inline]
    fn globals(&self) -> Gc<'gc> {
        self.root.get(ROOT_GLOBALS).as_gc().expect("globals")
    }

    #[inline]
    fn call(&mut self, closure: Gc<'gc>, argc: usize) -> Result<(), Step> {
        let function = closure.get(0).as_gc().expect("closure function");
        let arity = usize::from(function.bytes()[0]);
        if argc != arity {
            return runtime(format!("Expected {arity} arguments but got {argc}."));
        }
        if self.frames.len() == FRAMES_MAX {
            return runtime("Stack overflow.".into());
        }
        let depth = self.frames.len();
        self.m.set(self.frames_arr(), depth, closure.into());
        self.frames.push(Frame {
            ip: 0,
            base: self.m.stack_len() - argc - 1,
        });
        Ok(())
    }

    #[inline]
    fn call_value(&mut self, callee: Value<'gc>, argc: usize) -> Result<(), Step> {
        if let Some(g) = callee.as_gc() {
            match g.kind() {
                CLOSURE => return self.call(g, argc),
                BOUND => {
                    let slot = self.m.stack_len() - argc - 1;
                    self.m.stack_set(slot, g.get(0));
                    return self.call(g.get(1).as_gc().expect("method"), argc);
                }
                CLASS => {
                    let fields = new_table(self.m, 0).map_err(oom)?;
                    let inst = self
                        .m
                        .alloc(INSTANCE, &[g.into(), fields.into()], &[])
                        .map_err(oom)?;
                    let slot = self.m.stack_len() - argc - 1;
                    self.m.stack_set(slot, inst.into());
                    let init = self.root.get(ROOT_INIT).as_gc().expect("init string");
                    let methods = g.get(1).as_gc().expect("methods");
                    return match table_get(methods, init) {
                        Some(i) => self.call(i.as_gc().expect("initializer"), argc),
                        None if argc != 0 => {
                            runtime(format!("Expected 0 arguments but got {argc}."))
                        }
                        None => Ok(()),
                    };
                }
                NATIVE => {
                    let v = Value::number(self.start.elapsed().as_secs_f64());
                    let top = self.m.stack_len() - argc - 1;
                    self.m.stack_truncate(top);
                    self.push(v);
                    return Ok(());
                }
                _ => {}
            }
        }
        runtime("Can only call functions and classes.".into())
    }

    fn invoke_from_class(
        &mut self,
        class: Gc<'gc>,
        name: Gc<'gc>,
        argc: usize,
    ) -> Result<(), Step> {
        let methods = class.get(1).as_gc().expect("methods");
        match table_get(methods, name) {
            Some(m) => self.call(m.as_gc().expect("method"), argc),
            None => runtime(format!("Undefined property '{}'.", str_text(name))),
        }
    }

    fn bind_method(&mut self, class: Gc<'gc>, name: Gc<'gc>) -> Result<(), Step> {
        let methods = class.get(1).as_gc().expect("methods");
        let Some(method) = table_get(methods, name) else {
            return runtime(format!("Undefined property '{}'.", str_text(name)));
        };
        let bound = self
            .m
            .alloc(BOUND, &[self.peek(0), method], &[])
            .map_err(oom)?;
        self.pop();
        self.push(bound.into());
        Ok(())
    }

    fn capture_upvalue(&mut self, index: usize) -> Result<Gc<'gc>, Step> {
        let mut prev: Option<Gc<'gc>> = None;
        let mut up = self.root.get(ROOT_OPEN_UPVALUES).as_gc();
        while let Some(u) = up {
            let i = u.get(0).as_number().expect("open index") as usize;
            if i <= index {
                if i == index {
                    return Ok(u);
                }
                break;
            }
            prev = Some(u);
            up = u.get(1).as_gc();
        }
        let new = self
            .m
            .alloc(
                UPVALUE,
                &[
                    Value::number(index as f64),
                    up.map_or(Value::NIL, Value::from),
                    Value::bool(true),
                ],
                &[],
            )
            .map_err(oom)?;
        match prev {
            None => self.m.set(self.root, ROOT_OPEN_UPVALUES, new.into()),
            Some(p) => self.m.set(p, 1, new.into()),
        }
        Ok(new)
    }

    #[inline]
    fn close_upvalues(&mut self, last: usize) {
        if self.root.get(ROOT_OPEN_UPVALUES).is_nil() {
            return;
        }
        self.close_upvalues_slow(last)
    }

    #[inline(never)]
    fn close_upvalues_slow(&mut self, last: usize) {
        while let Some(u) = self.root.get(ROOT_OPEN_UPVALUES).as_gc() {
            let i = u.get(0).as_number().expect("open index") as usize;
            if i < last {
                break;
            }
            self.m.set(u, 0, self.m.stack_get(i));
            self.m.set(u, 2, Value::bool(false));
            let next = u.get(1);
            self.m.set(u, 1, Value::NIL);
            self.m.set(self.root, ROOT_OPEN_UPVALUES, next);
        }
    }

    #[inline]
    fn upvalue_get(&self, u: Gc<'gc>) -> Value<'gc> {
        if u.get(2).as_bool() == Some(true) {
            self.m
                .stack_get(u.get(0).as_number().expect("open index") as usize)
        } else {
            u.get(0)
        }
    }

    #[inline]
    fn upvalue_set(&self, u: Gc<'gc>, v: Value<'gc>) {
        if u.get(2).as_bool() == Some(true) {
            self.m
                .stack_set(u.get(0).as_number().expect("open index") as usize, v)
        } else {
            self.m.set(u, 0, v)
        }
    }

    #[inline]
    fn numbers(&self) -> Option<(f64, f64)> {
        Some((self.peek(1).as_number()?, self.peek(0).as_number()?))
    }

    fn run(&mut self) -> Result<Step, Step> {
        // In stress mode, return to a safepoint (and so collect) far more
        // often, but in proportion to the live heap, so that a program with
        // a big heap does not spend its life in full collections.
        let mut fuel = if self.m.config().stress {
            STRESS_FUEL + (self.m.counters().live_bytes / 32).min(u64::from(FUEL)) as u32
        } else {
            FUEL
        };
        if let Some(b) = *self.budget {
            if b == 0 {
                return Err(Step::Error("Instruction limit exceeded.".into()));
            }
            fuel = fuel.min(b.min(u64::from(u32::MAX)) as u32);
        }
        let fuel0 = fuel;
        loop {
            let fi = self.frames.len() - 1;
            let closure = self.frames_arr().get(fi).as_gc().expect("frame closure");
            let function = closure.get(0).as_gc().expect("closure function");
            let code = fn_info(function).code;
            let base = self.frames[fi].base;
            let mut ip = self.frames[fi].ip;
            macro_rules! byte {
                () => {{
                    ip += 1;
                    code[ip - 1]
                }};
            }
            macro_rules! short {
                () => {{
                    ip += 2;
                    (usize::from(code[ip - 2]) << 8) | usize::from(code[ip - 1])
                }};
            }
            macro_rules! constant {
                () => {
                    function.get(1 + usize::from(byte!()))
                };
            }
            macro_rules! string {
                () => {
                    constant!().as_gc().expect("string constant")
                };
            }
            // Saves the frame's ip, for calls, errors and yields.
            macro_rules! save {
                () => {
                    self.frames[fi].ip = ip
                };
            }
            macro_rules! fail {
                ($($t:tt)*) => {{
                    save!();
                    return Err(Step::Error(format!($($t)*)));
                }};
            }
            macro_rules! alloc {
                ($e:expr, $start:expr) => {
                    match $e {
                        Ok(v) => v,
                        Err(e) => {
                            // Not executed: retry after a collection.
                            self.frames[fi].ip = $start;
                            return Err(Step::Oom(e));
                        }
                    }
                };
            }
            macro_rules! binary {
                ($op:tt, $wrap:expr) => {{
                    let Some((a, b)) = self.numbers() else {
                        fail!("Operands must be numbers.")
                    };
                    self.pop();
                    self.pop();
                    self.push($wrap(a $op b));
                }};
            }
            loop {
                fuel -= 1;
                if fuel == 0 || (fuel.is_multiple_of(1024) && self.m.should_yield()) {
                    save!();
                    if let Some(b) = self.budget.as_mut() {
                        *b = b.saturating_sub(u64::from(fuel0 - fuel));
                    }
                    return Ok(Step::Yield);
                }
                let start = ip;
                match byte!() {
                    op::CONSTANT => {
                        let c = constant!();
                        self.push(c)
                    }
                    op::NIL => self.push(Value::NIL),
                    op::TRUE => self.push(Value::bool(true)),
                    op::FALSE => self.push(Value::bool(false)),
                    op::POP => {
                        self.pop();
                    }
                    op::GET_LOCAL => {
                        let s = usize::from(byte!());
                        self.push(self.m.stack_get(base + s));
                    }
                    op::SET_LOCAL => {
                        let s = usize::from(byte!());
                        self.m.stack_set(base + s, self.peek(0));
                    }
                    op::GET_GLOBAL => {
                        let name = string!();
                        match table_get(self.globals(), name) {
                            Some(v) => self.push(v),
                            None => fail!("Undefined variable '{}'.", str_text(name)),
                        }
                    }
                    op::DEFINE_GLOBAL => {
                        let name = string!();
                        alloc!(
                            table_set(self.m, self.root, ROOT_GLOBALS, name, self.peek(0)),
                            start
                        );
                        self.pop();
                    }
                    op::SET_GLOBAL => {
                        let name = string!();
                        if table_get(self.globals(), name).is_none() {
                            fail!("Undefined variable '{}'.", str_text(name));
                        }
                        alloc!(
                            table_set(self.m, self.root, ROOT_GLOBALS, name, self.peek(0)),
                            start
                        );
                    }
                    op::GET_UPVALUE => {
                        let i = usize::from(byte!());
                        let u = closure.get(1 + i).as_gc().expect("upvalue");
                        self.push(self.upvalue_get(u));
                    }
                    op::SET_UPVALUE => {
                        let i = usize::from(byte!());
                        let u = closure.get(1 + i).as_gc().expect("upvalue");
                        self.upvalue_set(u, self.peek(0));
                    }
                    op::GET_PROPERTY => {
                        let name = string!();
                        let Some(inst) = self.peek(0).as_gc().filter(|g| g.kind() == INSTANCE)
                        else {
                            fail!("Only instances have properties.")
                        };
                        let fields = inst.get(1).as_gc().expect("fields");
                        if let Some(v) = table_get(fields, name) {
                            self.pop();
                            self.push(v);
                        } else {
                            let class = inst.get(0).as_gc().expect("class");
                            save!();
                            match self.bind_method(class, name) {
                                Ok(()) => {}
                                Err(Step::Oom(e)) => {
                                    self.frames[fi].ip = start;
                                    return Err(Step::Oom(e));
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    op::SET_PROPERTY => {
                        let name = string!();
                        let Some(inst) = self.peek(1).as_gc().filter(|g| g.kind() == INSTANCE)
                        else {
                            fail!("Only instances have fields.")
                        };
                        alloc!(table_set(self.m, inst, 1, name, self.peek(0)), start);
                        let v = self.pop();
                        self.pop();
                        self.push(v);
                    }
                    op::GET_SUPER => {
                        let name = string!();
                        let sup = self.pop().as_gc().expect("superclass");
                        save!();
                        if let Err(e) = self.bind_method(sup, name) {
                            if let Step::Oom(_) = e {
                                self.push(sup.into());
                                self.frames[fi].ip = start;
                            }
                            return Err(e);
                        }
                    }
                    op::EQUAL => {
                        let b = self.pop();
                        let a = self.pop();
                        self.push(Value::bool(a == b));
                    }
                    op::GREATER => binary!(>, Value::bool),
                    op::LESS => binary!(<, Value::bool),
                    op::ADD => {
                        let (b, a) = (self.peek(0), self.peek(1));
                        match (a.unpack(), b.unpack()) {
                            (Unpacked::Number(x), Unpacked::Number(y)) => {
                                self.pop();
                                self.pop();
                                self.push(Value::number(x + y));
                            }
                            (Unpacked::Ref(x), Unpacked::Ref(y))
                                if x.kind() == STRING && y.kind() == STRING =>
                            {
                                let mut s =
                                    String::with_capacity(x.bytes().len() + y.bytes().len());
                                s.push_str(str_text(x));
                                s.push_str(str_text(y));
                                let r = alloc!(self.interner.intern(self.m, &s), start);
                                self.pop();
                                self.pop();
                                self.push(r.into());
                            }
                            _ => fail!("Operands must be two numbers or two strings."),
                        }
                    }
                    op::SUBTRACT => binary!(-, Value::number),
                    op::MULTIPLY => binary!(*, Value::number),
                    op::DIVIDE => binary!(/, Value::number),
                    op::NOT => {
                        let v = self.pop();
                        self.push(Value::bool(is_falsey(v)));
                    }
                    op::NEGATE => {
                        let Some(n) = self.peek(0).as_number() else {
                            fail!("Operand must be a number.")
                        };
                        self.pop();
                        self.push(Value::number(-n));
                    }
                    op::PRINT => {
                        let v = self.pop();
                        let _ = writeln!(self.out, "{}", display(v));
                    }
                    op::JUMP => {
                        let off = short!();
                        ip += off;
                    }
                    op::JUMP_IF_FALSE => {
                        let off = short!();
                        if is_falsey(self.peek(0)) {
                            ip += off;
                        }
                    }
                    op::LOOP => {
                        let off = short!();
                        ip -= off;
                    }
                    op::CALL => {
                        let argc = usize::from(byte!());
                        save!();
                        self.call_or_retry(self.peek(argc), argc, fi, start)?;
                        break;
                    }
                    op::INVOKE => {
                        let name = string!();
                        let argc = usize::from(byte!());
                        save!();
                        let receiver = self.peek(argc);
                        let Some(inst) = receiver.as_gc().filter(|g| g.kind() == INSTANCE) else {
                            fail!("Only instances have methods.")
                        };
                        let fields = inst.get(1).as_gc().expect("fields");
                        if let Some(v) = table_get(fields, name) {
                            let slot = self.m.stack_len() - argc - 1;
                            self.m.stack_set(slot, v);
                            if let Err(e) = self.call_or_retry(v, argc, fi, start) {
                                if let Step::Oom(_) = e {
                                    self.m.stack_set(slot, receiver);
                                }
                                return Err(e);
                            }
                        } else {
                            let class = inst.get(0).as_gc().expect("class");
                            self.invoke_from_class(class, name, argc)?;
                        }
                        break;
                    }
                    op::SUPER_INVOKE => {
                        let name = string!();
                        let argc = usize::from(byte!());
                        save!();
                        let sup = self.pop().as_gc().expect("superclass");
                        self.invoke_from_class(sup, name, argc)?;
                        break;
                    }
                    op::CLOSURE => {
                        let f = constant!().as_gc().expect("function constant");
                        let n = usize::from(fn_info(f).upvalues);
                        let mut ups = Vec::with_capacity(n);
                        let operands = ip;
                        for _ in 0..n {
                            let local = byte!() == 1;
                            let index = usize::from(byte!());
                            if local {
                                ups.push(alloc!(
                                    self.capture_upvalue(base + index).map_err(|e| match e {
                                        Step::Oom(e) => e,
                                        _ => unreachable!("capture only fails for memory"),
                                    }),
                                    start
                                ));
                            } else {
                                ups.push(closure.get(1 + index).as_gc().expect("upvalue"));
                            }
                        }
                        let _ = operands;
                        let mut slots: Vec<Value<'gc>> = Vec::with_capacity(1 + n);
                        slots.push(f.into());
                        slots.extend(ups.into_iter().map(Value::from));
                        let c = alloc!(self.m.alloc(CLOSURE, &slots, &[]), start);
                        self.push(c.into());
                    }
                    op::CLOSE_UPVALUE => {
                        let top = self.m.stack_len() - 1;
                        self.close_upvalues(top);
                        self.pop();
                    }
                    op::RETURN => {
                        let result = self.pop();
                        self.close_upvalues(base);
                        // The frame's slot in FRAMES keeps its closure until
                        // the next call at this depth overwrites it: at
                        // most 64 closures held a little longer, and no
                        // barrier on every return.
                        self.frames.pop();
                        self.m.stack_truncate(base);
                        if self.frames.is_empty() {
                            return Ok(Step::Done);
                        }
                        self.push(result);
                        break;
                    }
                    op::CLASS => {
                        let name = string!();
                        let methods = alloc!(new_table(self.m, 0), start);
                        let class = alloc!(
                            self.m.alloc(CLASS, &[name.into(), methods.into()], &[]),
                            start
                        );
                        self.push(class.into());
                    }
                    op::INHERIT => {
                        let Some(sup) = self.peek(1).as_gc().filter(|g| g.kind() == CLASS) else {
                            fail!("Superclass must be a class.")
                        };
                        let sub = self.peek(0).as_gc().expect("subclass");
                        let from = sup.get(1).as_gc().expect("methods");
                        alloc!(table_add_all(self.m, from, sub, 1), start);
                        self.pop();
                    }
                    op::METHOD => {
                        let name = string!();
                        let method = self.peek(0);
                        let class = self.peek(1).as_gc().expect("class");
                        alloc!(table_set(self.m, class, 1, name, method), start);
                        self.pop();
                    }
                    other => fail!("Unknown opcode {other}."),
                }
            }
        }
    }

    /// Calls, restoring the instruction start if the call needs memory it
    /// cannot get (so that it can be retried).
    #[inline]
    fn call_or_retry(
        &mut self,
        callee: Value<'gc>,
        argc: usize,
        fi: usize,
        start: usize,
    ) -> Result<(), Step> {
        match self.call_value(callee, argc) {
            Err(Step::Oom(e)) => {
                self.frames[fi].ip = start;
                Err(Step::Oom(e))
            }
            r => r,
        }
    }
}

/// Lox truthiness: `nil` and `false` are false, everything else true.
pub fn is_falsey(v: Value<'_>) -> bool {
    v.is_nil() || v.as_bool() == Some(false)
}
