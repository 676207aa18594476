//! The candidate pass: Bacon and Rajan's synchronous trial deletion, in
//! slices.
//!
//! Candidates (purple, in the candidate buffer) are old objects that may
//! be the last outside reference into a garbage cycle. From each purple
//! candidate, `MarkGray` subtracts every internal reference of the
//! subgraph it reaches; `Scan` restores (`ScanBlack`) everything that
//! still has a count, i.e. is referenced from outside; what is left white
//! is garbage and is freed without touching counts (its references to live
//! objects were already subtracted). Root-stack references count as
//! external: every object in `State::stacked` has one extra count for the
//! length of the pass. All three traversals use explicit stacks, and the
//! work is bounded by the subgraph reachable from the candidates, not by
//! the heap.
//!
//! **Slicing.** A pass may be given a budget of gray objects (the pacer's
//! `SLICE_VISITS`): it starts gray traversals from candidates until the
//! budget is spent and defers the remaining purple candidates to the
//! next pass. Candidates that an earlier traversal of the same slice
//! already reached are decided with it at no extra cost, so a program that
//! keeps decrementing nodes of one big live structure pays one traversal
//! of it per slice, not one per candidate. Deferred candidates are looked
//! at first by the next slice, oldest first, so none starves behind a
//! stream of expensive new ones; new candidates go newest first (a new
//! candidate often reaches older ones: the newest head of a list covers
//! every older head).
//!
//! Slicing is sound because each slice is a complete trial deletion over
//! the subgraph of its roots; a white object that is still buffered as
//! another candidate is garbage all the same and is removed from the
//! buffer and freed with the others.
//!
//! After a pass every object is black or purple-and-buffered again, and
//! the extra stack counts are gone (an object whose count returns to zero
//! goes into the ZCT).

use crate::State;
use crate::header::{
    BLACK, BUFFERED, COLOR, GRAY, PURPLE, WHITE, color, flags, for_each_child, has, rc, remove,
    set_color, set_flags, set_rc,
};

impl State {
    /// One slice of Bacon-Rajan trial deletion; returns (roots, objects
    /// marked gray, objects freed). `budget` bounds the gray marking.
    pub(crate) fn candidate_pass(&mut self, budget: usize) -> (u64, u64, u64) {
        // SAFETY (every block of this function): candidates and stacked
        // objects are live (invariant 1), so are the children of live
        // objects (invariant 2), and nothing is freed before the last
        // traversal. The stack objects' extra count is below MAX_COUNT + 1
        // (the barrier refuses more), so it cannot wrap; every decrement
        // of MarkGray is matched by a reference it follows, so the counts
        // of the subgraph cannot underflow.
        //
        // Root-stack references are external references for the pass.
        for i in 0..self.stacked.len() {
            let p = self.stacked[i];
            // SAFETY: see above.
            unsafe { set_rc(p, rc(p) + 1) };
        }
        let mut roots = Vec::new();
        let mut stack = std::mem::take(&mut self.scratch);
        let mut visited = 0usize;
        // MarkRoots. The whole buffer is taken out and every candidate
        // looked at: first those deferred by the previous slice, oldest
        // first, then the new ones, newest first. A purple candidate
        // starts a gray traversal only while the budget lasts and is
        // deferred otherwise; one already gray (inside an earlier root's
        // subgraph) costs nothing and is decided with that root.
        let all = std::mem::take(&mut self.candidates.0);
        let split = self.deferred.min(all.len());
        let (old, new) = all.split_at(split);
        let mut deferred = Vec::new();
        for &s in old.iter().chain(new.iter().rev()) {
            // SAFETY: see above.
            unsafe {
                if color(s) == PURPLE && rc(s) > 0 {
                    if visited >= budget {
                        deferred.push(s);
                        continue;
                    }
                    roots.push(s);
                    set_color(s, GRAY);
                    visited += 1;
                    stack.push(s);
                    while let Some(p) = stack.pop() {
                        for_each_child(p, |_, c| {
                            set_rc(c, rc(c) - 1);
                            if color(c) != GRAY {
                                set_color(c, GRAY);
                                visited += 1;
                                stack.push(c);
                            }
                        });
                    }
                } else {
                    // Not purple (incremented since, or gray inside this
                    // slice's subgraph): no longer a candidate.
                    remove(s, BUFFERED);
                }
            }
        }
        // ScanRoots.
        let mut black = std::mem::take(&mut self.scratch2);
        for &r in &roots {
            stack.push(r);
            while let Some(p) = stack.pop() {
                // SAFETY: see above.
                unsafe {
                    if color(p) != GRAY {
                        continue;
                    }
                    if rc(p) > 0 {
                        // ScanBlack.
                        set_color(p, BLACK);
                        black.push(p);
                        while let Some(q) = black.pop() {
                            for_each_child(q, |_, c| {
                                set_rc(c, rc(c) + 1);
                                if color(c) != BLACK {
                                    set_color(c, BLACK);
                                    black.push(c);
                                }
                            });
                        }
                    } else {
                        set_color(p, WHITE);
                        for_each_child(p, |_, c| stack.push(c));
                    }
                }
            }
        }
        // CollectRoots: white objects are garbage, buffered or not (every
        // candidate is out of the buffer during the pass).
        for &r in &roots {
            // SAFETY: see above.
            unsafe { remove(r, BUFFERED) };
        }
        let mut white = black;
        for &r in &roots {
            stack.push(r);
            while let Some(p) = stack.pop() {
                // SAFETY: see above.
                unsafe {
                    let f = flags(p);
                    if f & COLOR != WHITE {
                        continue;
                    }
                    set_flags(p, f & !(COLOR | BUFFERED));
                    white.push(p);
                    for_each_child(p, |_, c| stack.push(c));
                }
            }
        }
        // Deferred candidates go back (unless found white above) before
        // any memory is freed.
        for p in deferred {
            // SAFETY: see above; `p` is in no list (the buffer was taken
            // out whole).
            unsafe {
                if has(p, BUFFERED) {
                    self.candidates.push(p);
                }
            }
        }
        self.deferred = self.candidates.0.len();
        let freed = white.len() as u64;
        for &p in &white {
            // SAFETY: white objects are live until released and unbuffered;
            // their counts fell to zero once the subgraph's internal
            // references were subtracted, so only other white objects
            // (freed in this loop, never read again) refer to them. None is
            // on the stack (the extra count kept those black), hence none
            // is in the ZCT either (drained before the pass, it holds only
            // stacked objects).
            unsafe { self.release(p) };
        }
        white.clear();
        self.scratch2 = white;
        self.scratch = stack;
        for i in 0..self.stacked.len() {
            let p = self.stacked[i];
            // SAFETY: stacked objects were black, so not freed above; their
            // extra count is dropped here.
            unsafe {
                let n = rc(p) - 1;
                set_rc(p, n);
                if n == 0 {
                    self.push_zct(p);
                }
            }
        }
        (roots.len() as u64, visited as u64, freed)
    }
}
