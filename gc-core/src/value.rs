//! Branded references and values: what the embedder holds inside `mutate`.

use std::fmt;
use std::marker::PhantomData;

use crate::object::{ObjPtr, RawValue};

/// Makes a type invariant in `'gc`: `'gc` can be neither shortened nor
/// lengthened, so a brand from one `mutate` call never unifies with another.
pub(crate) type Invariant<'gc> = PhantomData<fn(&'gc ()) -> &'gc ()>;

/// Makes a type neither `Send` nor `Sync`: branded references belong to the
/// mutator's thread (a concurrent marker reads objects through `ObjPtr`s
/// under its own protocol, never through these).
pub(crate) type NotSend = PhantomData<*const ()>;

/// A reference to a heap object, valid for one `mutate` call.
///
/// `Gc` is `Copy` and one pointer wide. The brand `'gc` is the
/// higher-ranked lifetime of the [`crate::Heap::mutate`] closure, so a `Gc`
/// cannot be stored anywhere that outlives the closure, cannot be returned
/// from it, and cannot be used with another heap's mutator. Objects do not
/// move or die while a `Gc` to them can exist: collectors only move or free
/// at safepoints, between `mutate` calls. Equality is identity.
///
/// Reads (`kind`, `len`, `get`, `bytes`) are plain loads; writes go through
/// [`crate::Mutator::set`] so that the backend's barrier runs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Gc<'gc> {
    ptr: ObjPtr,
    _brand: Invariant<'gc>,
    _local: NotSend,
}

impl<'gc> Gc<'gc> {
    /// Brands a raw object pointer.
    ///
    /// # Safety
    ///
    /// 1. `ptr` is a live object of the heap whose mutator brands `'gc`, and
    ///    it stays live and in place for all of `'gc` (true of anything
    ///    reachable from that heap's roots or allocated during the current
    ///    `mutate` call).
    #[inline]
    pub unsafe fn from_ptr(ptr: ObjPtr) -> Gc<'gc> {
        Gc {
            ptr,
            _brand: PhantomData,
            _local: PhantomData,
        }
    }

    /// The raw pointer (for backends and tests; dereferencing it is unsafe).
    #[inline]
    pub fn as_ptr(self) -> ObjPtr {
        self.ptr
    }

    /// The embedder's tag given at allocation.
    #[inline]
    pub fn kind(self) -> u16 {
        // SAFETY: a `Gc<'gc>` is live for 'gc (Gc::from_ptr obligation 1).
        unsafe { self.ptr.header() }.kind()
    }

    /// Number of value slots.
    #[inline]
    pub fn len(self) -> usize {
        // SAFETY: as in `kind`.
        unsafe { self.ptr.header() }.len()
    }

    /// Whether the object has no value slots.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The immutable raw bytes given at allocation.
    #[inline]
    pub fn bytes(self) -> &'gc [u8] {
        // SAFETY: as in `kind`; bytes are never written after allocation
        // and the object stays in place for 'gc.
        unsafe { self.ptr.bytes() }
    }

    /// Slot `i`.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`, like slice indexing; use [`Gc::try_get`] to
    /// avoid that.
    #[inline]
    pub fn get(self, i: usize) -> Value<'gc> {
        match self.try_get(i) {
            Some(v) => v,
            None => index_panic(i, self.len()),
        }
    }

    /// Slot `i`, or `None` if out of bounds.
    #[inline]
    pub fn try_get(self, i: usize) -> Option<Value<'gc>> {
        if i < self.len() {
            // SAFETY: live for 'gc, and `i < len`; a reference stored in a
            // slot of a live object is itself live (collector obligation),
            // so branding the loaded value is sound.
            Some(unsafe { Value::from_raw(self.ptr.load_slot(i)) })
        } else {
            None
        }
    }
}

#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn index_panic(i: usize, len: usize) -> ! {
    panic!("slot index {i} out of bounds for object with {len} slots")
}

impl fmt::Debug for Gc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Gc(kind {}, {} slots, {} bytes, {:p})",
            self.kind(),
            self.len(),
            self.bytes().len(),
            self.ptr.as_raw()
        )
    }
}

/// A 64-bit value: `nil`, a boolean, an `f64` or a reference.
///
/// NaN-boxed (see [`crate::object`]); `Copy`; branded like [`Gc`].
/// Equality is IEEE equality for numbers (so `NaN != NaN`) and identity for
/// references.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct Value<'gc> {
    raw: RawValue,
    _brand: Invariant<'gc>,
    _local: NotSend,
}

/// A [`Value`] taken apart, for `match`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unpacked<'gc> {
    /// `nil`.
    Nil,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A reference.
    Ref(Gc<'gc>),
}

impl<'gc> Value<'gc> {
    /// `nil`.
    pub const NIL: Value<'gc> = Value {
        raw: RawValue::NIL,
        _brand: PhantomData,
        _local: PhantomData,
    };

    /// Brands a raw value.
    ///
    /// # Safety
    ///
    /// 1. If `raw` holds a reference, [`Gc::from_ptr`]'s obligation holds
    ///    for it.
    #[inline]
    pub unsafe fn from_raw(raw: RawValue) -> Value<'gc> {
        Value {
            raw,
            _brand: PhantomData,
            _local: PhantomData,
        }
    }

    /// The unbranded representation.
    #[inline]
    pub fn raw(self) -> RawValue {
        self.raw
    }

    /// A number (NaNs are canonicalised).
    #[inline]
    pub fn number(f: f64) -> Value<'gc> {
        // SAFETY: not a reference.
        unsafe { Value::from_raw(RawValue::from_f64(f)) }
    }

    /// A boolean.
    #[inline]
    pub fn bool(b: bool) -> Value<'gc> {
        // SAFETY: not a reference.
        unsafe { Value::from_raw(RawValue::from_bool(b)) }
    }

    /// Whether this is `nil`.
    #[inline]
    pub fn is_nil(self) -> bool {
        self.raw.is_nil()
    }

    /// The boolean, if this is one.
    #[inline]
    pub fn as_bool(self) -> Option<bool> {
        self.raw.as_bool()
    }

    /// The number, if this is one.
    #[inline]
    pub fn as_number(self) -> Option<f64> {
        self.raw.as_f64()
    }

    /// The reference, if this is one.
    #[inline]
    pub fn as_gc(self) -> Option<Gc<'gc>> {
        // SAFETY: a branded Value's reference names a live object
        // (Value::from_raw obligation 1), so its address is not null; and
        // it satisfies Gc::from_ptr's obligation (the same obligation).
        // This skips `RawValue::as_ptr`'s null check, which an unbranded
        // value needs: every VM step decodes several references.
        unsafe { self.raw.as_live_ptr() }.map(|p| unsafe { Gc::from_ptr(p) })
    }

    /// Takes the value apart.
    #[inline]
    pub fn unpack(self) -> Unpacked<'gc> {
        if let Some(n) = self.as_number() {
            Unpacked::Number(n)
        } else if let Some(g) = self.as_gc() {
            Unpacked::Ref(g)
        } else if let Some(b) = self.as_bool() {
            Unpacked::Bool(b)
        } else {
            Unpacked::Nil
        }
    }
}

impl Default for Value<'_> {
    fn default() -> Self {
        Value::NIL
    }
}

impl PartialEq for Value<'_> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match (self.as_number(), other.as_number()) {
            (Some(a), Some(b)) => a == b,
            _ => self.raw == other.raw,
        }
    }
}

impl<'gc> From<Gc<'gc>> for Value<'gc> {
    #[inline]
    fn from(g: Gc<'gc>) -> Self {
        // SAFETY: the Gc already satisfies the obligation for 'gc.
        unsafe { Value::from_raw(RawValue::from_ptr(g.as_ptr())) }
    }
}

impl From<f64> for Value<'_> {
    #[inline]
    fn from(f: f64) -> Self {
        Value::number(f)
    }
}

impl From<bool> for Value<'_> {
    #[inline]
    fn from(b: bool) -> Self {
        Value::bool(b)
    }
}

impl From<()> for Value<'_> {
    #[inline]
    fn from(_: ()) -> Self {
        Value::NIL
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.unpack() {
            Unpacked::Nil => f.write_str("nil"),
            Unpacked::Bool(b) => write!(f, "{b}"),
            Unpacked::Number(n) => write!(f, "{n:?}"),
            Unpacked::Ref(g) => write!(f, "{g:?}"),
        }
    }
}
