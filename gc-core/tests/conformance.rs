//! The shared conformance suite, run against the no-collection backend.
//! Reclamation cases report themselves skipped (NoGc never frees).

gc_core::conformance_suite!(gc_core::NoGc);
