//! # gc-refcount (not implemented yet)
//!
//! Deferred reference counting with a synchronous cycle collector behind
//! gc-core's [`Collector`](gc_core::Collector) trait: counts cover
//! heap-to-heap and persistent-root references only; objects whose count
//! reaches zero are freed iteratively at the next safepoint; decrements to
//! non-zero make cycle candidates that a Bacon-Rajan trial-deletion pass
//! reclaims. See the project's issue tracker ("gc-refcount") for the plan.
//!
//! This crate only compiles for now: it exports no collector, and
//! `gc_runtime::Strategy::RefCount` reports itself as unavailable.
