//! The heap verifier: recomputes every count from scratch and checks every
//! flag against the lists it claims membership of.
//!
//! After a safepoint (the only time it runs, with `HeapConfig::verify`):
//!
//! * every slot of every allocated object refers to an allocated object;
//!   every root, stack reference and uncleared weak entry does too
//!   (`Safepoint::verify_references`), and every uncleared weak entry is
//!   in the side table;
//! * every count equals the number of slots and persistent roots that
//!   refer to the object;
//! * no object keeps pass-only state (`REACHED`, `VIA_ZCT`, gray, white);
//!   purple objects are buffered; `BUFFERED` and `YOUNG` objects sit at
//!   their recorded index; an object with a zero count is in the ZCT or on
//!   the stack; `IN_ZCT` is set exactly for the table's members, and `NEW`
//!   only on them;
//! * dead objects (module `dying`) have a zero count, are in no list, off
//!   the stack and without weak handles, and `DEAD` is set exactly on the
//!   dying ones;
//! * the live byte count is the sum of the objects' cell sizes.

use gc_core::{ObjPtr, Safepoint};
use hashbrown::HashMap;

use crate::State;
use crate::header::{
    BUFFERED, COLOR, DEAD, GRAY, IN_ZCT, NEW, PURPLE, REACHED, STACK, VIA_ZCT, WEAK, WHITE, YOUNG,
    flags, for_each_child, index, rc,
};
use crate::slab::{FREE_MARK, footprint};

/// Checks the heap's invariants; `Err` describes the first violation.
/// Roots and weak entries are only looked up, never dereferenced.
pub(crate) fn verify(st: &State, sp: &mut Safepoint<'_>) -> Result<(), String> {
    let mut expected: HashMap<ObjPtr, u64> = HashMap::new();
    let mut all = Vec::new();
    // SAFETY: every cell the slab handed out holds an object initialised
    // by `ObjPtr::init` right after `Slab::alloc` (nothing in between can
    // fail) until `release` frees it (invariant 3).
    unsafe {
        st.slab.for_each_allocated(|m| {
            // SAFETY: as above: an allocated cell holds an object header.
            let p = ObjPtr::from_raw(m.cast());
            all.push(p);
            expected.insert(p, 0);
        })
    };
    let mut bad = None;
    for &p in &all {
        // SAFETY: an allocated object; its children are only looked up.
        unsafe {
            for_each_child(p, |i, c| match expected.get_mut(&c) {
                Some(n) => *n += 1,
                None => {
                    bad.get_or_insert(format!("slot {i} of {p:?} refers to freed {c:?}"));
                }
            })
        };
    }
    if let Some(b) = bad {
        return Err(b);
    }
    // Persistent roots are counted references (one per root entry);
    // `verify_references` reports those that are not objects.
    sp.for_each_persistent_root(|p| {
        if let Some(n) = expected.get_mut(p) {
            *n += 1;
        }
    });
    sp.verify_references(|p| expected.contains_key(&p))?;
    sp.for_each_weak(|i, t| {
        if let Some(p) = t
            && !st.weak.get(p).is_some_and(|v| v.contains(&i))
        {
            bad.get_or_insert(format!("weak entry {i} of {p:?} is not in the side table"));
        }
    });
    if let Some(b) = bad {
        return Err(b);
    }
    let mut zct_members = 0;
    let mut dead = 0;
    for &p in &all {
        // SAFETY: an allocated object.
        let (f, n, i) = unsafe { (flags(p), u64::from(rc(p)), index(p)) };
        if f == FREE_MARK {
            return Err(format!("{p:?} is allocated but marked free"));
        }
        if n != expected[&p] {
            return Err(format!("{p:?} has count {n}, expected {}", expected[&p]));
        }
        if f & (REACHED | VIA_ZCT) != 0 || matches!(f & COLOR, GRAY | WHITE) {
            return Err(format!(
                "{p:?} has pass-only state {f:#x} after a safepoint"
            ));
        }
        if f & COLOR == PURPLE && f & BUFFERED == 0 {
            return Err(format!("{p:?} is purple but not buffered"));
        }
        if f & BUFFERED != 0 && st.candidates.0.get(i) != Some(&p) {
            return Err(format!("{p:?} is buffered at a wrong index"));
        }
        if f & YOUNG != 0 && st.young.0.get(i) != Some(&p) {
            return Err(format!("{p:?} is young at a wrong index"));
        }
        if f & DEAD != 0 {
            dead += 1;
            if f & (IN_ZCT | STACK | YOUNG | BUFFERED | WEAK) != 0 || n != 0 {
                return Err(format!("dead {p:?} has count {n} and flags {f:#x}"));
            }
            continue;
        }
        if f & IN_ZCT != 0 {
            zct_members += 1;
        } else if n == 0 && f & STACK == 0 {
            return Err(format!("{p:?} has count zero but is not in the ZCT"));
        }
        if f & NEW != 0 && f & IN_ZCT == 0 {
            return Err(format!("{p:?} is new but not in the ZCT"));
        }
    }
    if zct_members != st.zct.len() {
        return Err(format!(
            "{} objects flagged IN_ZCT, {} in the table",
            zct_members,
            st.zct.len()
        ));
    }
    if dead != st.dying.len() + usize::from(st.partial.is_some()) {
        return Err(format!(
            "{dead} objects flagged DEAD, {} dying",
            st.dying.len() + usize::from(st.partial.is_some())
        ));
    }
    let total: usize = all
        .iter()
        // SAFETY: allocated objects.
        .map(|&p| footprint(unsafe { p.size() }))
        .sum();
    if total != st.live {
        return Err(format!("live bytes {} but objects hold {total}", st.live));
    }
    Ok(())
}
