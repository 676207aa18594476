//! gc-core's shared conformance suite, normal and stress mode.

gc_core::conformance_suite!(gc_generational::Generational);
