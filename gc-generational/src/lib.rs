//! # gc-generational (not implemented yet)
//!
//! A generational copying collector behind gc-core's
//! [`Collector`](gc_core::Collector) trait: bump-allocated nursery, Cheney
//! copying of survivors from the roots and a remembered set, promotion after
//! a configurable number of minor collections, and a compacting old space.
//! See the project's issue tracker ("gc-generational") for the plan.
//!
//! This crate only compiles for now: it exports no collector, and
//! `gc_runtime::Strategy::Generational` reports itself as unavailable.
