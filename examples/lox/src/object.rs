//! Lox's objects as gc-core uniform objects (kind tag, slots, bytes).
//!
//! | kind | slots | bytes |
//! |---|---|---|
//! | `STRING` | none | FNV-1a hash (u32 LE), then the UTF-8 text |
//! | `FUNCTION` | name (string or nil), then the constants | arity, upvalue count, code length (u32), first inline-cache index (u32), code, one line (u32) per code byte |
//! | `CLOSURE` | function, then its upvalues | none |
//! | `UPVALUE` | value (closed) or stack index (open), next open upvalue, open flag | none |
//! | `CLASS` | name, methods table, fields capacity hint (number), initializer (clox's `klass->initializer`) or nil | none |
//! | `INSTANCE` | class, fields table (nil until the first field is set) | none |
//! | `BOUND` | receiver, method closure | none |
//! | `NATIVE` | name | native id |
//! | `TABLE` | count, key filter (32-bit mask), then key/value pairs | none |
//! | `ROOT` | globals, open upvalues, "init" string, frames, undefined marker | none |
//! | `FRAMES` | the closure of each call frame | none |
//! | `GLOBALS` | the global variables, by slot ([`crate::compiler::Globals`]); the undefined marker in slots not yet defined | none |
//! | `UNDEF` | none (the one marker object) | none |
//!
//! Typed views ([`Function`], [`Closure`], [`Upvalue`], [`Class`],
//! [`Instance`], [`Bound`]) wrap a `Gc` of one kind and name its slots, so
//! each slot index of this table is written once, in the view.
//!
//! Tables are open-addressing hash maps (clox's `table.c`) keyed by
//! interned strings, compared by identity, hashed by the hash stored in
//! the string. A table grows by allocating a bigger table object and
//! storing it in its owner's slot.

// Token kinds and object kinds are named as in clox; one doc line each
// would repeat the name.
#![allow(missing_docs)]

use gc_runtime::{AllocError, Collector, Gc, Mutator, Value, WeakHandle};
use hashbrown::HashTable;

pub const STRING: u16 = 1;
pub const FUNCTION: u16 = 2;
pub const CLOSURE: u16 = 3;
pub const UPVALUE: u16 = 4;
pub const CLASS: u16 = 5;
pub const INSTANCE: u16 = 6;
pub const BOUND: u16 = 7;
pub const NATIVE: u16 = 8;
pub const TABLE: u16 = 9;
pub const ROOT: u16 = 10;
pub const FRAMES: u16 = 11;
pub const GLOBALS: u16 = 12;
pub const UNDEF: u16 = 13;

/// Slots of the VM root object.
pub const ROOT_GLOBALS: usize = 0;
pub const ROOT_OPEN_UPVALUES: usize = 1;
pub const ROOT_INIT: usize = 2;
pub const ROOT_FRAMES: usize = 3;
pub const ROOT_UNDEF: usize = 4;

/// Most call frames (clox's FRAMES_MAX).
pub const FRAMES_MAX: usize = 64;

pub type R<T> = Result<T, AllocError>;

pub fn fnv1a(bytes: &[u8]) -> u32 {
    fnv1a_from(2_166_136_261, bytes)
}

/// FNV-1a over more bytes: `fnv1a_from(fnv1a(a), b) == fnv1a(a ++ b)`.
fn fnv1a_from(mut h: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(16_777_619);
    }
    h
}

/// Strings at least this long are built only after [`room_for_string`]
/// says the heap can take them (shorter ones cost less than the slack any
/// heap has, and are built as the allocation that fails would be).
pub const BIG_STRING: usize = 64 << 10;

/// Whether the heap can take a new string object of `len` text bytes built
/// in a temporary buffer outside the heap: the buffer counts against the
/// heap limit like the object it becomes, since both are resident at once
/// (a string that doubles would otherwise hold about five times its
/// length: the old string, the buffer and the new object, for a heap that
/// counts three). The error asks for both, the object and its buffer.
pub fn room_for_string<C: Collector>(m: &Mutator<'_, C>, len: usize) -> R<()> {
    let buffer = 4 + len;
    let Some(object) = gc_runtime::gc_core::object::object_size(0, buffer) else {
        return Err(AllocError::TooLarge {
            slots: 0,
            bytes: buffer,
        });
    };
    let limit = m.config().heap_limit;
    let in_use = usize::try_from(m.counters().live_bytes).unwrap_or(usize::MAX);
    let requested = object.saturating_add(buffer);
    if in_use.saturating_add(requested) > limit {
        return Err(AllocError::OutOfMemory {
            requested,
            limit,
            in_use,
        });
    }
    Ok(())
}

/// The text of a string object.
pub fn str_text(s: Gc<'_>) -> &str {
    // Strings are built from &str only (see `Interner::intern`).
    std::str::from_utf8(&s.bytes()[4..]).unwrap_or("<invalid utf-8>")
}

#[inline]
pub fn str_hash(s: Gc<'_>) -> u32 {
    let b = s.bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Interns strings through weak handles: a string nobody refers to dies,
/// and its entry is dropped the next time the table is swept.
#[derive(Default)]
pub struct Interner {
    table: HashTable<(u32, WeakHandle)>,
    /// Size at which dead entries are next swept.
    sweep_at: usize,
}

impl Interner {
    pub fn intern<'gc, C: Collector>(&mut self, m: &Mutator<'gc, C>, text: &str) -> R<Gc<'gc>> {
        self.intern_concat(m, text, "")
    }

    /// Interns `a` followed by `b` (Lox's `+` on strings): the text is
    /// looked up without being built, and a new string is built once, in
    /// the buffer that becomes its bytes, after [`room_for_string`] if it
    /// is [`BIG_STRING`] or longer.
    pub fn intern_concat<'gc, C: Collector>(
        &mut self,
        m: &Mutator<'gc, C>,
        a: &str,
        b: &str,
    ) -> R<Gc<'gc>> {
        let hash = fnv1a_from(fnv1a(a.as_bytes()), b.as_bytes());
        let len = a.len() + b.len();
        let same = |s: Gc<'gc>| {
            let t = &s.bytes()[4..];
            t.len() == len && t[..a.len()] == *a.as_bytes() && t[a.len()..] == *b.as_bytes()
        };
        let found = self
            .table
            .find(u64::from(hash), |(h, w)| {
                *h == hash && m.upgrade(w).is_some_and(same)
            })
            .and_then(|(_, w)| m.upgrade(w));
        if let Some(s) = found {
            return Ok(s);
        }
        if len >= BIG_STRING {
            room_for_string(m, len)?;
        }
        if self.table.len() >= self.sweep_at {
            self.table.retain(|(_, w)| m.upgrade(w).is_some());
            self.sweep_at = (self.table.len() * 2).max(1024);
        }
        let mut bytes = Vec::with_capacity(4 + len);
        bytes.extend_from_slice(&hash.to_le_bytes());
        bytes.extend_from_slice(a.as_bytes());
        bytes.extend_from_slice(b.as_bytes());
        let s = m.alloc(STRING, &[], &bytes)?;
        let w = m.downgrade(s);
        self.table
            .insert_unique(u64::from(hash), (hash, w), |(h, _)| u64::from(*h));
        Ok(s)
    }
}

// --- tables ----------------------------------------------------------------

/// Slot of the number of entries (tombstones included, as in clox).
const COUNT: usize = 0;
/// Slot of the key filter: one of 48 bits, picked by the key's hash, is
/// set for every key ever stored, so a clear bit proves a key absent
/// without a probe (a method call on an instance with fields looks in the
/// fields first, and almost always misses). Stored as the number whose
/// bits are the mask (a subnormal: never a NaN, so never re-encoded).
const FILTER: usize = 1;
/// Slot of entry 0's key; its value follows.
const ENTRIES: usize = 2;

#[inline(always)]
fn key_slot(i: usize) -> usize {
    ENTRIES + 2 * i
}

#[inline(always)]
fn filter_bit(key: Gc<'_>) -> u64 {
    1 << ((u64::from(str_hash(key)) * 48) >> 32)
}

pub fn new_table<'gc, C: Collector>(m: &Mutator<'gc, C>, capacity: usize) -> R<Gc<'gc>> {
    let t = m.alloc_filled(TABLE, ENTRIES + 2 * capacity, Value::NIL, &[])?;
    m.set(t, COUNT, Value::number(0.0));
    m.set(t, FILTER, Value::number(0.0));
    Ok(t)
}

/// Number of entries a table has room for.
#[inline]
pub fn capacity(t: Gc<'_>) -> usize {
    (t.len() - ENTRIES) / 2
}

#[inline(always)]
fn filter(t: Gc<'_>) -> u64 {
    t.get(FILTER).as_number().map_or(0, f64::to_bits)
}

/// Index of `key`'s entry, or of the entry where it would go.
#[inline]
fn find<'gc>(t: Gc<'gc>, key: Gc<'gc>) -> usize {
    let cap = capacity(t);
    let mut i = str_hash(key) as usize & (cap - 1);
    let mut tombstone = None;
    loop {
        let k = t.get(key_slot(i));
        match k.as_gc() {
            Some(k) if k == key => return i,
            Some(_) => {}
            None => {
                if t.get(key_slot(i) + 1).is_nil() {
                    return tombstone.unwrap_or(i);
                }
                tombstone.get_or_insert(i);
            }
        }
        i = (i + 1) & (cap - 1);
    }
}

/// Index of `key`'s entry, if the table holds it (the filter first, then
/// a probe).
#[inline]
fn entry<'gc>(t: Gc<'gc>, key: Gc<'gc>) -> Option<usize> {
    if filter(t) & filter_bit(key) == 0 {
        return None;
    }
    let i = find(t, key);
    t.get(key_slot(i)).as_gc().map(|_| i)
}

#[inline]
pub fn table_get<'gc>(t: Gc<'gc>, key: Gc<'gc>) -> Option<Value<'gc>> {
    entry(t, key).map(|i| t.get(key_slot(i) + 1))
}

/// `table_get` with an inline cache: `hint` is where the key was found
/// last time at this instruction. Objects of one shape (same fields set in
/// the same order) keep a key at the same index, so a hit costs one
/// compare instead of a hash and a probe; a miss probes and updates the
/// hint. Hints are only ever checked, never trusted.
#[inline(always)]
pub fn table_get_hinted<'gc>(t: Gc<'gc>, key: Gc<'gc>, hint: &mut u32) -> Option<Value<'gc>> {
    if let Some(at) = hinted_slot(t, key, *hint) {
        return Some(t.get(at + 1));
    }
    table_get_miss(t, key, hint)
}

/// The key slot `hint` names, if it holds `key`.
#[inline(always)]
pub fn hinted_slot(t: Gc<'_>, key: Gc<'_>, hint: u32) -> Option<usize> {
    let at = key_slot(hint as usize);
    // The value slot first: if it is in bounds, so is the key slot, and
    // the second check folds away. Keys compare by their bits (interned
    // strings are equal when identical).
    let found = t.try_get(at + 1).and(t.try_get(at))?;
    (found.raw() == Value::from(key).raw()).then_some(at)
}

#[inline(never)]
fn table_get_miss<'gc>(t: Gc<'gc>, key: Gc<'gc>, hint: &mut u32) -> Option<Value<'gc>> {
    let i = entry(t, key)?;
    *hint = i as u32;
    Some(t.get(key_slot(i) + 1))
}

/// Sets `key` in the table stored in `owner`'s slot `slot` (made there,
/// with capacity 8, if the slot is nil); returns whether the key is new.
pub fn table_set<'gc, C: Collector>(
    m: &Mutator<'gc, C>,
    owner: Gc<'gc>,
    slot: usize,
    key: Gc<'gc>,
    value: Value<'gc>,
) -> R<bool> {
    table_set_sized(m, owner, slot, key, value, 8).map(|(is_new, _)| is_new)
}

/// [`table_set`], making a missing table with room for `initial` entries
/// (rounded up to a power of two, at least 8); returns whether the key is
/// new and the index of its entry (a hint for the next lookup).
pub fn table_set_sized<'gc, C: Collector>(
    m: &Mutator<'gc, C>,
    owner: Gc<'gc>,
    slot: usize,
    key: Gc<'gc>,
    value: Value<'gc>,
    initial: usize,
) -> R<(bool, u32)> {
    let mut t = match owner.get(slot).as_gc() {
        Some(t) => t,
        None => {
            let t = new_table(m, initial.max(8).next_power_of_two())?;
            m.set(owner, slot, t.into());
            t
        }
    };
    let count = t.get(COUNT).as_number().unwrap_or(0.0) as usize;
    // At most three quarters full, as in clox. (Half full made misses
    // cheaper but trees.lox, with a million tables, 3x slower.)
    if (count + 1) * 4 > capacity(t) * 3 {
        t = grow(m, t)?;
        m.set(owner, slot, t.into());
    }
    let i = find(t, key);
    let is_new = t.get(key_slot(i)).is_nil();
    if is_new && t.get(key_slot(i) + 1).is_nil() {
        let count = t.get(COUNT).as_number().unwrap_or(0.0);
        m.set(t, COUNT, Value::number(count + 1.0));
    }
    let f = filter(t);
    if f & filter_bit(key) == 0 {
        m.set(
            t,
            FILTER,
            Value::number(f64::from_bits(f | filter_bit(key))),
        );
    }
    m.set(t, key_slot(i), key.into());
    m.set(t, key_slot(i) + 1, value);
    Ok((is_new, i as u32))
}

pub fn table_delete<'gc, C: Collector>(m: &Mutator<'gc, C>, t: Gc<'gc>, key: Gc<'gc>) -> bool {
    let Some(i) = entry(t, key) else {
        return false;
    };
    // The filter keeps the key's bit: it only ever over-approximates.
    m.set(t, key_slot(i), Value::NIL);
    m.set(t, key_slot(i) + 1, Value::bool(true)); // tombstone
    true
}

fn grow<'gc, C: Collector>(m: &Mutator<'gc, C>, old: Gc<'gc>) -> R<Gc<'gc>> {
    let cap = (capacity(old) * 2).max(8);
    let t = new_table(m, cap)?;
    let mut count = 0.0;
    for i in 0..capacity(old) {
        if let Some(k) = old.get(key_slot(i)).as_gc() {
            let j = find(t, k);
            m.set(t, key_slot(j), k.into());
            m.set(t, key_slot(j) + 1, old.get(key_slot(i) + 1));
            count += 1.0;
        }
    }
    m.set(t, COUNT, Value::number(count));
    m.set(t, FILTER, old.get(FILTER));
    Ok(t)
}

/// Copies every entry of `from` into the table in `owner`'s slot (for
/// inheritance).
pub fn table_add_all<'gc, C: Collector>(
    m: &Mutator<'gc, C>,
    from: Gc<'gc>,
    owner: Gc<'gc>,
    slot: usize,
) -> R<()> {
    for i in 0..capacity(from) {
        if let Some(k) = from.get(key_slot(i)).as_gc() {
            table_set(m, owner, slot, k, from.get(key_slot(i) + 1))?;
        }
    }
    Ok(())
}

// --- functions -------------------------------------------------------------

pub struct FnInfo<'gc> {
    pub arity: u8,
    pub upvalues: u8,
    /// Index of this function's first inline cache: the cache of the
    /// instruction whose operand is constant `k` is `cache + k`.
    pub cache: usize,
    pub code: &'gc [u8],
    lines: &'gc [u8],
}

impl FnInfo<'_> {
    pub fn line(&self, ip: usize) -> u32 {
        let i = 4 * ip.min(self.code.len().saturating_sub(1));
        self.lines
            .get(i..i + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

const FN_HEADER: usize = 10;

#[inline(always)]
pub fn fn_info(f: Gc<'_>) -> FnInfo<'_> {
    let (h, rest) = f
        .bytes()
        .split_first_chunk::<FN_HEADER>()
        .expect("a function's bytes start with its header");
    let [arity, upvalues, n @ .., c0, c1, c2, c3] = *h;
    let n = u32::from_le_bytes(n) as usize;
    let (code, lines) = rest.split_at(n.min(rest.len()));
    FnInfo {
        arity,
        upvalues,
        cache: u32::from_le_bytes([c0, c1, c2, c3]) as usize,
        code,
        lines,
    }
}

pub fn fn_bytes(arity: u8, upvalues: u8, cache: u32, code: &[u8], lines: &[u32]) -> Vec<u8> {
    let mut b = Vec::with_capacity(FN_HEADER + code.len() * 5);
    b.push(arity);
    b.push(upvalues);
    b.extend_from_slice(&(code.len() as u32).to_le_bytes());
    b.extend_from_slice(&cache.to_le_bytes());
    b.extend_from_slice(code);
    for l in lines {
        b.extend_from_slice(&l.to_le_bytes());
    }
    b
}

// --- typed views -------------------------------------------------------------

// Each view is a `Gc` that the VM knows to be of one kind; the view does
// not check the kind. A slot holding the wrong type is a broken VM
// invariant and panics (`expect`), as everywhere else.
macro_rules! view {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq)]
        #[repr(transparent)]
        pub struct $name<'gc>(pub Gc<'gc>);

        impl<'gc> From<$name<'gc>> for Value<'gc> {
            #[inline(always)]
            fn from(v: $name<'gc>) -> Value<'gc> {
                v.0.into()
            }
        }
    };
}

view!(
    /// A `FUNCTION`: its name, its constants and (in its bytes) its code.
    Function
);

impl<'gc> Function<'gc> {
    /// Slot of the name (a string, or nil for the script).
    pub const NAME: usize = 0;
    /// Slot of constant 0; constant `k` is in slot `CONSTANTS + k`.
    pub const CONSTANTS: usize = 1;

    /// The function's name (`None` for the top-level script).
    #[inline(always)]
    pub fn name(self) -> Option<Gc<'gc>> {
        self.0.get(Self::NAME).as_gc()
    }

    /// Constant `k`.
    #[inline(always)]
    pub fn constant(self, k: usize) -> Value<'gc> {
        self.0.get(Self::CONSTANTS + k)
    }

    /// Constant `k`, which the compiler made a string (a name).
    #[inline(always)]
    pub fn string(self, k: usize) -> Gc<'gc> {
        self.constant(k).as_gc().expect("string constant")
    }

    /// Number of constants.
    #[inline]
    pub fn constants(self) -> usize {
        self.0.len() - Self::CONSTANTS
    }

    /// Arity, upvalue count, code, lines and inline-cache base.
    #[inline(always)]
    pub fn info(self) -> FnInfo<'gc> {
        fn_info(self.0)
    }

    /// Number of parameters.
    #[inline]
    pub fn arity(self) -> u8 {
        self.info().arity
    }

    /// Number of upvalues its closures capture.
    #[inline]
    pub fn upvalue_count(self) -> usize {
        usize::from(self.info().upvalues)
    }
}

view!(
    /// A `CLOSURE`: a function and the upvalues it captured.
    Closure
);

impl<'gc> Closure<'gc> {
    /// Slot of the function.
    pub const FUNCTION: usize = 0;
    /// Slot of upvalue 0; upvalue `i` is in slot `UPVALUES + i`.
    pub const UPVALUES: usize = 1;

    /// A closure from its `slots`: the function, then the upvalues.
    #[inline]
    pub fn alloc<C: Collector>(m: &Mutator<'gc, C>, slots: &[Value<'gc>]) -> R<Self> {
        debug_assert!(slots.first().and_then(|f| f.as_gc()).map(|f| f.kind()) == Some(FUNCTION));
        m.alloc(CLOSURE, slots, &[]).map(Closure)
    }

    #[inline(always)]
    pub fn function(self) -> Function<'gc> {
        Function(
            self.0
                .get(Self::FUNCTION)
                .as_gc()
                .expect("closure function"),
        )
    }

    /// Upvalue `i`.
    #[inline(always)]
    pub fn upvalue(self, i: usize) -> Upvalue<'gc> {
        Upvalue(self.0.get(Self::UPVALUES + i).as_gc().expect("upvalue"))
    }
}

view!(
    /// An `UPVALUE`: open (its variable is still on the stack, at an index)
    /// or closed (it holds the variable's value).
    Upvalue
);

impl<'gc> Upvalue<'gc> {
    /// Slot of the value (closed) or the stack index, as a number (open).
    pub const VALUE: usize = 0;
    /// Slot of the next open upvalue (a list sorted by stack index,
    /// highest first, from `ROOT_OPEN_UPVALUES`), or nil.
    pub const NEXT: usize = 1;
    /// Slot of the open flag (a boolean).
    pub const OPEN: usize = 2;

    /// An open upvalue for stack slot `index`, in front of `next`.
    #[inline]
    pub fn alloc_open<C: Collector>(
        m: &Mutator<'gc, C>,
        index: usize,
        next: Option<Upvalue<'gc>>,
    ) -> R<Self> {
        let next = next.map_or(Value::NIL, Value::from);
        m.alloc(
            UPVALUE,
            &[Value::number(index as f64), next, Value::bool(true)],
            &[],
        )
        .map(Upvalue)
    }

    #[inline(always)]
    pub fn is_open(self) -> bool {
        self.0.get(Self::OPEN).as_bool() == Some(true)
    }

    /// The stack index of an open upvalue's variable.
    #[inline(always)]
    pub fn stack_index(self) -> usize {
        self.0.get(Self::VALUE).as_number().expect("open index") as usize
    }

    /// A closed upvalue's value.
    #[inline(always)]
    pub fn closed(self) -> Value<'gc> {
        self.0.get(Self::VALUE)
    }

    /// The next open upvalue.
    #[inline]
    pub fn next(self) -> Option<Upvalue<'gc>> {
        self.0.get(Self::NEXT).as_gc().map(Upvalue)
    }

    #[inline]
    pub fn set_next<C: Collector>(self, m: &Mutator<'gc, C>, next: Upvalue<'gc>) {
        m.set(self.0, Self::NEXT, next.into());
    }

    /// Closes the upvalue over `value` (and unlinks it from the open list).
    #[inline]
    pub fn close<C: Collector>(self, m: &Mutator<'gc, C>, value: Value<'gc>) {
        m.set(self.0, Self::VALUE, value);
        m.set(self.0, Self::OPEN, Value::bool(false));
        m.set(self.0, Self::NEXT, Value::NIL);
    }
}

view!(
    /// A `CLASS`.
    Class
);

impl<'gc> Class<'gc> {
    pub const NAME: usize = 0;
    /// Slot of the methods table.
    pub const METHODS: usize = 1;
    /// Slot of the fields capacity hint: the capacity (a number) the
    /// fields tables of this class's instances grew to, so that a new
    /// instance's table starts that big.
    pub const FIELDS_HINT: usize = 2;
    /// Slot of the initializer (clox's `klass->initializer`), or nil.
    pub const INIT: usize = 3;

    /// A class named `name` with an empty methods table.
    #[inline]
    pub fn alloc<C: Collector>(m: &Mutator<'gc, C>, name: Gc<'gc>) -> R<Self> {
        let methods = new_table(m, 0)?;
        let slots = [name.into(), methods.into(), Value::number(8.0), Value::NIL];
        m.alloc(CLASS, &slots, &[]).map(Class)
    }

    #[inline]
    pub fn name(self) -> Gc<'gc> {
        self.0.get(Self::NAME).as_gc().expect("class name")
    }

    #[inline(always)]
    pub fn methods(self) -> Gc<'gc> {
        self.0.get(Self::METHODS).as_gc().expect("methods")
    }

    /// The fields capacity a new instance's table starts with.
    #[inline]
    pub fn fields_hint(self) -> usize {
        self.0.get(Self::FIELDS_HINT).as_number().unwrap_or(8.0) as usize
    }

    /// The initializer, as stored (a closure or nil).
    #[inline(always)]
    pub fn init(self) -> Value<'gc> {
        self.0.get(Self::INIT)
    }
}

view!(
    /// An `INSTANCE`.
    Instance
);

impl<'gc> Instance<'gc> {
    pub const CLASS: usize = 0;
    /// Slot of the fields table (nil until the first field is set).
    pub const FIELDS: usize = 1;

    /// A fieldless instance of `class`.
    #[inline(always)]
    pub fn alloc<C: Collector>(m: &Mutator<'gc, C>, class: Gc<'gc>) -> R<Self> {
        m.alloc(INSTANCE, &[class.into(), Value::NIL], &[])
            .map(Instance)
    }

    /// `v` as an instance, if it is one.
    #[inline(always)]
    pub fn of(v: Value<'gc>) -> Option<Self> {
        v.as_gc().filter(|g| g.kind() == INSTANCE).map(Instance)
    }

    #[inline(always)]
    pub fn class(self) -> Class<'gc> {
        Class(self.0.get(Self::CLASS).as_gc().expect("class"))
    }

    /// The fields table, if any field was ever set.
    #[inline(always)]
    pub fn fields(self) -> Option<Gc<'gc>> {
        self.0.get(Self::FIELDS).as_gc()
    }
}

view!(
    /// A `BOUND` method: a receiver and a method closure.
    Bound
);

impl<'gc> Bound<'gc> {
    pub const RECEIVER: usize = 0;
    pub const METHOD: usize = 1;

    #[inline]
    pub fn alloc<C: Collector>(
        m: &Mutator<'gc, C>,
        receiver: Value<'gc>,
        method: Value<'gc>,
    ) -> R<Self> {
        m.alloc(BOUND, &[receiver, method], &[]).map(Bound)
    }

    #[inline(always)]
    pub fn receiver(self) -> Value<'gc> {
        self.0.get(Self::RECEIVER)
    }

    #[inline(always)]
    pub fn method(self) -> Closure<'gc> {
        Closure(self.0.get(Self::METHOD).as_gc().expect("method"))
    }
}

// --- printing --------------------------------------------------------------

/// C's `printf("%g", n)`: six significant digits, trailing zeros removed,
/// exponent form below 1e-4 and from 1e6.
pub fn format_number(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if n == 0.0 {
        return if n.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Round to 6 significant digits first; the exponent of the rounded
    // value decides the form.
    let sci = format!("{n:.5e}");
    let (mant, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("integer exponent");
    if !(-4..6).contains(&exp) {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (5 - exp).max(0) as usize;
        trim_zeros(&format!("{n:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// What `print` writes for a value.
pub fn display(v: Value<'_>) -> String {
    use gc_runtime::Unpacked;
    match v.unpack() {
        Unpacked::Nil => "nil".into(),
        Unpacked::Bool(b) => b.to_string(),
        Unpacked::Number(n) => format_number(n),
        Unpacked::Ref(g) => display_obj(g),
    }
}

fn fn_name(f: Function<'_>) -> String {
    match f.name() {
        Some(name) => format!("<fn {}>", str_text(name)),
        None => "<script>".into(),
    }
}

fn display_obj(g: Gc<'_>) -> String {
    match g.kind() {
        STRING => str_text(g).to_owned(),
        FUNCTION => fn_name(Function(g)),
        CLOSURE => fn_name(Closure(g).function()),
        BOUND => display_obj(Bound(g).method().0),
        NATIVE => "<native fn>".into(),
        CLASS => str_text(Class(g).name()).to_owned(),
        INSTANCE => format!("{} instance", str_text(Instance(g).class().name())),
        UPVALUE => "upvalue".into(),
        _ => format!("<object kind {}>", g.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::format_number as f;

    #[test]
    fn numbers_print_like_printf_g() {
        let cases = [
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.333333"),
            (100.0, "100"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (1e6, "1e+06"),
            (999999.5, "1e+06"),
            (0.0001, "0.0001"),
            (0.00001234, "1.234e-05"),
            (1e100, "1e+100"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
            (1.23456789, "1.23457"),
            (2.5e-7, "2.5e-07"),
            (12345.678, "12345.7"),
        ];
        for (n, s) in cases {
            assert_eq!(f(n), s, "{n}");
        }
    }
}
