//! # gc-runtime: one heap API, interchangeable collectors
//!
//! This is the facade of the workspace. It re-exports the embedder API of
//! [`gc_core`] and names every backend with [`Strategy`], so that an
//! interpreter written once against [`Heap`] can pick its collector at run
//! time (`--gc refcount|generational|tricolor|nogc`).
//!
//! Choosing a backend at run time while keeping every heap operation
//! monomorphic (and inlinable) is done with a visitor: the embedder writes
//! its program as a [`HeapVisitor`], generic over the collector, and
//! [`Strategy::run`] instantiates it with the right one.
//!
//! ```
//! use gc_runtime::{Collector, Heap, HeapConfig, HeapVisitor, Strategy, Value};
//!
//! struct SumList(usize);
//!
//! impl HeapVisitor for SumList {
//!     type Output = f64;
//!     fn visit<C: Collector>(self, mut heap: Heap<C>) -> f64 {
//!         let list = heap.mutate(|m| {
//!             let mut head = Value::NIL;
//!             for i in 0..self.0 {
//!                 head = m.alloc(1, &[Value::number(i as f64), head], &[]).unwrap().into();
//!             }
//!             m.persist(head.as_gc().unwrap())
//!         });
//!         heap.mutate(|m| {
//!             let (mut v, mut sum): (Value<'_>, f64) = (m.fetch(&list).into(), 0.0);
//!             while let Some(cell) = v.as_gc() {
//!                 sum += cell.get(0).as_number().unwrap();
//!                 v = cell.get(1);
//!             }
//!             sum
//!         })
//!     }
//! }
//!
//! let strategy: Strategy = "nogc".parse().unwrap();
//! let sum = strategy.run(HeapConfig::default(), SumList(100)).unwrap();
//! assert_eq!(sum, 4950.0);
//! ```

use std::fmt;
use std::str::FromStr;

// The README's examples are compiled and run as doctests of this crate.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The core crate (with the `testkit` feature, its testing kits
/// `gc_core::conformance` and `gc_core::differential`).
pub use gc_core;
pub use gc_core::{
    AllocError, Capabilities, CollectKind, Collector, ConfigError, Gc, GcEvent, GcStats, Heap,
    HeapConfig, HeapCounters, Mutator, NoGc, PauseSummary, Persistent, Phase, RootStack, Unpacked,
    Value, WeakHandle,
};
pub use gc_generational::Generational;
pub use gc_refcount::RefCount;

/// Every collector the workspace has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Bump allocation, never frees ([`NoGc`]): the lower bound of GC cost.
    NoGc,
    /// Deferred reference counting with a cycle collector
    /// ([`gc_refcount::RefCount`]).
    RefCount,
    /// Generational copying ([`gc_generational::Generational`]).
    Generational,
    /// Concurrent tri-color marking with lazy sweep
    /// ([`gc_tricolor::Tricolor`]).
    Tricolor,
}

impl Strategy {
    /// Every strategy, in the order `--help` lists them.
    pub const ALL: [Strategy; 4] = [
        Strategy::RefCount,
        Strategy::Generational,
        Strategy::Tricolor,
        Strategy::NoGc,
    ];

    /// The name `--gc` takes.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::NoGc => "nogc",
            Strategy::RefCount => "refcount",
            Strategy::Generational => "generational",
            Strategy::Tricolor => "tricolor",
        }
    }

    /// Makes a heap of this strategy and gives it to `visitor`.
    pub fn run<V: HeapVisitor>(
        self,
        config: HeapConfig,
        visitor: V,
    ) -> Result<V::Output, StrategyError> {
        fn go<C: Collector, V: HeapVisitor>(
            config: HeapConfig,
            v: V,
        ) -> Result<V::Output, StrategyError> {
            let heap = Heap::<C>::new(config).map_err(StrategyError::Config)?;
            Ok(v.visit(heap))
        }
        match self {
            Strategy::NoGc => go::<NoGc, V>(config, visitor),
            Strategy::RefCount => go::<gc_refcount::RefCount, V>(config, visitor),
            Strategy::Generational => go::<gc_generational::Generational, V>(config, visitor),
            Strategy::Tricolor => go::<gc_tricolor::Tricolor, V>(config, visitor),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strategy {
    type Err = ParseStrategyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| ParseStrategyError {
                input: s.to_owned(),
            })
    }
}

/// A string that names no strategy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseStrategyError {
    /// What was given.
    pub input: String,
}

impl fmt::Display for ParseStrategyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = Strategy::ALL.iter().map(|s| s.name()).collect();
        write!(
            f,
            "unknown collector '{}' (expected one of: {})",
            self.input,
            names.join(", ")
        )
    }
}

impl std::error::Error for ParseStrategyError {}

/// Why [`Strategy::run`] could not make a heap.
#[derive(Clone, Debug, PartialEq)]
pub enum StrategyError {
    /// The configuration was rejected.
    Config(ConfigError),
}

impl fmt::Display for StrategyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrategyError::Config(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StrategyError {}

/// A program generic over the collector, run by [`Strategy::run`].
pub trait HeapVisitor {
    /// What the program returns.
    type Output;
    /// Runs the program on `heap`.
    fn visit<C: Collector>(self, heap: Heap<C>) -> Self::Output;
}
