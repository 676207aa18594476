//! The heap verifier (`HeapConfig::verify`).
//!
//! After every pause it checks, through gc-core's
//! [`Safepoint::verify_references`], that every root and uncleared weak
//! entry names an allocated cell of this collector holding a header that
//! fits the cell. After a pause that included a termination (the only
//! pauses that change which cells are allocated: cells freed by the sweep
//! that follows were unmarked then) it also walks everything reachable
//! from the roots and weak targets and checks each object the same way:
//! a reachable object in a free cell means marking lost it.

use gc_core::{ObjPtr, Safepoint};

use crate::Tricolor;
use crate::span::SpanRef;

impl Tricolor {
    /// `Collector::verify`.
    ///
    /// # Safety
    ///
    /// 1. As for `Collector::safepoint`: every root and weak entry shown
    ///    through `sp` names an object of this collector (what this checks
    ///    is that it is still allocated), or is a cleared weak entry.
    pub(crate) unsafe fn verify_heap(&self, sp: &mut Safepoint<'_>) -> Result<(), String> {
        let walk = self.m.verify_walk.replace(false);
        let mut why = None;
        sp.verify_references(|p| {
            // SAFETY: obligation 1.
            let ok = unsafe { check_cell(p) };
            ok.map_err(|e| why.get_or_insert(e)).is_ok()
        })
        .map_err(|e| match &why {
            Some(w) => format!("{e}: {w}"),
            None => e,
        })?;
        if !walk {
            return Ok(());
        }
        let mut seen = hashbrown::HashSet::new();
        let mut stack = Vec::new();
        sp.for_each_root(|p| stack.push(*p));
        sp.for_each_weak(|_, t| stack.extend(*t));
        while let Some(p) = stack.pop() {
            if !seen.insert(p) {
                continue;
            }
            // SAFETY: `p` is a root, a weak target (obligation 1) or in a
            // slot of an object checked before, whose slots name objects
            // of this collector.
            unsafe { check_cell(p) }?;
            // SAFETY: `check_cell` showed `p` is an allocated object.
            unsafe { p.for_each_ref(|_, q| stack.push(q)) };
        }
        Ok(())
    }
}

/// Checks that `p` is an allocated object whose header fits its cell.
///
/// # Safety
///
/// 1. `p` points into a block of this collector whose span has not been
///    destroyed (true of every reference the heap holds while the
///    collector keeps its obligations; whether its cell is still allocated
///    is what this checks).
unsafe fn check_cell(p: ObjPtr) -> Result<(), String> {
    // SAFETY: obligation 1: only reads the descriptor pointer of `p`'s
    // block.
    let span = unsafe { SpanRef::of(p) }.get();
    if !span.is_cell_start(p.addr()) {
        return Err(format!("{p:?} is not the start of a cell"));
    }
    if !span.is_allocated(span.cell_index(p.addr())) {
        return Err(format!("{p:?} is reachable but its cell is not allocated"));
    }
    // SAFETY: the cell is allocated, so it holds an initialised header.
    let size = unsafe { gc_core::object::object_size(p.header().len(), p.header().byte_len()) };
    match size {
        Some(s) if s <= span.cell => Ok(()),
        _ => Err(format!("{p:?} has a header that does not fit its cell")),
    }
}
