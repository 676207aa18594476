//! # gc-core: one safe object-heap API for many collectors
//!
//! An interpreter written against this crate gets a garbage-collected heap
//! of uniform objects and can swap the collector behind it (reference
//! counting, generational copying, concurrent tri-color marking, or
//! [`NoGc`]) without changing a line.
//!
//! ## The model
//!
//! * **Safepoints and brands.** All access happens inside
//!   [`Heap::mutate`]. The closure receives a [`Mutator<'gc, C>`] and hands
//!   out [`Gc<'gc>`] references and [`Value<'gc>`]s: `Copy`, one word,
//!   free to use, and unable to leave the closure because `'gc` is an
//!   invariant, higher-ranked lifetime. Collection work that frees or moves
//!   objects happens only at safepoints, between `mutate` calls, when no
//!   such reference exists. (The argument is written out in [`heap`].)
//! * **Uniform objects.** An object is an embedder-owned `kind: u16` tag,
//!   `n` value slots and `b` immutable bytes ([`object`]). The heap traces
//!   slots itself: embedders write no `Trace` impls and cannot get tracing
//!   wrong. Slots are written through [`Mutator::set`], which runs the
//!   backend's write barrier.
//! * **Roots.** [`Persistent`] handles keep objects alive across `mutate`
//!   calls; the *root stack* ([`Mutator::stack_push`] and friends) is a
//!   cheap, barrier-free root for a VM's operand stack; [`WeakHandle`]s
//!   are cleared exactly when their target dies. [`Mutator::identity_hash`]
//!   is stable across moves.
//! * **Errors, not aborts.** Allocation past [`HeapConfig::heap_limit`]
//!   returns [`AllocError::OutOfMemory`] and leaves the heap usable; a bad
//!   [`HeapConfig`] is a [`ConfigError`] from [`Heap::new`].
//! * **One contract.** Backends implement the `unsafe trait`
//!   [`Collector`], whose `# Safety` section numbers what they promise.
//! * **Same stats everywhere.** [`GcStats`] records every pause by
//!   [`Phase`] in a histogram, plus byte counters; an event hook receives
//!   one [`GcEvent`] per pause (its `Display` is a `gctrace` line).
//!
//! ## Example
//!
//! ```
//! use gc_core::{CollectKind, Heap, HeapConfig, NoGc, Value};
//!
//! const CONS: u16 = 1;
//! let mut heap = Heap::<NoGc>::new(HeapConfig::default()).unwrap();
//! // Build the list (3 2 1) and keep it across calls with a Persistent.
//! let list = heap.mutate(|m| {
//!     let mut head = Value::NIL;
//!     for i in 1..=3 {
//!         head = m.alloc(CONS, &[Value::number(i as f64), head], &[])?.into();
//!     }
//!     Ok::<_, gc_core::AllocError>(m.persist(head.as_gc().unwrap()))
//! }).unwrap();
//! heap.collect(CollectKind::Full);
//! let sum = heap.mutate(|m| {
//!     let mut v: Value<'_> = m.fetch(&list).into();
//!     let mut sum = 0.0;
//!     while let Some(cell) = v.as_gc() {
//!         sum += cell.get(0).as_number().unwrap();
//!         v = cell.get(1);
//!     }
//!     sum
//! });
//! assert_eq!(sum, 6.0);
//! ```
//!
//! ## Interpreters and safepoints
//!
//! The price of this model is that an interpreter must return to a
//! safepoint regularly: a VM keeps its state in the heap (under a
//! `Persistent`, with its operand stack on the root stack), runs bursts of
//! instructions inside `mutate`, and returns when [`Mutator::should_yield`]
//! says a collection is due. In exchange, references are plain pointers,
//! there is no shadow stack or conservative stack scan, and a moving
//! collector can move everything.

#![warn(missing_docs)]

pub mod collector;
pub mod config;
#[cfg(feature = "testkit")]
pub mod conformance;
#[cfg(feature = "testkit")]
pub mod differential;
pub mod handles;
pub mod heap;
pub mod large;
pub mod nogc;
pub mod object;
pub mod pacer;
pub mod pause;
pub mod size_class;
pub mod stats;
pub mod value;
mod verify;

pub use collector::{Capabilities, CollectKind, Collector, Request, Safepoint};
pub use config::{AllocError, ConfigError, HeapConfig};
pub use handles::{Persistent, WeakHandle};
pub use heap::{Heap, Mutator, RootStack};
pub use nogc::NoGc;
pub use object::{ObjPtr, RawValue, SlotInit};
pub use pacer::Pacer;
pub use pause::PauseWork;
pub use size_class::SizeClasses;
pub use stats::{GcEvent, GcStats, HeapCounters, PauseHistogram, PauseSummary, Phase};
pub use value::{Gc, Unpacked, Value};
