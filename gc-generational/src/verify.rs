//! The heap verifier, run after every collection when
//! [`HeapConfig::verify`](gc_core::HeapConfig::verify) is set.
//!
//! It checks, for the heap as a collection left it:
//!
//! * every object in every space has a state word (not a forwarding word),
//!   the generation bit of its space, and no `MARK` unless a major cycle
//!   is marking or the object lies where the sweep under way has not
//!   reached (an unmarked object there is dead: it is skipped); the
//!   survivor to-space is empty;
//! * the objects of the spaces add up to the live bytes, and those of the
//!   old space to its own count;
//! * the mark stack holds only marked objects, and is empty outside
//!   marking; the remembered set holds only live objects;
//! * every reference (slots here; roots and weak entries through
//!   [`Safepoint::verify_references`]) names the start of an object in the
//!   current spaces, never the old contents of the nursery or a
//!   from-space;
//! * every old object that refers to a young one is remembered (flag and
//!   set), and a large one has the card of each such slot dirty; only
//!   remembered large objects have cards.

use gc_core::{ObjPtr, Safepoint};
use hashbrown::HashSet;

use crate::State;
use crate::barrier::CARD_SLOTS;
use crate::header::{LARGE, MARK, OLD, REMEMBERED, TAG, is_young, meta};
use crate::major::Cycle;

/// Checks the heap `st` describes (see the module docs).
pub(crate) fn verify(st: &State, sp: &mut Safepoint<'_>) -> Result<(), String> {
    let mut objects: HashSet<ObjPtr> = HashSet::new();
    let mut young = Vec::new();
    let mut old = Vec::new();
    let mut total = 0;
    let mut err = None;
    let marking = st.cycle == Cycle::Marking;
    // `may_be_marked`: marking is under way, or the object lies where the
    // sweep under way has not reached.
    let mut check_header = |p: ObjPtr, want_old: bool, may_be_marked: bool, space: &str| {
        // SAFETY: an object of one of the spaces, which hold complete
        // objects between collections.
        let m = unsafe { meta(p) };
        if m & TAG != 0 {
            err.get_or_insert(format!("{p:?} in {space} has a forwarding header"));
        }
        if (m & OLD != 0) != want_old {
            err.get_or_insert(format!("{p:?} in {space} has the wrong generation bit"));
        }
        if m & MARK != 0 && !may_be_marked {
            err.get_or_insert(format!("{p:?} in {space} is marked outside a cycle"));
        }
        objects.insert(p);
    };
    // SAFETY: between collections, every allocation of a space holds a
    // complete object, laid end to end (see `alloc.rs`, `copy.rs` and
    // `old.rs`).
    unsafe {
        st.nursery.for_each_object(|p| {
            check_header(p, false, false, "the nursery");
            young.push(p);
        });
        st.survivors.for_each_object(|p| {
            check_header(p, false, false, "survivor space");
            young.push(p);
        });
        st.old.for_each_object(|p, unswept| {
            total += p.size();
            if unswept && meta(p) & MARK == 0 {
                // Dead, waiting for the sweeper: it may refer to memory
                // already freed, and nothing refers to it.
                return;
            }
            check_header(p, true, marking || unswept, "old space");
            old.push(p);
        });
    }
    for &p in st.large.keys() {
        check_header(p, true, marking, "large-object space");
        old.push(p);
    }
    if let Some(e) = err {
        return Err(e);
    }
    if st.survivors_to.used() != 0 {
        return Err("survivor to-space is not empty after a collection".into());
    }
    if total != st.old.live() {
        return Err(format!(
            "the old space holds {total} bytes of objects, its count says {}",
            st.old.live()
        ));
    }
    let total: usize = young
        .iter()
        .chain(st.large.keys())
        // SAFETY: objects of the spaces are complete.
        .map(|&p| unsafe { p.size() })
        .sum::<usize>()
        + total;
    if total != st.live() {
        return Err(format!(
            "spaces hold {total} bytes of objects, live says {}",
            st.live()
        ));
    }
    if !marking && !st.mark_stack.is_empty() {
        return Err("the mark stack is not empty outside marking".into());
    }
    for &(p, _) in &st.mark_stack {
        // SAFETY: the mark stack holds live old objects.
        if !objects.contains(&p) || unsafe { meta(p) } & MARK == 0 {
            return Err(format!("{p:?} on the mark stack is not a marked object"));
        }
    }
    let remembered: HashSet<ObjPtr> = st.remembered.iter().copied().collect();
    for &p in young.iter().chain(&old) {
        let mut refers_young = false;
        let cards = st.cards.get(&p);
        // SAFETY: a complete object of the spaces; `c` is read only once
        // it is known to be one too.
        unsafe {
            p.for_each_ref(|i, c| {
                if !objects.contains(&c) {
                    err.get_or_insert(format!(
                        "slot {i} of {p:?} refers to {c:?}, not a current object"
                    ));
                } else if is_young(c) {
                    refers_young = true;
                    let card = i / CARD_SLOTS;
                    if meta(p) & (LARGE | OLD) == LARGE | OLD
                        && cards.is_none_or(|w| w[card / 64] & 1 << (card % 64) == 0)
                    {
                        err.get_or_insert(format!(
                            "slot {i} of large {p:?} refers to a young object but its card is clean"
                        ));
                    }
                }
            })
        };
        // SAFETY: a complete object of the spaces.
        let (p_young, p_flagged) = unsafe { (is_young(p), meta(p) & REMEMBERED != 0) };
        if !p_young && refers_young && !(p_flagged && remembered.contains(&p)) {
            err.get_or_insert(format!(
                "old {p:?} refers to a young object but is not remembered"
            ));
        }
    }
    for &p in &st.remembered {
        if !objects.contains(&p) {
            return Err(format!("{p:?} on the remembered set is not a live object"));
        }
    }
    for &p in st.cards.keys() {
        // SAFETY: checked to be a current object first.
        if !objects.contains(&p) || unsafe { meta(p) } & (LARGE | REMEMBERED) != LARGE | REMEMBERED
        {
            return Err(format!(
                "{p:?} has cards but is not a remembered large object"
            ));
        }
    }
    if let Some(e) = err {
        return Err(e);
    }
    sp.verify_references(|p| objects.contains(&p))
}
