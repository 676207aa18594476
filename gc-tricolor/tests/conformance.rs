//! gc-core's shared conformance suite, normal and stress mode.
#![cfg(not(loom))]

gc_core::conformance_suite!(gc_tricolor::Tricolor);
