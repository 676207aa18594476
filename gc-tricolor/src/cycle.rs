//! The cycle: the phases that run at safepoints, by the mutator thread.
//!
//! ```text
//! idle --(trigger)--> start_cycle --> marking --(quiescent)--> terminate --> sweeping
//! ```
//!
//! * [`Tricolor::start_cycle`] (the mark-start pause) finishes the last
//!   sweep phase, shades every root (the snapshot), turns the barrier on
//!   and wakes the markers.
//! * While marking, every safepoint [`Tricolor::try_terminate`]s: it
//!   flushes the barrier buffer and terminates if no grey object is left
//!   ([`Shared::quiescent`](crate::Shared::quiescent)). If the markers are not done
//!   and the pacer says so, the mutator [`Tricolor::assist`]s first.
//! * [`Tricolor::terminate`] (the mark-termination pause) clears the weak
//!   entries of unmarked objects, makes every span unswept (`sg += 2`),
//!   sets the next goal and trigger, and hands the markers the sweep.
//!
//! Invariants: a cycle starts only when every span is swept; marking ends
//! only at a safepoint, after the flush, when the markers are quiescent;
//! the mutator produces no grey object at a safepoint, so the decision
//! cannot be overtaken. Every pause is recorded through one
//! [`Safepoint::pause`] call. The mark-start and termination pauses scan
//! no object (they shade roots and the barrier buffer, and test
//! quiescence); a bounded assist scans in steps of at most
//! `grey::ASSIST_STEP` slots and checks its budget after each, whatever
//! the size of the objects it meets.

use std::time::{Duration, Instant};

use gc_core::stats::Phase;
use gc_core::{CollectKind, ObjPtr, PauseWork, Request, Safepoint};

use crate::grey::Grey;
use crate::pacer::SWEEP_SLICE;
use crate::span::SpanRef;
use crate::sync::faults::{Fault, on as fault};
use crate::sync::{Ordering, lock, thread, wait};
use crate::{IDLE, MARKING, SWEEPING, Tricolor};

impl Tricolor {
    /// Makes every span unswept (at termination, with marking quiescent):
    /// the mutator's cached spans with them, since the allocator only
    /// allocates in swept spans.
    pub(crate) fn unsweep_all(&self) {
        let sh = &*self.shared;
        let keep_cache = fault(sh.faults, Fault::KeepCacheAtTermination);
        for c in &self.m.cache {
            let e = if keep_cache { c.get() } else { c.take() };
            if let Some(s) = e.span {
                lock(&sh.lists).full[s.get().class].push(s);
            }
        }
        let sg = sh.sweepgen.load(Ordering::Relaxed).wrapping_add(2);
        sh.sweepgen.store(sg, Ordering::Release);
        let mut l = lock(&sh.lists);
        let n = l.unsweep_all();
        sh.pending_sweep.store(n, Ordering::Release);
    }

    /// The work of `Collector::safepoint` for `sp`'s request.
    ///
    /// # Safety
    ///
    /// 1. Every root and weak entry shown through `sp` names a live object
    ///    of this collector, or is a cleared weak entry (`Collector::
    ///    safepoint`'s obligations).
    pub(crate) unsafe fn run_safepoint(&mut self, sp: &mut Safepoint<'_>) {
        let marking = self.m.marking.get();
        match sp.request() {
            Request::Due | Request::Force(CollectKind::Minor) => {
                let forced = sp.request() != Request::Due;
                if self.m.oom.replace(false) {
                    // An allocation failed at the heap limit: collect
                    // everything now, so that the retry can succeed
                    // (a full pause, but the alternative is an error).
                    // SAFETY: obligation 1.
                    unsafe { self.collect_all(sp) };
                } else if marking {
                    // SAFETY: obligation 1.
                    if !unsafe { self.try_terminate(sp) }
                        && let Some(budget) = self.assist_due()
                        && self.assist(sp, budget)
                    {
                        // SAFETY: obligation 1.
                        unsafe { self.try_terminate(sp) };
                    }
                } else if forced {
                    // SAFETY: obligation 1.
                    unsafe { self.start_cycle(sp) };
                } else if self.cycle_due() {
                    // Sweeping left behind is finished in bounded slices
                    // over several safepoints, not in the start pause.
                    let near_limit = self.near_limit(self.live());
                    if near_limit || self.sweep_for(sp, SWEEP_SLICE) {
                        // SAFETY: obligation 1.
                        unsafe { self.start_cycle(sp) };
                    }
                }
            }
            Request::Stress => {
                // Back-to-back cycles: the barrier is on during almost
                // every `mutate`, and every safepoint tries to terminate.
                // Forcing a whole cycle at each safepoint would cost
                // O(heap) per safepoint and test less of the concurrency.
                // SAFETY: obligation 1.
                if !marking || unsafe { self.try_terminate(sp) } {
                    // SAFETY: obligation 1.
                    unsafe { self.start_cycle(sp) };
                }
            }
            Request::Force(kind) => {
                let fresh = marking && kind == CollectKind::Full;
                // SAFETY: obligation 1.
                unsafe { self.finish_cycle(sp) };
                if !marking || fresh {
                    // SAFETY: obligation 1.
                    unsafe { self.start_cycle(sp) };
                    // SAFETY: obligation 1.
                    unsafe { self.finish_cycle(sp) };
                }
                if kind == CollectKind::Full {
                    self.finish_sweep(sp);
                }
            }
        }
    }

    /// Finishes the cycle in progress, runs a whole new one and its sweep,
    /// all in this pause (after an allocation failed at the heap limit).
    ///
    /// # Safety
    ///
    /// 1. As for [`run_safepoint`](Self::run_safepoint).
    unsafe fn collect_all(&mut self, sp: &mut Safepoint<'_>) {
        // SAFETY: obligation 1.
        unsafe { self.finish_cycle(sp) };
        // SAFETY: obligation 1.
        unsafe { self.start_cycle(sp) };
        // SAFETY: obligation 1.
        unsafe { self.finish_cycle(sp) };
        self.finish_sweep(sp);
    }

    /// The mark-start pause: finishes sweeping, shades the roots, turns
    /// the barrier on and wakes the markers.
    ///
    /// # Safety
    ///
    /// 1. As for [`run_safepoint`](Self::run_safepoint).
    unsafe fn start_cycle(&mut self, sp: &mut Safepoint<'_>) {
        self.finish_sweep(sp);
        sp.pause(Phase::MarkStart, self, Tricolor::live, |this, sp| {
            let sh = &*this.shared;
            sh.phase.store(IDLE, Ordering::Release);
            {
                let mut g = lock(&sh.ctl);
                g.marked = 0;
                g.scanned = 0;
            }
            this.m.black.set(0);
            this.m.marking.set(true);
            let mut roots = 0u64;
            let mut bytes = 0;
            let mut shade_root = |p: &mut ObjPtr| {
                roots += 1;
                // SAFETY: obligation 1: roots name live objects.
                if let Some(n) = unsafe { sh.shade(*p) } {
                    bytes += n;
                    sh.injector.push(Grey::whole(*p));
                }
            };
            if fault(sh.faults, Fault::NoStackSnapshot) {
                sp.for_each_persistent_root(&mut shade_root);
            } else {
                sp.for_each_root(&mut shade_root);
            }
            lock(&sh.ctl).marked += bytes;
            sh.phase.store(MARKING, Ordering::Release);
            sh.kick();
            Some(PauseWork {
                roots,
                ..PauseWork::default()
            })
        });
    }

    /// Flushes the barrier and terminates marking if nothing grey is left.
    ///
    /// # Safety
    ///
    /// 1. As for [`run_safepoint`](Self::run_safepoint).
    unsafe fn try_terminate(&mut self, sp: &mut Safepoint<'_>) -> bool {
        if !fault(self.shared.faults, Fault::NoBufferFlush) {
            self.flush_buffer();
        }
        if !self.shared.quiescent() {
            return false;
        }
        // SAFETY: obligation 1.
        unsafe { self.terminate(sp) };
        true
    }

    /// Helps the markers (and then waits for them) until marking is done,
    /// or until `budget` has passed. Records the time as an assist pause.
    fn assist(&mut self, sp: &mut Safepoint<'_>, budget: Option<Duration>) -> bool {
        let mut done = false;
        sp.pause(Phase::Assist, self, Tricolor::live, |this, _| {
            let t = Instant::now();
            let deadline = budget.map(|b| t + b);
            let sh = &*this.shared;
            done = loop {
                this.flush_buffer();
                sh.drain(&this.local, None, deadline);
                if sh.quiescent() {
                    break true;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break false;
                }
                if deadline.is_some() {
                    // The markers hold the remaining work: give them the
                    // CPU until the budget runs out, then let the mutator
                    // go on.
                    thread::yield_now();
                    continue;
                }
                let mut g = lock(&sh.ctl);
                while sh.busy.load(Ordering::SeqCst) != 0 && sh.injector.is_empty() {
                    sh.check_poisoned();
                    g = wait(&sh.idle_cv, g);
                }
            };
            this.space_assists(t);
            Some(PauseWork::default())
        });
        done
    }

    /// Runs the current cycle to its end, in this pause.
    ///
    /// # Safety
    ///
    /// 1. As for [`run_safepoint`](Self::run_safepoint).
    unsafe fn finish_cycle(&mut self, sp: &mut Safepoint<'_>) {
        while self.m.marking.get() {
            // SAFETY: obligation 1.
            if !unsafe { self.try_terminate(sp) } {
                self.assist(sp, None);
            }
        }
    }

    /// The mark-termination pause (marking is quiescent): clears dead weak
    /// entries, opens the sweep phase and paces the next cycle.
    ///
    /// # Safety
    ///
    /// 1. As for [`run_safepoint`](Self::run_safepoint).
    unsafe fn terminate(&mut self, sp: &mut Safepoint<'_>) {
        sp.pause(Phase::MarkTermination, self, Tricolor::live, |this, sp| {
            let sh = &*this.shared;
            // Dead weak targets: unmarked at termination.
            let mut cleared = 0;
            sp.for_each_weak(|_, target| {
                if let Some(p) = *target {
                    // SAFETY: obligation 1: an uncleared weak entry names an
                    // allocated object; its span is not swept before this
                    // pause ends.
                    let span = unsafe { SpanRef::of(p) }.get();
                    if !span.is_marked(span.cell_index(p.addr())) {
                        *target = None;
                        cleared += 1;
                    }
                }
            });
            let (marked, scanned) = {
                let g = lock(&sh.ctl);
                (g.marked + this.m.black.get(), g.scanned)
            };
            this.unsweep_all();
            this.m.marking.set(false);
            this.m.verify_walk.set(true);
            let live = this.live();
            this.m
                .sweep_open
                .set(Some((sh.freed.load(Ordering::Relaxed), live)));
            sh.mirror.clear();
            this.pace(marked);
            sh.phase.store(SWEEPING, Ordering::Release);
            sh.kick();
            Some(PauseWork {
                visited: scanned,
                roots: cleared,
                // Termination frees nothing: sweeping does, and the sweep
                // phase's pause reports it.
                freed: Some(0),
                live_after: Some(marked),
                ..PauseWork::default()
            })
        });
    }
}
