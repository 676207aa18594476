//! # gc-tricolor (not implemented yet)
//!
//! Concurrent tri-color marking on background threads with a
//! snapshot-at-the-beginning write barrier and lazy sweeping (Go's design),
//! behind gc-core's [`Collector`](gc_core::Collector) trait, model-checked
//! with loom. See the project's issue tracker ("gc-tricolor") for the plan.
//!
//! This crate only compiles for now: it exports no collector, and
//! `gc_runtime::Strategy::Tricolor` reports itself as unavailable.
