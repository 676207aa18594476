//! The young pass: CPython's "subtract internal references", restricted
//! to the young set.
//!
//! Young objects are new objects that left the ZCT with a count (something
//! in the heap refers to them); they may be part of a garbage cycle among
//! themselves. For each young object the pass computes
//! `gc = count + (1 if on the root stack)`, minus one for every reference
//! from another young object. Young objects with `gc > 0` are referenced
//! from outside the young set; everything young reachable from them
//! (flag `REACHED`) survives and becomes old.
//!
//! References from dead objects waiting to be dismantled (module `dying`)
//! count as internal as well, and what only they keep alive is garbage
//! like the rest: it is freed now and the dead objects' slots that refer to
//! it are cleared, rather than promoted and dismantled later. (This walks
//! every slot of every dying object, so the pass grows with the backlog
//! of dismantling, which allocation and safepoints keep short.)
//!
//! References from objects that the root stack holds in the ZCT count as
//! internal: they can vanish with their object without a decrement. What
//! survives only through them (flag `VIA_ZCT`) becomes old *and a
//! candidate*, so a later pass looks at it again; so does a survivor that
//! left the root stack while young (`LEFT_STACK`).
//!
//! The rest is garbage: it is coloured white, releases its references to
//! survivors (decrements, which may make candidates or ZCT entries) and is
//! freed. The work is linear in the young set and its slots: references
//! into old objects are not followed, so a new object pointing into a huge
//! old structure costs nothing extra. After the pass the young set is
//! empty, and no object keeps `REACHED` or `VIA_ZCT`.

use gc_core::{ObjPtr, RawValue};

use crate::State;
use crate::header::{
    BLACK, COLOR, LEFT_STACK, REACHED, STACK, VIA_ZCT, WHITE, YOUNG, color, flags, for_each_child,
    has, index, rc, set_color, set_flags,
};

impl State {
    /// The young pass; returns (objects examined, objects freed).
    pub(crate) fn young_pass(&mut self) -> (u64, u64) {
        let young = std::mem::take(&mut self.young.0);
        let n = young.len();
        // SAFETY (every block of this function): young-set and ZCT members
        // are live (invariant 1), so are the children of live objects
        // (invariant 2); young objects keep their `YOUNG` flag and index
        // until the last loop, so `gc[index(c)]` is in bounds for a child
        // flagged young. Garbage is freed only at the end, after every
        // traversal.
        let mut gc: Vec<i64> = young
            .iter()
            // SAFETY: see above.
            .map(|&p| i64::from(unsafe { rc(p) }) + i64::from(unsafe { has(p, STACK) }))
            .collect();
        let subtract = |gc: &mut Vec<i64>, p: ObjPtr| {
            // SAFETY: see above.
            unsafe {
                for_each_child(p, |_, c| {
                    if has(c, YOUNG) {
                        gc[index(c)] -= 1;
                    }
                })
            }
        };
        for &p in &young {
            subtract(&mut gc, p);
        }
        // Objects still in the ZCT here are held by the root stack alone.
        // Their references are not outside references that later
        // decrements will report (they may vanish with the object), so
        // they count as internal, and what survives only through them is
        // marked separately below.
        for i in 0..self.zct.len() {
            subtract(&mut gc, self.zct[i]);
        }
        // Dead objects waiting to be dismantled (module `dying`) still hold
        // counted references; they are garbage, so their references are
        // internal too, and what only they keep is garbage: freed now, not
        // promoted and dismantled later (the slots that refer to it are
        // cleared below).
        for i in 0..self.dying.len() {
            subtract(&mut gc, self.dying[i]);
        }
        if let Some((p, _)) = self.partial {
            // Its released slots are nil.
            subtract(&mut gc, p);
        }
        // Marks a young object not marked yet with `flag` and queues it.
        let shade = |c: ObjPtr, flag: u32, work: &mut Vec<ObjPtr>| {
            // SAFETY: see above.
            let f = unsafe { flags(c) };
            if f & (YOUNG | REACHED | VIA_ZCT) == YOUNG {
                // SAFETY: see above.
                unsafe { set_flags(c, f | flag) };
                work.push(c);
            }
        };
        let mark = |work: &mut Vec<ObjPtr>, flag: u32| {
            while let Some(p) = work.pop() {
                // SAFETY: see above.
                unsafe { for_each_child(p, |_, c| shade(c, flag, work)) };
            }
        };
        let mut work = std::mem::take(&mut self.scratch);
        for (i, &p) in young.iter().enumerate() {
            if gc[i] > 0 {
                shade(p, REACHED, &mut work);
            }
        }
        mark(&mut work, REACHED);
        for i in 0..self.zct.len() {
            // SAFETY: see above.
            unsafe { for_each_child(self.zct[i], |_, c| shade(c, VIA_ZCT, &mut work)) };
        }
        mark(&mut work, VIA_ZCT);
        let mut garbage = work;
        for &p in &young {
            // SAFETY: see above; `possible_root` sees a live object that
            // has just left the young set.
            unsafe {
                let f = flags(p);
                if f & REACHED != 0 {
                    set_flags(p, f & !(REACHED | YOUNG | LEFT_STACK));
                    if f & LEFT_STACK != 0 {
                        self.possible_root(p);
                    }
                } else if f & VIA_ZCT != 0 {
                    set_flags(p, f & !(VIA_ZCT | YOUNG | LEFT_STACK));
                    // It owes its life to a reference that may vanish without
                    // a decrement: a candidate, so a later pass looks again.
                    self.possible_root(p);
                } else {
                    set_flags(p, (f & !(YOUNG | COLOR)) | WHITE);
                    garbage.push(p);
                }
            }
        }
        // Garbage releases its references to survivors first, then goes.
        for &g in &garbage {
            // SAFETY: see above; a survivor referred to from a garbage slot
            // holds a count for that reference.
            unsafe {
                for_each_child(g, |_, c| {
                    if color(c) != WHITE {
                        self.dec(c);
                    }
                })
            };
        }
        if !garbage.is_empty() {
            let partial = self.partial.map(|(p, _)| p);
            for &d in self.dying.iter().chain(partial.iter()) {
                // SAFETY: see above; a dead object's slot that refers to
                // garbage is cleared without a decrement (the garbage is
                // freed below, and the reference is not counted any more).
                unsafe {
                    for_each_child(d, |i, c| {
                        if color(c) == WHITE {
                            d.store_slot(i, RawValue::NIL);
                        }
                    })
                };
            }
        }
        let freed = garbage.len() as u64;
        for &g in &garbage {
            // SAFETY: garbage is live until released and out of the young
            // set; it is not on the stack (a stacked object has `gc > 0`)
            // nor in the ZCT (drained before the pass, the ZCT holds only
            // stacked objects); only other garbage, freed in this loop and
            // never read again, refers to it.
            unsafe {
                set_color(g, BLACK);
                self.release(g);
            }
        }
        garbage.clear();
        self.scratch = garbage;
        (n as u64, freed)
    }
}
