//! Heap configuration and the errors of the embedder API.

use std::fmt;

/// How a heap is set up. Every field has a documented default; invalid
/// combinations are rejected by [`HeapConfig::validate`] (which
/// [`crate::Heap::new`] calls), never later by a panic.
///
/// ```
/// use gc_core::HeapConfig;
/// let cfg = HeapConfig::default()
///     .with_heap_limit(256 << 20)
///     .with_growth_factor(0.5);
/// assert!(cfg.validate().is_ok());
/// assert!(HeapConfig::default().with_growth_factor(-1.0).validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct HeapConfig {
    /// Most bytes of object memory the heap may hold (headers, slots, bytes
    /// and backend prefixes; not side tables). Allocation past it returns
    /// [`AllocError::OutOfMemory`]. Default: 4 GiB. At least 64 KiB.
    pub heap_limit: usize,
    /// Size of a generational backend's nursery; reference counting also
    /// asks the mutator to yield after allocating this much. Default:
    /// 512 KiB: a minor collection that finds the whole nursery alive
    /// then copies it in about half a millisecond on the reference
    /// machine, where a 4 MiB nursery took 3 to 8 ms (docs/BENCHMARKS.md).
    /// Between 64 KiB and `heap_limit`.
    pub nursery_bytes: usize,
    /// Like Go's `GOGC / 100`: the next full collection (or marking cycle)
    /// starts when the heap has grown by this factor over the live bytes
    /// after the previous one. Default: 1.0 (the heap may double). Finite,
    /// between 0.05 and 100.
    pub growth_factor: f64,
    /// Minor collections an object survives in a generational backend's
    /// young generation before it is promoted. Default: 2 (survivors are
    /// copied once within the young generation, then promoted; most
    /// objects that live through two nursery cycles live long). Between 1
    /// and 15.
    pub promotion_age: u8,
    /// Number of background marker threads of a concurrent backend.
    /// Default: a quarter of the available cores, at least 1 (Go's 25%
    /// background utilisation). Between 1 and 64.
    pub marker_threads: usize,
    /// Number of cycle candidates that makes a reference-counting backend
    /// run its cycle collector at the next safepoint. Default: 10,000. At
    /// least 1.
    pub cycle_threshold: usize,
    /// Objects at least this large (in bytes, header included) are never
    /// copied: moving backends put them in a large-object space. Default:
    /// 32 KiB (Go's large-object size). At least 1 KiB.
    pub large_object_bytes: usize,
    /// Collect at every safepoint (every `mutate` entry), like clox's
    /// `DEBUG_STRESS_GC`. For tests. Default: off.
    pub stress: bool,
    /// Run the backend's heap verifier after every collection and panic on
    /// the first broken invariant. For tests. Default: off.
    pub verify: bool,
}

impl Default for HeapConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        HeapConfig {
            heap_limit: 4 << 30,
            nursery_bytes: 512 << 10,
            growth_factor: 1.0,
            promotion_age: 2,
            marker_threads: (cores / 4).max(1),
            cycle_threshold: 10_000,
            large_object_bytes: 32 << 10,
            stress: false,
            verify: false,
        }
    }
}

macro_rules! builder {
    ($($(#[$doc:meta])* $name:ident: $field:ident: $ty:ty;)*) => {
        impl HeapConfig {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(mut self, v: $ty) -> Self {
                    self.$field = v;
                    self
                }
            )*
        }
    };
}

builder! {
    /// Sets [`HeapConfig::heap_limit`].
    with_heap_limit: heap_limit: usize;
    /// Sets [`HeapConfig::nursery_bytes`].
    with_nursery_bytes: nursery_bytes: usize;
    /// Sets [`HeapConfig::growth_factor`].
    with_growth_factor: growth_factor: f64;
    /// Sets [`HeapConfig::promotion_age`].
    with_promotion_age: promotion_age: u8;
    /// Sets [`HeapConfig::marker_threads`].
    with_marker_threads: marker_threads: usize;
    /// Sets [`HeapConfig::cycle_threshold`].
    with_cycle_threshold: cycle_threshold: usize;
    /// Sets [`HeapConfig::large_object_bytes`].
    with_large_object_bytes: large_object_bytes: usize;
    /// Sets [`HeapConfig::stress`].
    with_stress: stress: bool;
    /// Sets [`HeapConfig::verify`].
    with_verify: verify: bool;
}

impl HeapConfig {
    /// Checks every field; the first problem found is the error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn bad(field: &'static str, value: String, expected: &'static str) -> ConfigError {
            ConfigError {
                field,
                value,
                expected,
            }
        }
        if self.heap_limit < 64 << 10 {
            return Err(bad(
                "heap_limit",
                self.heap_limit.to_string(),
                "at least 65536 bytes",
            ));
        }
        if self.nursery_bytes < 64 << 10 || self.nursery_bytes > self.heap_limit {
            return Err(bad(
                "nursery_bytes",
                self.nursery_bytes.to_string(),
                "between 65536 bytes and heap_limit",
            ));
        }
        if !(self.growth_factor.is_finite() && (0.05..=100.0).contains(&self.growth_factor)) {
            return Err(bad(
                "growth_factor",
                self.growth_factor.to_string(),
                "a finite number between 0.05 and 100",
            ));
        }
        if !(1..=15).contains(&self.promotion_age) {
            return Err(bad(
                "promotion_age",
                self.promotion_age.to_string(),
                "between 1 and 15",
            ));
        }
        if !(1..=64).contains(&self.marker_threads) {
            return Err(bad(
                "marker_threads",
                self.marker_threads.to_string(),
                "between 1 and 64",
            ));
        }
        if self.cycle_threshold == 0 {
            return Err(bad("cycle_threshold", "0".into(), "at least 1"));
        }
        if self.large_object_bytes < 1024 {
            return Err(bad(
                "large_object_bytes",
                self.large_object_bytes.to_string(),
                "at least 1024 bytes",
            ));
        }
        Ok(())
    }
}

/// A [`HeapConfig`] field with a value it cannot have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The field's name.
    pub field: &'static str,
    /// The rejected value, printed.
    pub value: String,
    /// What the field accepts.
    pub expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid heap configuration: {} = {} (expected {})",
            self.field, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

/// Why an allocation failed. The heap is unchanged and usable afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// The heap would exceed its byte limit. Collections happen only at
    /// safepoints, so an embedder that gets this inside `mutate` should
    /// return, let the next `mutate` (or [`crate::Heap::collect`]) collect,
    /// and try again; if it still fails, the live data does not fit.
    OutOfMemory {
        /// Bytes the allocation needed.
        requested: usize,
        /// The configured [`HeapConfig::heap_limit`].
        limit: usize,
        /// Bytes the heap held when it failed.
        in_use: usize,
    },
    /// The object cannot be represented (more than 2^32 - 1 slots or bytes).
    TooLarge {
        /// Slots asked for.
        slots: usize,
        /// Bytes asked for.
        bytes: usize,
    },
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocError::OutOfMemory {
                requested,
                limit,
                in_use,
            } => write!(
                f,
                "out of memory: allocating {requested} bytes with {in_use} of {limit} bytes in use"
            ),
            AllocError::TooLarge { slots, bytes } => write!(
                f,
                "object too large: {slots} slots and {bytes} bytes (at most {} of each)",
                u32::MAX
            ),
        }
    }
}

impl std::error::Error for AllocError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        HeapConfig::default().validate().unwrap();
    }

    #[test]
    fn every_bad_field_is_named() {
        let d = HeapConfig::default;
        let cases = [
            (d().with_heap_limit(10), "heap_limit"),
            (d().with_nursery_bytes(1), "nursery_bytes"),
            (
                d().with_heap_limit(1 << 20).with_nursery_bytes(2 << 20),
                "nursery_bytes",
            ),
            (d().with_growth_factor(f64::NAN), "growth_factor"),
            (d().with_growth_factor(0.0), "growth_factor"),
            (d().with_growth_factor(f64::INFINITY), "growth_factor"),
            (d().with_promotion_age(0), "promotion_age"),
            (d().with_promotion_age(16), "promotion_age"),
            (d().with_marker_threads(0), "marker_threads"),
            (d().with_marker_threads(65), "marker_threads"),
            (d().with_cycle_threshold(0), "cycle_threshold"),
            (d().with_large_object_bytes(8), "large_object_bytes"),
        ];
        for (cfg, field) in cases {
            let err = cfg.validate().unwrap_err();
            assert_eq!(err.field, field);
            assert!(err.to_string().contains(field));
        }
    }
}
