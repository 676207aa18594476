//! The uniform object layout and the 64-bit value encoding.
//!
//! # Object layout
//!
//! Every object of every backend has the same shape, so that the heap (not
//! the embedder) knows where its references are:
//!
//! ```text
//!  backend prefix (optional, negative offsets, owned by the backend)
//!  +0   meta   : AtomicU64  backend-owned word (counts, colours, forwarding)
//!  +8   aux    : AtomicU32  backend-owned word (age, flags, hash state)
//!  +12  kind   : u16        embedder-owned tag, immutable
//!  +14  (reserved, zero)
//!  +16  len    : u32        number of value slots, immutable
//!  +20  nbytes : u32        number of raw bytes, immutable
//!  +24  slots  : [AtomicU64; len]   NaN-boxed values, mutable through the barrier
//!  +24+8*len   : [u8; nbytes]       raw bytes, immutable after allocation
//!  (padded to a multiple of 8)
//! ```
//!
//! An [`ObjPtr`] points at `+0`. Reads of `kind`, `len`, slots and bytes are
//! the same code for every backend and inline into the embedder; writes to
//! slots go through [`crate::Collector::write_slot`], which is where each
//! backend puts its barrier.
//!
//! Slots are `AtomicU64` accessed with `Relaxed` ordering. On every platform
//! we support that compiles to plain loads and stores, and it makes the
//! concurrent marker's reads of a slot that the mutator is writing a benign
//! race instead of undefined behaviour. Publication of a new object to
//! another thread is the backend's business (it must use a release/acquire
//! edge, see the tricolor crate).
//!
//! # Value encoding
//!
//! Values are NaN-boxed into 64 bits, as in clox:
//!
//! * a number is any `f64` whose bits do not have all of `QNAN` set; NaNs
//!   are canonicalised on the way in so that no number collides with a tag;
//! * `nil`, `false`, `true` are `QNAN | 1`, `QNAN | 2`, `QNAN | 3`;
//! * a reference is `SIGN | QNAN | address` (a non-null address below
//!   2^50, which covers all of user space with 4-level paging).

use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const SIGN: u64 = 1 << 63;
const QNAN: u64 = 0x7ffc_0000_0000_0000;
const TAG_NIL: u64 = QNAN | 1;
const TAG_FALSE: u64 = QNAN | 2;
const TAG_TRUE: u64 = QNAN | 3;
const PTR_TAG: u64 = SIGN | QNAN;
const PTR_MASK: u64 = !PTR_TAG;
const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

/// Size in bytes of the common object header.
pub const HEADER_BYTES: usize = 24;

/// Largest number of slots one object may have.
pub const MAX_SLOTS: usize = u32::MAX as usize;
/// Largest number of raw bytes one object may have.
pub const MAX_BYTES: usize = u32::MAX as usize;

/// The common object header. See the module docs for the full layout.
#[repr(C, align(8))]
pub struct ObjHeader {
    meta: AtomicU64,
    aux: AtomicU32,
    kind: u16,
    _reserved: u16,
    len: u32,
    nbytes: u32,
}

const _: () = assert!(std::mem::size_of::<ObjHeader>() == HEADER_BYTES);
const _: () = assert!(std::mem::align_of::<ObjHeader>() == 8);

impl ObjHeader {
    /// The backend-owned 64-bit word.
    #[inline]
    pub fn meta(&self) -> &AtomicU64 {
        &self.meta
    }

    /// The backend-owned 32-bit word.
    #[inline]
    pub fn aux(&self) -> &AtomicU32 {
        &self.aux
    }

    /// The embedder's tag.
    #[inline]
    pub fn kind(&self) -> u16 {
        self.kind
    }

    /// Number of value slots.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the object has no slots.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of raw bytes.
    #[inline]
    pub fn byte_len(&self) -> usize {
        self.nbytes as usize
    }
}

/// Bytes needed for an object with `slots` slots and `bytes` raw bytes
/// (header included, rounded up to 8), or `None` if it cannot be
/// represented (more than [`MAX_SLOTS`] slots, [`MAX_BYTES`] bytes, or an
/// overflowing size).
#[inline]
pub fn object_size(slots: usize, bytes: usize) -> Option<usize> {
    if slots > MAX_SLOTS || bytes > MAX_BYTES {
        return None;
    }
    let body = slots.checked_mul(8)?.checked_add(bytes)?;
    let total = body.checked_add(HEADER_BYTES + 7)?;
    let total = total & !7;
    // Layouts must not exceed isize::MAX.
    (total <= isize::MAX as usize).then_some(total)
}

/// Whether an object at `addr` of `size` bytes can be referenced from a
/// value (NaN-boxed references hold addresses below 2^50, which covers all
/// of user space with 4-level paging). Backends check their memory with
/// this before handing it out (obligation 1 of [`crate::Collector`]).
#[inline]
pub fn addressable(addr: usize, size: usize) -> bool {
    (addr as u64)
        .checked_add(size as u64)
        .is_some_and(|end| end <= PTR_MASK)
}

/// A good 64-bit mix of an address (the finaliser of SplitMix64): the
/// identity hash of an object in a non-moving backend, and the seed a
/// moving backend stores in the header the first time a hash is asked for.
#[inline]
pub fn mix_address(addr: usize) -> u64 {
    let mut z = addr as u64;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// [`object_size`] for an allocation request, or the error every backend
/// returns for an object that cannot be represented.
#[inline]
pub fn checked_size(slots: &SlotInit<'_>, bytes: &[u8]) -> Result<usize, crate::AllocError> {
    object_size(slots.len(), bytes.len()).ok_or(crate::AllocError::TooLarge {
        slots: slots.len(),
        bytes: bytes.len(),
    })
}

/// How a new object's slots are initialised.
#[derive(Clone, Copy, Debug)]
pub enum SlotInit<'a> {
    /// Copy these values (the object gets `values.len()` slots).
    Copy(&'a [RawValue]),
    /// `count` slots, each holding `value`.
    Fill(RawValue, usize),
}

impl SlotInit<'_> {
    /// Number of slots this initialiser produces.
    #[inline]
    pub fn len(&self) -> usize {
        match *self {
            SlotInit::Copy(v) => v.len(),
            SlotInit::Fill(_, n) => n,
        }
    }

    /// Whether it produces no slots.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` once for every distinct reference the initialiser stores,
    /// once per slot (a `Fill` with a reference calls it `count` times).
    #[inline]
    pub fn for_each_ref(&self, mut f: impl FnMut(ObjPtr)) {
        match *self {
            SlotInit::Copy(v) => v.iter().filter_map(|v| v.as_ptr()).for_each(f),
            SlotInit::Fill(v, n) => {
                if let Some(p) = v.as_ptr() {
                    (0..n).for_each(|_| f(p))
                }
            }
        }
    }
}

/// A raw pointer to an object's header. Copy, comparable and hashable by
/// address; every dereference is `unsafe` and the caller must know the
/// object is live (this is the currency of [`crate::Collector`] impls).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjPtr(NonNull<ObjHeader>);

// SAFETY: an ObjPtr is an address; every dereference is an unsafe method
// whose caller must know the object is live, and the header fields it
// reaches that can change (meta, aux, slots) are atomics. Backends with
// marker threads need to pass addresses between threads.
unsafe impl Send for ObjPtr {}
// SAFETY: as for Send: sharing an address shares nothing else.
unsafe impl Sync for ObjPtr {}

impl fmt::Debug for ObjPtr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjPtr({:p})", self.0)
    }
}

impl ObjPtr {
    /// Writes a fresh header, the slots and the bytes into `mem` and returns
    /// the object.
    ///
    /// # Safety
    ///
    /// 1. `mem` is valid for writes of `object_size(slots.len(), bytes.len())`
    ///    bytes and aligned to 8.
    /// 2. That size is `Some` (the caller checked it with [`object_size`]).
    /// 3. Every reference in `slots` points at a live object of the same heap.
    #[inline(always)]
    pub unsafe fn init(
        mem: NonNull<u8>,
        kind: u16,
        slots: SlotInit<'_>,
        bytes: &[u8],
        meta: u64,
        aux: u32,
    ) -> ObjPtr {
        let len = slots.len();
        let hdr = mem.cast::<ObjHeader>();
        // SAFETY: obligation 1 makes the header location writable and
        // aligned; obligation 2 means `len` and `bytes.len()` fit in u32.
        unsafe {
            hdr.as_ptr().write(ObjHeader {
                meta: AtomicU64::new(meta),
                aux: AtomicU32::new(aux),
                kind,
                _reserved: 0,
                len: len as u32,
                nbytes: bytes.len() as u32,
            });
        }
        let obj = ObjPtr(hdr);
        let slot0 = obj.slot_base().cast::<u64>();
        match slots {
            // SAFETY: obligation 1: the slot area of `len` u64s lies inside
            // `mem`; `AtomicU64` has the layout of `u64`; the source slice
            // cannot overlap freshly allocated memory.
            SlotInit::Copy(v) => unsafe {
                std::ptr::copy_nonoverlapping(v.as_ptr().cast::<u64>(), slot0, len)
            },
            SlotInit::Fill(v, n) => {
                for i in 0..n {
                    // SAFETY: `i < len`, inside the slot area (obligation 1).
                    unsafe { slot0.add(i).write(v.0) };
                }
            }
        }
        // SAFETY: the byte area follows the slots and is inside `mem`
        // (obligation 1); the source cannot overlap fresh memory.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), slot0.add(len).cast::<u8>(), bytes.len())
        };
        obj
    }

    /// Wraps a pointer the backend knows to be an object header.
    ///
    /// # Safety
    ///
    /// 1. `ptr` points at a header written by [`ObjPtr::init`].
    #[inline]
    pub unsafe fn from_raw(ptr: NonNull<ObjHeader>) -> ObjPtr {
        ObjPtr(ptr)
    }

    /// The address of the header.
    #[inline]
    pub fn as_raw(self) -> NonNull<ObjHeader> {
        self.0
    }

    /// The address as an integer (for hashing and ordering only).
    #[inline]
    pub fn addr(self) -> usize {
        self.0.as_ptr() as usize
    }

    #[inline]
    fn slot_base(self) -> *mut AtomicU64 {
        // SAFETY: the slot area starts right after the header, inside the
        // object's allocation (or one past it when len == nbytes == 0);
        // this only computes an address, it reads nothing.
        unsafe { self.0.as_ptr().cast::<u8>().add(HEADER_BYTES).cast() }
    }

    /// The header.
    ///
    /// # Safety
    ///
    /// 1. The object is live (not freed, not moved away) for `'a`.
    #[inline]
    pub unsafe fn header<'a>(self) -> &'a ObjHeader {
        // SAFETY: obligation 1.
        unsafe { self.0.as_ref() }
    }

    /// The slots, as atomics.
    ///
    /// # Safety
    ///
    /// 1. The object is live (not freed, not moved away) for `'a`.
    #[inline]
    pub unsafe fn slots<'a>(self) -> &'a [AtomicU64] {
        // SAFETY: obligation 1; the header records `len` initialised slots
        // right after it (ObjPtr::init).
        unsafe { std::slice::from_raw_parts(self.slot_base(), self.header().len()) }
    }

    /// Loads slot `i` (Relaxed).
    ///
    /// # Safety
    ///
    /// 1. The object is live.
    /// 2. `i < len`.
    #[inline]
    pub unsafe fn load_slot(self, i: usize) -> RawValue {
        // SAFETY: obligations 1 and 2.
        RawValue(unsafe { (*self.slot_base().add(i)).load(Ordering::Relaxed) })
    }

    /// Stores slot `i` (Relaxed), with no barrier: for backends only.
    ///
    /// # Safety
    ///
    /// 1. The object is live.
    /// 2. `i < len`.
    /// 3. The caller performs whatever barrier its collector needs.
    #[inline]
    pub unsafe fn store_slot(self, i: usize, v: RawValue) {
        // SAFETY: obligations 1 and 2.
        unsafe { (*self.slot_base().add(i)).store(v.0, Ordering::Relaxed) }
    }

    /// The raw bytes.
    ///
    /// # Safety
    ///
    /// 1. The object is live (not freed, not moved away) for `'a`.
    #[inline]
    pub unsafe fn bytes<'a>(self) -> &'a [u8] {
        // SAFETY: obligation 1; the bytes follow the slots and were
        // initialised by ObjPtr::init; they are never written again.
        unsafe {
            let h = self.header();
            std::slice::from_raw_parts(self.slot_base().add(h.len()).cast::<u8>(), h.byte_len())
        }
    }

    /// Total size of the object (header, slots, bytes, padding).
    ///
    /// # Safety
    ///
    /// 1. The object is live.
    #[inline]
    pub unsafe fn size(self) -> usize {
        // SAFETY: obligation 1.
        let h = unsafe { self.header() };
        object_size(h.len(), h.byte_len()).expect("object header holds a valid size")
    }

    /// Calls `f` with every slot that holds a reference.
    ///
    /// # Safety
    ///
    /// 1. The object is live.
    #[inline]
    pub unsafe fn for_each_ref(self, mut f: impl FnMut(usize, ObjPtr)) {
        // SAFETY: obligation 1.
        for (i, s) in unsafe { self.slots() }.iter().enumerate() {
            if let Some(p) = RawValue(s.load(Ordering::Relaxed)).as_ptr() {
                f(i, p)
            }
        }
    }
}

/// A value without a brand: the representation backends work with.
///
/// A `RawValue` holding a reference says nothing about whether that object
/// is alive; turning one into a [`crate::Value`] is the unsafe step.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct RawValue(u64);

impl RawValue {
    /// `nil`.
    pub const NIL: RawValue = RawValue(TAG_NIL);
    /// `false`.
    pub const FALSE: RawValue = RawValue(TAG_FALSE);
    /// `true`.
    pub const TRUE: RawValue = RawValue(TAG_TRUE);

    /// A number. NaNs are canonicalised so that no number aliases a tag.
    #[inline]
    pub fn from_f64(f: f64) -> RawValue {
        if f.is_nan() {
            RawValue(CANONICAL_NAN)
        } else {
            RawValue(f.to_bits())
        }
    }

    /// A boolean.
    #[inline]
    pub fn from_bool(b: bool) -> RawValue {
        if b { Self::TRUE } else { Self::FALSE }
    }

    /// A reference.
    #[inline]
    pub fn from_ptr(p: ObjPtr) -> RawValue {
        let a = p.addr() as u64;
        debug_assert_eq!(
            a & PTR_TAG,
            0,
            "object address {a:#x} does not fit in 48 bits"
        );
        RawValue(PTR_TAG | a)
    }

    /// The value with these encoded bits (as read from a slot). Safe: a
    /// `RawValue` promises nothing about the object it may name.
    #[inline]
    pub fn from_bits(bits: u64) -> RawValue {
        RawValue(bits)
    }

    /// The encoded bits.
    #[inline]
    pub fn to_bits(self) -> u64 {
        self.0
    }

    /// Whether this is a number.
    #[inline]
    pub fn is_number(self) -> bool {
        self.0 & QNAN != QNAN
    }

    /// The number, if it is one.
    #[inline]
    pub fn as_f64(self) -> Option<f64> {
        self.is_number().then(|| f64::from_bits(self.0))
    }

    /// The boolean, if it is one.
    #[inline]
    pub fn as_bool(self) -> Option<bool> {
        match self.0 {
            TAG_TRUE => Some(true),
            TAG_FALSE => Some(false),
            _ => None,
        }
    }

    /// Whether this is `nil`.
    #[inline]
    pub fn is_nil(self) -> bool {
        self.0 == TAG_NIL
    }

    /// The reference, if it is one, without checking it for null.
    ///
    /// # Safety
    ///
    /// 1. If this is a reference, its address is not null (it names an
    ///    object: true of every branded value).
    #[inline]
    pub(crate) unsafe fn as_live_ptr(self) -> Option<ObjPtr> {
        if self.0 & PTR_TAG == PTR_TAG {
            let p = (self.0 & PTR_MASK) as usize as *mut ObjHeader;
            // SAFETY: obligation 1.
            Some(ObjPtr(unsafe { NonNull::new_unchecked(p) }))
        } else {
            None
        }
    }

    /// The reference, if it is one.
    #[inline]
    pub fn as_ptr(self) -> Option<ObjPtr> {
        if self.0 & PTR_TAG == PTR_TAG {
            let p = (self.0 & PTR_MASK) as usize as *mut ObjHeader;
            // A reference is only ever built from a NonNull (from_ptr).
            NonNull::new(p).map(ObjPtr)
        } else {
            None
        }
    }
}

impl fmt::Debug for RawValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = self.as_f64() {
            write!(f, "{n:?}")
        } else if let Some(b) = self.as_bool() {
            write!(f, "{b}")
        } else if self.is_nil() {
            f.write_str("nil")
        } else if let Some(p) = self.as_ptr() {
            write!(f, "{p:?}")
        } else {
            write!(f, "RawValue({:#x})", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_never_alias_tags() {
        for f in [
            0.0,
            -0.0,
            1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE / 4.0,
            f64::MAX,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ffc_0000_0000_0001),
            f64::from_bits(0xfffc_0000_0000_1234),
        ] {
            let v = RawValue::from_f64(f);
            assert!(v.is_number(), "{f:?}");
            assert!(v.as_ptr().is_none() && v.as_bool().is_none() && !v.is_nil());
            let back = v.as_f64().unwrap();
            assert!(back.to_bits() == f.to_bits() || (f.is_nan() && back.is_nan()));
        }
    }

    #[test]
    fn tags_are_distinct() {
        let all = [RawValue::NIL, RawValue::FALSE, RawValue::TRUE];
        for (i, a) in all.iter().enumerate() {
            assert!(!a.is_number() && a.as_ptr().is_none());
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(RawValue::from_bool(true).as_bool(), Some(true));
        assert_eq!(RawValue::from_bool(false).as_bool(), Some(false));
    }

    #[test]
    fn sizes() {
        assert_eq!(object_size(0, 0), Some(24));
        assert_eq!(object_size(1, 0), Some(32));
        assert_eq!(object_size(0, 1), Some(32));
        assert_eq!(object_size(2, 9), Some(24 + 16 + 16));
        assert_eq!(object_size(MAX_SLOTS + 1, 0), None);
        assert_eq!(object_size(0, MAX_BYTES + 1), None);
    }
}
