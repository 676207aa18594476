//! Persistent roots and weak handles: the only things that cross `mutate`.
//!
//! Both are indices into a table owned (through an `Rc`) by the heap. An
//! entry holds the target's address and a count of the handles that name
//! it, so cloning a handle is cheap and the collector sees one root per
//! entry. Dropping the last handle does not touch the collector (a handle
//! may be dropped anywhere, also outside `mutate`): the entry goes on a
//! `released` list, and at the next safepoint the heap tells the collector
//! (`root_removed` / `weak_removed`) and recycles the entry. Until then a
//! released root still counts, which is what deferred reference counting
//! wants anyway.
//!
//! The tables are `RefCell`s. They are borrowed only inside this crate, for
//! the length of one operation that never calls embedder code, so a borrow
//! conflict is impossible (and would panic rather than corrupt anything).

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use crate::object::ObjPtr;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub(crate) target: Option<ObjPtr>,
    /// Live handles naming this entry; 0 for free and released entries.
    handles: u32,
}

#[derive(Default)]
pub(crate) struct TableInner {
    pub(crate) entries: Vec<Entry>,
    free: Vec<u32>,
    pub(crate) released: Vec<u32>,
}

impl TableInner {
    /// Takes the released entries' targets and frees the entries.
    pub(crate) fn drain_released(&mut self, mut f: impl FnMut(u32, Option<ObjPtr>)) {
        while let Some(i) = self.released.pop() {
            let e = &mut self.entries[i as usize];
            debug_assert_eq!(e.handles, 0);
            f(i, e.target.take());
            self.free.push(i);
        }
    }

    /// Entries with live handles (free and released ones are `None`).
    pub(crate) fn live_targets_mut(&mut self) -> impl Iterator<Item = &mut Option<ObjPtr>> {
        self.entries.iter_mut().map(|e| &mut e.target)
    }
}

/// A table of roots or weak handles, shared by its handles.
#[derive(Default)]
pub(crate) struct HandleTable {
    pub(crate) inner: RefCell<TableInner>,
}

impl HandleTable {
    fn insert(self: &Rc<Self>, target: ObjPtr) -> u32 {
        let mut t = self.inner.borrow_mut();
        let e = Entry {
            target: Some(target),
            handles: 1,
        };
        match t.free.pop() {
            Some(i) => {
                t.entries[i as usize] = e;
                i
            }
            None => {
                let i = u32::try_from(t.entries.len()).expect("more than 2^32 handles");
                t.entries.push(e);
                i
            }
        }
    }

    fn target(&self, index: u32) -> Option<ObjPtr> {
        self.inner.borrow().entries[index as usize].target
    }

    fn set_target(&self, index: u32, target: ObjPtr) -> Option<ObjPtr> {
        self.inner.borrow_mut().entries[index as usize]
            .target
            .replace(target)
    }

    fn retain(&self, index: u32) {
        let mut t = self.inner.borrow_mut();
        let e = &mut t.entries[index as usize];
        e.handles = e.handles.checked_add(1).expect("handle count overflow");
    }

    fn release(&self, index: u32) {
        let mut t = self.inner.borrow_mut();
        let e = &mut t.entries[index as usize];
        e.handles -= 1;
        if e.handles == 0 {
            t.released.push(index);
        }
    }

    pub(crate) fn len(&self) -> usize {
        let t = self.inner.borrow();
        t.entries.len() - t.free.len() - t.released.len()
    }
}

macro_rules! handle_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name {
            table: Rc<HandleTable>,
            index: u32,
        }

        impl $name {
            pub(crate) fn new(table: &Rc<HandleTable>, target: ObjPtr) -> Self {
                $name {
                    index: table.insert(target),
                    table: Rc::clone(table),
                }
            }

            pub(crate) fn belongs_to(&self, table: &Rc<HandleTable>) -> bool {
                Rc::ptr_eq(&self.table, table)
            }

            pub(crate) fn target(&self) -> Option<ObjPtr> {
                self.table.target(self.index)
            }

            #[allow(dead_code)]
            pub(crate) fn index(&self) -> u32 {
                self.index
            }
        }

        impl Clone for $name {
            /// Another handle to the same entry (no collector work).
            fn clone(&self) -> Self {
                self.table.retain(self.index);
                $name {
                    table: Rc::clone(&self.table),
                    index: self.index,
                }
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                self.table.release(self.index);
            }
        }

        impl PartialEq for $name {
            /// Handles are equal when they name the same entry.
            fn eq(&self, other: &Self) -> bool {
                Rc::ptr_eq(&self.table, &other.table) && self.index == other.index
            }
        }

        impl Eq for $name {}

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("index", &self.index)
                    .field("target", &self.target())
                    .finish()
            }
        }
    };
}

handle_type! {
    /// A root: keeps its object alive across `mutate` calls, with no
    /// lifetime attached. Made by [`crate::Mutator::persist`], read back
    /// by [`crate::Mutator::fetch`]. Cloning makes another handle to the
    /// same root; the root is released when the last handle is dropped
    /// (the collector learns of it at the next safepoint).
    ///
    /// A `Persistent` belongs to the heap that made it; using it with
    /// another heap's mutator panics.
    Persistent
}

handle_type! {
    /// A weak reference that can live outside `mutate` (for example in a
    /// Rust-side intern table). It does not keep its target alive; it is
    /// cleared exactly when the collector frees the target, and follows
    /// the target when a moving collector moves it. Made by
    /// [`crate::Mutator::downgrade`], read by [`crate::Mutator::upgrade`].
    WeakHandle
}

impl Persistent {
    pub(crate) fn replace(&self, target: ObjPtr) -> ObjPtr {
        self.table
            .set_target(self.index, target)
            .expect("a persistent root with live handles always has a target")
    }
}
