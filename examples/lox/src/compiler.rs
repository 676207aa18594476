//! The single-pass compiler: a Pratt parser that emits bytecode as it
//! parses (clox's `compiler.c`), producing `FUNCTION` objects on the heap.
//!
//! Each finished function's code goes through the peephole pass
//! ([`crate::chunk::fuse`]) before it becomes a `FUNCTION` object.
//!
//! It runs inside one `mutate` call: the functions, constants and strings
//! it creates are reachable from its Rust-side state until the script
//! function is returned, and no safepoint happens in between.

use gc_runtime::{AllocError, Collector, Gc, Mutator, Value};
use hashbrown::HashMap;

use crate::chunk::{fuse, op};
use crate::object::{FUNCTION, Function, Interner, fn_bytes};
use crate::scanner::{Scanner, T, Token};

/// Syntax errors listed in full; beyond them only their number is
/// reported, so that a big file full of errors (a generated one with
/// thousands of "Too many constants" errors) does not print one line per
/// statement.
pub const MAX_ERRORS: usize = 100;

/// The global variables' names, each bound to a slot of the VM's globals
/// array. The compiler resolves a global name to its slot once, and
/// `GET_GLOBAL` / `SET_GLOBAL` index the array where clox probes a hash
/// table by name. The observable behaviour is clox's: globals are still
/// late-bound (a slot holds the VM's "undefined" marker until its
/// `DEFINE_GLOBAL` runs, and reading it is "Undefined variable"), and each
/// access still spends one constant (a number: the slot) where clox spends
/// one on the name, so "Too many constants in one chunk." comes at the
/// same point. Names persist across REPL lines.
#[derive(Default)]
pub struct Globals {
    names: Vec<String>,
    slots: HashMap<String, usize>,
    /// Inline caches handed out so far (one per constant of every
    /// function compiled: see [`crate::object::FnInfo::cache`]).
    caches: usize,
    /// Initial values of the caches handed out since the VM last took
    /// them ([`Globals::take_new_caches`]): a global access's cache holds
    /// the global's slot from the start, so `GET_GLOBAL` reads a `u32`
    /// where it would decode a number constant.
    new_caches: Vec<u32>,
}

impl Globals {
    /// The slot of `name`, assigned now if it has none yet.
    pub fn slot(&mut self, name: &str) -> usize {
        if let Some(&i) = self.slots.get(name) {
            return i;
        }
        let i = self.names.len();
        self.names.push(name.to_owned());
        self.slots.insert(name.to_owned(), i);
        i
    }

    /// The slot of `name`, if it has one.
    pub fn lookup(&self, name: &str) -> Option<usize> {
        self.slots.get(name).copied()
    }

    /// The name bound to `slot`.
    pub fn name(&self, slot: usize) -> &str {
        self.names.get(slot).map_or("?", String::as_str)
    }

    /// Number of slots assigned.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no slot is assigned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Number of inline caches the compiled functions use.
    pub fn caches(&self) -> usize {
        self.caches
    }

    /// Moves the initial values of the caches handed out since the last
    /// call to the end of `caches` (which then has [`Globals::caches`]
    /// entries, if it had all the earlier ones).
    pub fn take_new_caches(&mut self, caches: &mut Vec<u32>) {
        caches.append(&mut self.new_caches);
    }
}

/// Why compilation failed.
#[derive(Debug)]
pub enum CompileError {
    /// Syntax errors, each formatted as clox prints them.
    Syntax(Vec<String>),
    /// The heap limit was reached while compiling.
    Memory(AllocError),
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    None,
    Assignment,
    Or,
    And,
    Equality,
    Comparison,
    Term,
    Factor,
    Unary,
    Call,
    Primary,
}

impl Prec {
    fn next(self) -> Prec {
        match self {
            Prec::None => Prec::Assignment,
            Prec::Assignment => Prec::Or,
            Prec::Or => Prec::And,
            Prec::And => Prec::Equality,
            Prec::Equality => Prec::Comparison,
            Prec::Comparison => Prec::Term,
            Prec::Term => Prec::Factor,
            Prec::Factor => Prec::Unary,
            Prec::Unary => Prec::Call,
            Prec::Call | Prec::Primary => Prec::Primary,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Function,
    Initializer,
    Method,
    Script,
}

struct Local<'s> {
    name: &'s str,
    depth: i32,
    captured: bool,
}

struct FnState<'s, 'gc> {
    /// Constants that hold a global's slot, with the slot.
    global_constants: Vec<(usize, u32)>,
    kind: Kind,
    name: Option<Gc<'gc>>,
    arity: usize,
    code: Vec<u8>,
    lines: Vec<u32>,
    constants: Vec<Value<'gc>>,
    locals: Vec<Local<'s>>,
    upvalues: Vec<(u8, bool)>,
    depth: i32,
}

struct Class {
    has_super: bool,
}

struct Compiler<'s, 'gc, 'm, C: Collector> {
    m: &'m Mutator<'gc, C>,
    interner: &'m mut Interner,
    globals: &'m mut Globals,
    scanner: Scanner<'s>,
    cur: Token<'s>,
    prev: Token<'s>,
    panic: bool,
    /// The first [`MAX_ERRORS`] syntax errors, formatted.
    errors: Vec<String>,
    /// Syntax errors found, listed or not.
    error_count: usize,
    oom: Option<AllocError>,
    fns: Vec<FnState<'s, 'gc>>,
    classes: Vec<Class>,
}

/// Compiles a script into its top-level function.
pub fn compile<'gc, C: Collector>(
    m: &Mutator<'gc, C>,
    interner: &mut Interner,
    globals: &mut Globals,
    source: &str,
) -> Result<Gc<'gc>, CompileError> {
    let eof = Token {
        kind: T::Eof,
        text: "",
        line: 1,
    };
    let mut c = Compiler {
        m,
        interner,
        globals,
        scanner: Scanner::new(source),
        cur: eof,
        prev: eof,
        panic: false,
        errors: Vec::new(),
        error_count: 0,
        oom: None,
        fns: Vec::new(),
        classes: Vec::new(),
    };
    c.begin_fn(Kind::Script, None);
    c.advance();
    while !c.matches(T::Eof) {
        c.declaration();
    }
    let f = c.end_fn();
    if let Some(e) = c.oom {
        return Err(CompileError::Memory(e));
    }
    if !c.errors.is_empty() {
        if c.error_count > MAX_ERRORS {
            c.errors.push(format!(
                "... and {} more errors ({} in all).",
                c.error_count - MAX_ERRORS,
                c.error_count
            ));
        }
        return Err(CompileError::Syntax(c.errors));
    }
    f.map(|(f, _)| f).ok_or(CompileError::Syntax(Vec::new()))
}

impl<'s, 'gc, 'm, C: Collector> Compiler<'s, 'gc, 'm, C> {
    // --- errors and tokens ---------------------------------------------------

    fn error_at(&mut self, tok: Token<'s>, msg: &str) {
        if self.panic {
            return;
        }
        self.panic = true;
        self.error_count += 1;
        if self.errors.len() == MAX_ERRORS {
            return;
        }
        let at = match tok.kind {
            T::Eof => " at end".to_owned(),
            T::Error => String::new(),
            _ => format!(" at '{}'", tok.text),
        };
        self.errors
            .push(format!("[line {}] Error{at}: {msg}", tok.line));
    }

    fn error(&mut self, msg: &str) {
        self.error_at(self.prev, msg)
    }

    fn error_at_current(&mut self, msg: &str) {
        self.error_at(self.cur, msg)
    }

    fn advance(&mut self) {
        self.prev = self.cur;
        loop {
            self.cur = self.scanner.next_token();
            if self.cur.kind != T::Error {
                break;
            }
            let msg = self.cur.text;
            self.error_at_current(msg);
        }
    }

    fn consume(&mut self, kind: T, msg: &str) {
        if self.cur.kind == kind {
            self.advance();
        } else {
            self.error_at_current(msg);
        }
    }

    fn check(&self, kind: T) -> bool {
        self.cur.kind == kind
    }

    fn matches(&mut self, kind: T) -> bool {
        if self.check(kind) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn mem<T2>(&mut self, r: Result<T2, AllocError>) -> Option<T2> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.oom.get_or_insert(e);
                None
            }
        }
    }

    // --- emitting ---------------------------------------------------------------

    fn f(&mut self) -> &mut FnState<'s, 'gc> {
        self.fns.last_mut().expect("a function is being compiled")
    }

    fn emit(&mut self, b: u8) {
        let line = self.prev.line;
        let f = self.f();
        f.code.push(b);
        f.lines.push(line);
    }

    fn emit2(&mut self, a: u8, b: u8) {
        self.emit(a);
        self.emit(b);
    }

    fn emit_loop(&mut self, start: usize) {
        self.emit(op::LOOP);
        let offset = self.f().code.len() - start + 2;
        if offset > u16::MAX as usize {
            self.error("Loop body too large.");
        }
        self.emit2((offset >> 8) as u8, offset as u8);
    }

    fn emit_jump(&mut self, instr: u8) -> usize {
        self.emit(instr);
        self.emit2(0xff, 0xff);
        self.f().code.len() - 2
    }

    fn patch_jump(&mut self, at: usize) {
        let jump = self.f().code.len() - at - 2;
        if jump > u16::MAX as usize {
            self.error("Too much code to jump over.");
        }
        let f = self.f();
        f.code[at] = (jump >> 8) as u8;
        f.code[at + 1] = jump as u8;
    }

    fn emit_return(&mut self) {
        if self.f().kind == Kind::Initializer {
            self.emit2(op::GET_LOCAL, 0);
        } else {
            self.emit(op::NIL);
        }
        self.emit(op::RETURN);
    }

    fn make_constant(&mut self, v: Value<'gc>) -> u8 {
        let f = self.f();
        f.constants.push(v);
        let i = f.constants.len() - 1;
        if i > u8::MAX as usize {
            self.error("Too many constants in one chunk.");
            return 0;
        }
        i as u8
    }

    fn emit_constant(&mut self, v: Value<'gc>) {
        let c = self.make_constant(v);
        self.emit2(op::CONSTANT, c);
    }

    fn string(&mut self, text: &str) -> Value<'gc> {
        let r = self.interner.intern(self.m, text);
        self.mem(r).map_or(Value::NIL, Value::from)
    }

    fn identifier_constant(&mut self, name: &str) -> u8 {
        let s = self.string(name);
        self.make_constant(s)
    }

    // --- functions and scopes ---------------------------------------------------

    fn begin_fn(&mut self, kind: Kind, name: Option<Gc<'gc>>) {
        let first = if kind == Kind::Function { "" } else { "this" };
        self.fns.push(FnState {
            global_constants: Vec::new(),
            kind,
            name,
            arity: 0,
            code: Vec::new(),
            lines: Vec::new(),
            constants: Vec::new(),
            locals: vec![Local {
                name: first,
                depth: 0,
                captured: false,
            }],
            upvalues: Vec::new(),
            depth: 0,
        });
    }

    /// Finishes the innermost function: its object and upvalue list.
    fn end_fn(&mut self) -> Option<(Gc<'gc>, Vec<(u8, bool)>)> {
        self.emit_return();
        let mut f = self.fns.pop().expect("a function is being compiled");
        if self.errors.is_empty() {
            let constants = &f.constants;
            fuse(&mut f.code, |k| {
                constants
                    .get(usize::from(k))
                    .and_then(|c| c.as_gc())
                    .map_or(0, |g| Function(g).upvalue_count())
            });
        }
        // The slots of a `Function`: the name, then the constants.
        let mut slots = Vec::with_capacity(Function::CONSTANTS + f.constants.len());
        slots.push(f.name.map_or(Value::NIL, Value::from));
        slots.extend_from_slice(&f.constants);
        let cache = self.globals.caches;
        self.globals.caches += f.constants.len();
        let first = self.globals.new_caches.len();
        self.globals.new_caches.resize(first + f.constants.len(), 0);
        for &(k, slot) in &f.global_constants {
            self.globals.new_caches[first + k] = slot;
        }
        let bytes = fn_bytes(
            f.arity.min(255) as u8,
            f.upvalues.len() as u8,
            u32::try_from(cache).unwrap_or(u32::MAX),
            &f.code,
            &f.lines,
        );
        let r = self.m.alloc(FUNCTION, &slots, &bytes);
        self.mem(r).map(|g| (g, f.upvalues))
    }

    fn begin_scope(&mut self) {
        self.f().depth += 1;
    }

    fn end_scope(&mut self) {
        self.f().depth -= 1;
        loop {
            let f = self.f();
            let Some(l) = f.locals.last() else { break };
            if l.depth <= f.depth {
                break;
            }
            let captured = l.captured;
            f.locals.pop();
            self.emit(if captured { op::CLOSE_UPVALUE } else { op::POP });
        }
    }

    fn add_local(&mut self, name: &'s str) {
        if self.f().locals.len() == 256 {
            self.error("Too many local variables in function.");
            return;
        }
        self.f().locals.push(Local {
            name,
            depth: -1,
            captured: false,
        });
    }

    fn declare_variable(&mut self) {
        if self.f().depth == 0 {
            return;
        }
        let name = self.prev.text;
        let f = self.fns.last().expect("function");
        let dup = f
            .locals
            .iter()
            .rev()
            .take_while(|l| l.depth == -1 || l.depth >= f.depth)
            .any(|l| l.name == name);
        if dup {
            self.error("Already a variable with this name in this scope.");
        }
        self.add_local(name);
    }

    fn parse_variable(&mut self, msg: &str) -> u8 {
        self.consume(T::Identifier, msg);
        self.declare_variable();
        if self.f().depth > 0 {
            return 0;
        }
        self.globals.slot(self.prev.text);
        self.identifier_constant(self.prev.text)
    }

    /// The constant for a global variable access: its slot, as a number.
    fn global_constant(&mut self, name: &str) -> u8 {
        let slot = self.globals.slot(name);
        let k = self.make_constant(Value::number(slot as f64));
        let slot = u32::try_from(slot).unwrap_or(u32::MAX);
        self.f().global_constants.push((usize::from(k), slot));
        k
    }

    fn mark_initialized(&mut self) {
        let f = self.f();
        if f.depth == 0 {
            return;
        }
        let d = f.depth;
        if let Some(l) = f.locals.last_mut() {
            l.depth = d;
        }
    }

    fn define_variable(&mut self, global: u8) {
        if self.f().depth > 0 {
            self.mark_initialized();
            return;
        }
        self.emit2(op::DEFINE_GLOBAL, global);
    }

    fn resolve_local(&mut self, fi: usize, name: &str) -> Option<u8> {
        let found = self.fns[fi]
            .locals
            .iter()
            .enumerate()
            .rev()
            .find(|(_, l)| l.name == name)
            .map(|(i, l)| (i, l.depth));
        let (i, depth) = found?;
        if depth == -1 {
            self.error("Can't read local variable in its own initializer.");
        }
        Some(i as u8)
    }

    fn add_upvalue(&mut self, fi: usize, index: u8, local: bool) -> u8 {
        let f = &self.fns[fi];
        if let Some(i) = f.upvalues.iter().position(|&u| u == (index, local)) {
            return i as u8;
        }
        if f.upvalues.len() == 256 {
            self.error("Too many closure variables in function.");
            return 0;
        }
        self.fns[fi].upvalues.push((index, local));
        (self.fns[fi].upvalues.len() - 1) as u8
    }

    fn resolve_upvalue(&mut self, fi: usize, name: &str) -> Option<u8> {
        if fi == 0 {
            return None;
        }
        if let Some(local) = self.resolve_local(fi - 1, name) {
            self.fns[fi - 1].locals[local as usize].captured = true;
            return Some(self.add_upvalue(fi, local, true));
        }
        let up = self.resolve_upvalue(fi - 1, name)?;
        Some(self.add_upvalue(fi, up, false))
    }

    // --- declarations and statements -----------------------------------------

    fn declaration(&mut self) {
        if self.matches(T::Class) {
            self.class_declaration();
        } else if self.matches(T::Fun) {
            self.fun_declaration();
        } else if self.matches(T::Var) {
            self.var_declaration();
        } else {
            self.statement();
        }
        if self.panic {
            self.synchronize();
        }
    }

    fn synchronize(&mut self) {
        self.panic = false;
        while self.cur.kind != T::Eof {
            if self.prev.kind == T::Semicolon {
                return;
            }
            match self.cur.kind {
                T::Class | T::Fun | T::Var | T::For | T::If | T::While | T::Print | T::Return => {
                    return;
                }
                _ => self.advance(),
            }
        }
    }

    fn class_declaration(&mut self) {
        self.consume(T::Identifier, "Expect class name.");
        let class_name = self.prev;
        let name = self.identifier_constant(class_name.text);
        if self.f().depth == 0 {
            self.globals.slot(class_name.text);
        }
        self.declare_variable();
        self.emit2(op::CLASS, name);
        self.define_variable(name);
        self.classes.push(Class { has_super: false });
        if self.matches(T::Less) {
            self.consume(T::Identifier, "Expect superclass name.");
            self.variable(false);
            if class_name.text == self.prev.text {
                self.error("A class can't inherit from itself.");
            }
            self.begin_scope();
            self.add_local("super");
            self.define_variable(0);
            self.named_variable(class_name, false);
            self.emit(op::INHERIT);
            self.classes.last_mut().expect("class").has_super = true;
        }
        self.named_variable(class_name, false);
        self.consume(T::LeftBrace, "Expect '{' before class body.");
        while !self.check(T::RightBrace) && !self.check(T::Eof) {
            self.method();
        }
        self.consume(T::RightBrace, "Expect '}' after class body.");
        self.emit(op::POP);
        if self.classes.pop().is_some_and(|c| c.has_super) {
            self.end_scope();
        }
    }

    fn method(&mut self) {
        self.consume(T::Identifier, "Expect method name.");
        let name = self.prev.text;
        let constant = self.identifier_constant(name);
        let kind = if name == "init" {
            Kind::Initializer
        } else {
            Kind::Method
        };
        self.function(kind);
        self.emit2(op::METHOD, constant);
    }

    fn fun_declaration(&mut self) {
        let global = self.parse_variable("Expect function name.");
        self.mark_initialized();
        self.function(Kind::Function);
        self.define_variable(global);
    }

    fn function(&mut self, kind: Kind) {
        let name = self.string(self.prev.text).as_gc();
        self.begin_fn(kind, name);
        self.begin_scope();
        self.consume(T::LeftParen, "Expect '(' after function name.");
        if !self.check(T::RightParen) {
            loop {
                self.f().arity += 1;
                if self.f().arity > 255 {
                    self.error_at_current("Can't have more than 255 parameters.");
                }
                let c = self.parse_variable("Expect parameter name.");
                self.define_variable(c);
                if !self.matches(T::Comma) {
                    break;
                }
            }
        }
        self.consume(T::RightParen, "Expect ')' after parameters.");
        self.consume(T::LeftBrace, "Expect '{' before function body.");
        self.block();
        let Some((f, upvalues)) = self.end_fn() else {
            return;
        };
        let c = self.make_constant(f.into());
        self.emit2(op::CLOSURE, c);
        for (index, local) in upvalues {
            self.emit2(u8::from(local), index);
        }
    }

    fn var_declaration(&mut self) {
        let global = self.parse_variable("Expect variable name.");
        if self.matches(T::Equal) {
            self.expression();
        } else {
            self.emit(op::NIL);
        }
        self.consume(T::Semicolon, "Expect ';' after variable declaration.");
        self.define_variable(global);
    }

    fn statement(&mut self) {
        if self.matches(T::Print) {
            self.expression();
            self.consume(T::Semicolon, "Expect ';' after value.");
            self.emit(op::PRINT);
        } else if self.matches(T::For) {
            self.for_statement();
        } else if self.matches(T::If) {
            self.if_statement();
        } else if self.matches(T::Return) {
            self.return_statement();
        } else if self.matches(T::While) {
            self.while_statement();
        } else if self.matches(T::LeftBrace) {
            self.begin_scope();
            self.block();
            self.end_scope();
        } else {
            self.expression();
            self.consume(T::Semicolon, "Expect ';' after expression.");
            self.emit(op::POP);
        }
    }

    fn block(&mut self) {
        while !self.check(T::RightBrace) && !self.check(T::Eof) {
            self.declaration();
        }
        self.consume(T::RightBrace, "Expect '}' after block.");
    }

    fn if_statement(&mut self) {
        self.consume(T::LeftParen, "Expect '(' after 'if'.");
        self.expression();
        self.consume(T::RightParen, "Expect ')' after condition.");
        let then_jump = self.emit_jump(op::JUMP_IF_FALSE);
        self.emit(op::POP);
        self.statement();
        let else_jump = self.emit_jump(op::JUMP);
        self.patch_jump(then_jump);
        self.emit(op::POP);
        if self.matches(T::Else) {
            self.statement();
        }
        self.patch_jump(else_jump);
    }

    fn while_statement(&mut self) {
        let start = self.f().code.len();
        self.consume(T::LeftParen, "Expect '(' after 'while'.");
        self.expression();
        self.consume(T::RightParen, "Expect ')' after condition.");
        let exit = self.emit_jump(op::JUMP_IF_FALSE);
        self.emit(op::POP);
        self.statement();
        self.emit_loop(start);
        self.patch_jump(exit);
        self.emit(op::POP);
    }

    fn for_statement(&mut self) {
        self.begin_scope();
        self.consume(T::LeftParen, "Expect '(' after 'for'.");
        if self.matches(T::Semicolon) {
        } else if self.matches(T::Var) {
            self.var_declaration();
        } else {
            self.expression();
            self.consume(T::Semicolon, "Expect ';' after expression.");
            self.emit(op::POP);
        }
        let mut start = self.f().code.len();
        let mut exit = None;
        if !self.matches(T::Semicolon) {
            self.expression();
            self.consume(T::Semicolon, "Expect ';' after loop condition.");
            exit = Some(self.emit_jump(op::JUMP_IF_FALSE));
            self.emit(op::POP);
        }
        if !self.matches(T::RightParen) {
            let body = self.emit_jump(op::JUMP);
            let incr = self.f().code.len();
            self.expression();
            self.emit(op::POP);
            self.consume(T::RightParen, "Expect ')' after for clauses.");
            self.emit_loop(start);
            start = incr;
            self.patch_jump(body);
        }
        self.statement();
        self.emit_loop(start);
        if let Some(exit) = exit {
            self.patch_jump(exit);
            self.emit(op::POP);
        }
        self.end_scope();
    }

    fn return_statement(&mut self) {
        if self.f().kind == Kind::Script {
            self.error("Can't return from top-level code.");
        }
        if self.matches(T::Semicolon) {
            self.emit_return();
        } else {
            if self.f().kind == Kind::Initializer {
                self.error("Can't return a value from an initializer.");
            }
            self.expression();
            self.consume(T::Semicolon, "Expect ';' after return value.");
            self.emit(op::RETURN);
        }
    }

    // --- expressions --------------------------------------------------------------

    fn expression(&mut self) {
        self.parse_precedence(Prec::Assignment);
    }

    fn infix_prec(kind: T) -> Prec {
        match kind {
            T::LeftParen | T::Dot => Prec::Call,
            T::Minus | T::Plus => Prec::Term,
            T::Slash | T::Star => Prec::Factor,
            T::BangEqual | T::EqualEqual => Prec::Equality,
            T::Greater | T::GreaterEqual | T::Less | T::LessEqual => Prec::Comparison,
            T::And => Prec::And,
            T::Or => Prec::Or,
            _ => Prec::None,
        }
    }

    fn parse_precedence(&mut self, prec: Prec) {
        self.advance();
        let can_assign = prec <= Prec::Assignment;
        if !self.prefix(self.prev.kind, can_assign) {
            self.error("Expect expression.");
            return;
        }
        while prec <= Self::infix_prec(self.cur.kind) {
            self.advance();
            self.infix(self.prev.kind, can_assign);
        }
        if can_assign && self.matches(T::Equal) {
            self.error("Invalid assignment target.");
        }
    }

    fn prefix(&mut self, kind: T, can_assign: bool) -> bool {
        match kind {
            T::LeftParen => {
                self.expression();
                self.consume(T::RightParen, "Expect ')' after expression.");
            }
            T::Minus | T::Bang => {
                self.parse_precedence(Prec::Unary);
                self.emit(if kind == T::Minus {
                    op::NEGATE
                } else {
                    op::NOT
                });
            }
            T::Number => {
                let n: f64 = self.prev.text.parse().unwrap_or(0.0);
                self.emit_constant(Value::number(n));
            }
            T::String => {
                let t = self.prev.text;
                let s = self.string(&t[1..t.len() - 1]);
                self.emit_constant(s);
            }
            T::Nil => self.emit(op::NIL),
            T::True => self.emit(op::TRUE),
            T::False => self.emit(op::FALSE),
            T::Identifier => self.variable(can_assign),
            T::This => self.this(),
            T::Super => self.super_(),
            _ => return false,
        }
        true
    }

    fn infix(&mut self, kind: T, can_assign: bool) {
        match kind {
            T::LeftParen => {
                let n = self.argument_list();
                self.emit2(op::CALL, n);
            }
            T::Dot => self.dot(can_assign),
            T::And => {
                let end = self.emit_jump(op::JUMP_IF_FALSE);
                self.emit(op::POP);
                self.parse_precedence(Prec::And);
                self.patch_jump(end);
            }
            T::Or => {
                let else_jump = self.emit_jump(op::JUMP_IF_FALSE);
                let end = self.emit_jump(op::JUMP);
                self.patch_jump(else_jump);
                self.emit(op::POP);
                self.parse_precedence(Prec::Or);
                self.patch_jump(end);
            }
            _ => {
                self.parse_precedence(Self::infix_prec(kind).next());
                match kind {
                    T::BangEqual => self.emit2(op::EQUAL, op::NOT),
                    T::EqualEqual => self.emit(op::EQUAL),
                    T::Greater => self.emit(op::GREATER),
                    T::GreaterEqual => self.emit2(op::LESS, op::NOT),
                    T::Less => self.emit(op::LESS),
                    T::LessEqual => self.emit2(op::GREATER, op::NOT),
                    T::Plus => self.emit(op::ADD),
                    T::Minus => self.emit(op::SUBTRACT),
                    T::Star => self.emit(op::MULTIPLY),
                    T::Slash => self.emit(op::DIVIDE),
                    _ => unreachable!("not an infix operator"),
                }
            }
        }
    }

    fn argument_list(&mut self) -> u8 {
        let mut n = 0usize;
        if !self.check(T::RightParen) {
            loop {
                self.expression();
                if n == 255 {
                    self.error("Can't have more than 255 arguments.");
                }
                n += 1;
                if !self.matches(T::Comma) {
                    break;
                }
            }
        }
        self.consume(T::RightParen, "Expect ')' after arguments.");
        n.min(255) as u8
    }

    fn dot(&mut self, can_assign: bool) {
        self.consume(T::Identifier, "Expect property name after '.'.");
        let name = self.identifier_constant(self.prev.text);
        if can_assign && self.matches(T::Equal) {
            self.expression();
            self.emit2(op::SET_PROPERTY, name);
        } else if self.matches(T::LeftParen) {
            let n = self.argument_list();
            self.emit2(op::INVOKE, name);
            self.emit(n);
        } else {
            self.emit2(op::GET_PROPERTY, name);
        }
    }

    fn variable(&mut self, can_assign: bool) {
        self.named_variable(self.prev, can_assign);
    }

    fn named_variable(&mut self, name: Token<'s>, can_assign: bool) {
        let fi = self.fns.len() - 1;
        let (get, set, arg) = if let Some(i) = self.resolve_local(fi, name.text) {
            (op::GET_LOCAL, op::SET_LOCAL, i)
        } else if let Some(i) = self.resolve_upvalue(fi, name.text) {
            (op::GET_UPVALUE, op::SET_UPVALUE, i)
        } else {
            let c = self.global_constant(name.text);
            (op::GET_GLOBAL, op::SET_GLOBAL, c)
        };
        if can_assign && self.matches(T::Equal) {
            self.expression();
            self.emit2(set, arg);
        } else {
            self.emit2(get, arg);
        }
    }

    fn this(&mut self) {
        if self.classes.is_empty() {
            self.error("Can't use 'this' outside of a class.");
            return;
        }
        self.variable(false);
    }

    fn super_(&mut self) {
        match self.classes.last() {
            None => self.error("Can't use 'super' outside of a class."),
            Some(c) if !c.has_super => {
                self.error("Can't use 'super' in a class with no superclass.")
            }
            _ => {}
        }
        self.consume(T::Dot, "Expect '.' after 'super'.");
        self.consume(T::Identifier, "Expect superclass method name.");
        let name = self.identifier_constant(self.prev.text);
        let tok = |text| Token {
            kind: T::Identifier,
            text,
            line: self.prev.line,
        };
        let (this_tok, super_tok) = (tok("this"), tok("super"));
        self.named_variable(this_tok, false);
        if self.matches(T::LeftParen) {
            let n = self.argument_list();
            self.named_variable(super_tok, false);
            self.emit2(op::SUPER_INVOKE, name);
            self.emit(n);
        } else {
            self.named_variable(super_tok, false);
            self.emit2(op::GET_SUPER, name);
        }
    }
}
