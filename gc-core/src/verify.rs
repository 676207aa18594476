//! The checks every heap verifier makes.
//!
//! A backend's [`Collector::verify`](crate::Collector::verify) checks its
//! own invariants (counts, colours, remembered sets). What every backend
//! must also hold after a collection is the same: each root (persistent
//! and on the root stack) and each uncleared weak entry names an object
//! the backend holds. [`Safepoint::verify_references`] checks that, given
//! the backend's membership test.

use crate::collector::Safepoint;
use crate::object::ObjPtr;

impl Safepoint<'_> {
    /// Checks that every persistent root, every reference on the root
    /// stack and every uncleared weak entry names an object for which
    /// `is_object` is true; `Err` describes the first that does not.
    pub fn verify_references(
        &mut self,
        mut is_object: impl FnMut(ObjPtr) -> bool,
    ) -> Result<(), String> {
        let mut bad = None;
        self.for_each_persistent_root(|p| {
            if !is_object(*p) {
                bad.get_or_insert(format!("persistent root {p:?} is not a current object"));
            }
        });
        self.for_each_stack_root(|p| {
            if !is_object(*p) {
                bad.get_or_insert(format!(
                    "the root stack refers to {p:?}, not a current object"
                ));
            }
        });
        self.for_each_weak(|i, t| {
            if let Some(p) = *t
                && !is_object(p)
            {
                bad.get_or_insert(format!(
                    "weak entry {i} refers to {p:?}, not a current object"
                ));
            }
        });
        bad.map_or(Ok(()), Err)
    }
}
