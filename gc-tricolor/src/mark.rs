//! The markers: shading, scanning, and the work-stealing drain of the grey
//! queue, run by the marker threads and by an assisting mutator.
//!
//! The grey queue is a shared injector plus one deque per marker (and the
//! mutator's own deque for assists, which nobody steals from). Its entries
//! are [`Grey`] ranges: an object and a range of its slots, so that a big
//! object is scanned in bounded steps (`grey.rs`, which states the
//! invariants of that split). Invariants:
//!
//! * An object is pushed whole at most once per cycle: [`Shared::shade`]
//!   sets its mark bit with one atomic OR, and only the caller that
//!   flipped the bit pushes it. The other entries of a big object are the
//!   rest of a range, pushed by the drainer that took the range.
//! * Only a deque's owner pushes to it; anyone may steal from it.
//! * A drainer increments `busy` *before* it steals (with a `SeqCst` fence
//!   after), pushes the rest of a range before it scans the range's first
//!   step, and decrements `busy` only once its own deque is empty and
//!   every steal failed. So, after the mutator's barrier buffer was
//!   flushed, "injector empty, then `busy == 0`" ([`Shared::quiescent`])
//!   means no grey range exists anywhere (crate docs, "Termination").
//! * One step reads at most an oblet's slots ([`OBLET_SLOTS`], an
//!   assist's [`ASSIST_STEP`]); an assist reads the clock after every
//!   [`CHECK_WORK`] units of work, so it ends at most one step late.
//! * The per-cycle counts (`Ctl::marked`, `Ctl::scanned`) are added under
//!   the control lock when a drainer stops, so a termination that took
//!   the lock sees every idle marker's counts and marks.
//!
//! ## Waking markers
//!
//! A marker with nothing to do parks on `work_cv` until the work epoch
//! changes; [`Shared::kick`] bumps the epoch and wakes the parked ones.
//! Waking a parked thread is not free for the waker: on this project's
//! 2-vCPU virtual machine, a `notify_all` that wakes a marker took the
//! kicking thread 15-40 us (an inter-processor interrupt to an idle
//! virtual CPU), and the mutator kicks inside its pauses (flushing the
//! barrier buffer, handing an assist's leftover work back). So:
//!
//! * `kick` notifies only when `Ctl::parked` says a marker waits. A
//!   marker reads the epoch and counts itself parked under the same lock,
//!   so a kick either sees it counted or happens before its check (and the
//!   marker sees the new epoch): no wakeup is lost.
//! * A marker that runs out of work while marking watches the injector
//!   for [`MARKER_SPIN`] (longer than one assist) before it parks, so the
//!   work an assist hands back at its deadline is picked up without a
//!   wake. The spin is the marker's idle time, on a core the mutator is
//!   not using; it is not counted as concurrent marking time. Under loom
//!   markers park at once.

use std::time::Instant;

use gc_core::{ConfigError, ObjPtr, RawValue};

use crate::grey::{ASSIST_STEP, CHECK_WORK, ENTRY_WORK, Grey, OBLET_SLOTS};
use crate::span::SpanRef;
use crate::sync::deque::{Steal, Worker};
use crate::sync::faults::{Fault, on as fault};
use crate::sync::{Arc, Ordering, fence, lock, thread, wait};
use crate::{MARKING, SWEEPING, Shared, Unwinding};

/// A marker shares half its deque when it holds more than this, so that
/// idle markers find work in the injector instead of one marker holding
/// a long deque alone.
const SHARE_AT: usize = 128;

/// How long a marker that ran out of work while marking watches the
/// injector before it parks: longer than an assist ([`crate::pacer`]'s
/// budget), so that the work an assist hands back is taken without a wake.
#[cfg(not(loom))]
const MARKER_SPIN: std::time::Duration = std::time::Duration::from_micros(200);

impl Shared {
    /// Bumps the work epoch and wakes every parked marker.
    pub(crate) fn kick(&self) {
        let mut g = lock(&self.ctl);
        // Under the lock: a marker going idle stores `true` under it too,
        // after looking at the injector.
        self.mark_done.store(false, Ordering::Relaxed);
        g.epoch += 1;
        // A marker counts itself in `parked` under this lock before it
        // waits, and reads the epoch under it first: one that is not
        // counted yet will see the new epoch and not wait.
        if g.parked > 0 {
            self.work_cv.notify_all();
        }
    }

    /// A marker that ran out of work while marking watches the injector
    /// for up to [`MARKER_SPIN`] before it parks, and returns whether work
    /// showed up (mark.rs, "Waking markers").
    #[cfg(not(loom))]
    fn spin_for_work(&self) -> bool {
        let end = Instant::now() + MARKER_SPIN;
        while self.phase.load(Ordering::Relaxed) == MARKING {
            for _ in 0..64 {
                if !self.injector.is_empty() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= end {
                break;
            }
        }
        false
    }

    /// Under loom a spin would only multiply the interleavings: markers
    /// park at once.
    #[cfg(loom)]
    fn spin_for_work(&self) -> bool {
        false
    }

    /// Shades `p`: sets its mark bit and returns its cell size if this call
    /// set it (the caller then pushes it).
    ///
    /// # Safety
    ///
    /// 1. `p` is an object of this collector that was allocated when the
    ///    cycle started or since, in a span not yet destroyed.
    #[inline]
    pub(crate) unsafe fn shade(&self, p: ObjPtr) -> Option<u64> {
        // SAFETY: obligation 1.
        let span = unsafe { SpanRef::of(p) }.get();
        let i = span.cell_index(p.addr());
        if cfg!(any(loom, debug_assertions)) {
            assert!(
                span.is_allocated(i),
                "tricolor: marker reached {p:?}, a cell that is not allocated"
            );
            assert!(
                span.sweepgen.load(Ordering::Acquire) == self.sweepgen.load(Ordering::Relaxed),
                "tricolor: marking in a span that has not been swept"
            );
        }
        span.try_mark(i, fault(self.faults, Fault::RacyShade))
            .then_some(span.cell as u64)
    }

    /// Takes one step of the grey entry `g` (`grey.rs`): pushes the rest
    /// of its range onto `out` first (onto `late` in the broken twin that
    /// requeues it after leaving `busy`), then shades everything the slots
    /// of its first oblet reference, pushing newly grey objects on `out`.
    /// Returns the bytes it shaded and the slots it read (at most `step`,
    /// itself at most [`OBLET_SLOTS`]).
    ///
    /// # Safety
    ///
    /// 1. `g.obj` is marked and was allocated before the cycle started (so
    ///    it is alive until the cycle's termination).
    unsafe fn scan(
        &self,
        g: Grey,
        step: u32,
        out: &Worker<Grey>,
        late: &mut Vec<Grey>,
    ) -> (u64, usize) {
        // SAFETY: obligation 1.
        let slots = unsafe { g.obj.slots() };
        let step = g.split(slots.len(), step);
        for r in step.rest.into_iter().flatten() {
            if fault(self.faults, Fault::RequeueAfterIdle) {
                late.push(r);
            } else {
                out.push(r);
            }
        }
        let mut bytes = 0;
        for s in &slots[step.scan.clone()] {
            let v = RawValue::from_bits(self.mirror.load(s));
            if let Some(p) = v.as_ptr() {
                // SAFETY: `p` was in a slot of a live object, so it is a
                // live object of this collector (or reachable from the
                // snapshot, which keeps it allocated until termination).
                if let Some(b) = unsafe { self.shade(p) } {
                    bytes += b;
                    out.push(Grey::whole(p));
                }
            }
        }
        (bytes, step.scan.len())
    }

    fn steal(&self, local: &Worker<Grey>, me: Option<usize>) -> Option<Grey> {
        loop {
            let mut retry = false;
            match self.injector.steal_batch_and_pop(local) {
                Steal::Success(p) => return Some(p),
                s => retry |= s.is_retry(),
            }
            for (i, s) in self.stealers.iter().enumerate() {
                if Some(i) == me {
                    continue;
                }
                match s.steal() {
                    Steal::Success(p) => return Some(p),
                    s => retry |= s.is_retry(),
                }
            }
            if !retry {
                return None;
            }
        }
    }

    /// Drains grey entries until none can be found (or `deadline` passes,
    /// for an assisting mutator, which scans in steps of [`ASSIST_STEP`]
    /// slots and reads the clock after every [`CHECK_WORK`] units of work,
    /// so after every whole step). Returns whether it ran out of work.
    pub(crate) fn drain(
        &self,
        local: &Worker<Grey>,
        me: Option<usize>,
        deadline: Option<Instant>,
    ) -> bool {
        self.busy.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let guard = Unwinding(self, Some(&self.busy));
        let (mut bytes, mut objects, mut work) = (0, 0u64, 0u64);
        let mut late = Vec::new();
        let mut out_of_work = true;
        let step = if deadline.is_some() {
            ASSIST_STEP
        } else {
            OBLET_SLOTS
        };
        while let Some(g) = local.pop().or_else(|| self.steal(local, me)) {
            // SAFETY: everything in the grey queue is (a range of) a marked
            // object that was reachable at the snapshot or shaded by the
            // barrier.
            let (b, slots) = unsafe { self.scan(g, step, local, &mut late) };
            bytes += b;
            // Only the step that starts at slot 0 counts the object.
            objects += u64::from(g.from == 0);
            work += ENTRY_WORK + slots as u64;
            if local.len() > SHARE_AT {
                for _ in 0..SHARE_AT / 2 {
                    match local.pop() {
                        Some(p) => self.injector.push(p),
                        None => break,
                    }
                }
                self.kick();
            }
            if work >= CHECK_WORK {
                work = 0;
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    // Hand what is left to the markers.
                    while let Some(p) = local.pop() {
                        self.injector.push(p);
                    }
                    self.kick();
                    out_of_work = false;
                    break;
                }
            }
        }
        std::mem::forget(guard);
        {
            let mut g = lock(&self.ctl);
            g.marked += bytes;
            g.scanned += objects;
            if self.busy.fetch_sub(1, Ordering::SeqCst) == 1 {
                if self.injector.is_empty() {
                    self.mark_done.store(true, Ordering::Relaxed);
                }
                self.idle_cv.notify_all();
            }
        }
        if !late.is_empty() {
            // The broken twin: the rest of a range reaches the queue only
            // now, when a termination may already have found it empty.
            for g in late {
                self.injector.push(g);
            }
            self.kick();
        }
        out_of_work
    }

    /// Whether marking is over: no grey object anywhere. Call after the
    /// barrier buffer was flushed.
    pub(crate) fn quiescent(&self) -> bool {
        if !self.injector.is_empty() {
            return false;
        }
        fence(Ordering::SeqCst);
        // Taking the lock also makes every idle marker's counts and marks
        // visible (they decrement `busy` under it).
        let _g = lock(&self.ctl);
        fault(self.faults, Fault::IgnoreBusyMarkers) || self.busy.load(Ordering::SeqCst) == 0
    }
}

/// Starts one marker thread per deque of `deques`. If one cannot be
/// started, stops those that were and reports it.
pub(crate) fn spawn_markers(
    shared: &Arc<Shared>,
    deques: Vec<Worker<Grey>>,
) -> Result<Vec<thread::JoinHandle<()>>, ConfigError> {
    // Named in the error message of a failed spawn (not under loom).
    #[cfg(not(loom))]
    let n = deques.len();
    let mut ok = Vec::new();
    let mut err = None;
    for (i, w) in deques.into_iter().enumerate() {
        let sh = shared.clone();
        #[cfg(not(loom))]
        let h = thread::Builder::new()
            .name(format!("gc-mark-{i}"))
            .spawn(move || worker_main(sh, w, i))
            .map_err(|e| ConfigError {
                field: "marker_threads",
                value: format!("{n} (spawning thread {i} failed: {e})"),
                expected: "a thread count this process can start",
            });
        #[cfg(loom)]
        let h: Result<_, ConfigError> = Ok(thread::spawn(move || worker_main(sh, w, i)));
        match h {
            Ok(h) => ok.push(h),
            Err(e) => err = Some(e),
        }
    }
    if let Some(e) = err {
        // Stop the threads that did start before reporting.
        shared.shut_down();
        for h in ok {
            let _ = h.join();
        }
        return Err(e);
    }
    Ok(ok)
}

/// Makes the calling marker thread a batch thread on Linux: waking it then
/// does not preempt the mutator that woke it. Without this, on a machine
/// with more runnable threads than cores, the kick at the end of the
/// mark-start pause hands the CPU to the marker for a whole time slice
/// (mark-start p90 of 3-5 ms on a machine at load 4 with 2 cores; 11 us
/// with it).
fn demote_marker_thread() {
    #[cfg(all(target_os = "linux", not(loom)))]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sched_setscheduler with pid 0 changes the calling
        // thread's policy; `param` is a valid, initialised struct that
        // outlives the call. Failure (no permission) leaves the policy as
        // it was, which is fine.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    }
}

/// A marker thread: waits for a new work epoch, then drains the grey
/// queue while marking, or sweeps in the background while sweeping.
fn worker_main(shared: Arc<Shared>, local: Worker<Grey>, me: usize) {
    demote_marker_thread();
    let mut seen = 0;
    loop {
        {
            let mut g = lock(&shared.ctl);
            while g.epoch == seen && !g.shutdown {
                g.parked += 1;
                g = wait(&shared.work_cv, g);
                g.parked -= 1;
            }
            if g.shutdown {
                return;
            }
            seen = g.epoch;
        }
        match shared.phase.load(Ordering::Acquire) {
            MARKING => loop {
                let t = Instant::now();
                shared.drain(&local, Some(me), None);
                shared
                    .concurrent_nanos
                    .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                if !shared.spin_for_work() {
                    break;
                }
            },
            SWEEPING => shared.sweep_all(),
            _ => {}
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::time::Instant;

    use gc_core::{Collector, HeapConfig, RawValue, SlotInit};

    use crate::grey::{ASSIST_STEP, Grey, OBLET_SLOTS};
    use crate::sync::Ordering;
    use crate::sync::deque::Steal;
    use crate::{MARKING, Tricolor};

    /// Slots of the big object: 61 oblets.
    const LEN: usize = 1_000_000;

    /// Every grey entry in the injector.
    fn take_injector(t: &Tricolor) -> Vec<Grey> {
        let mut out = Vec::new();
        loop {
            match t.shared.injector.steal_batch_and_pop(&t.local) {
                Steal::Success(g) => out.push(g),
                Steal::Empty => break,
                Steal::Retry => {}
            }
            out.extend(std::iter::from_fn(|| t.local.pop()));
        }
        out
    }

    /// A collector (its markers asleep: the phase is idle) holding a big
    /// object of `LEN` nil slots except one leaf per oblet, at slot 7 of
    /// it; the object is shaded and in the mutator's deque, as at the
    /// start of an assist.
    fn big_object_queued() -> (Tricolor, gc_core::ObjPtr, Vec<gc_core::ObjPtr>) {
        let t = Tricolor::new(&HeapConfig::default().with_marker_threads(1)).unwrap();
        let init = SlotInit::Fill(
            RawValue::from_bits(gc_core::Value::NIL.raw().to_bits()),
            LEN,
        );
        // SAFETY: no slot holds a reference.
        let big = unsafe { t.alloc_object(2, init, &[]) }.unwrap();
        let mut leaves = Vec::new();
        for i in (7..LEN).step_by(OBLET_SLOTS as usize) {
            // SAFETY: no slot holds a reference.
            let leaf = unsafe { t.alloc_object(1, SlotInit::Copy(&[]), &[]) }.unwrap();
            // SAFETY: both are live objects of `t`; `i < LEN`.
            unsafe { t.store_slot(big, i, RawValue::from_ptr(leaf)) };
            leaves.push(leaf);
        }
        // SAFETY: `big` was just allocated and is not freed before `t`.
        assert!(unsafe { t.shared.shade(big) }.is_some());
        t.local.push(Grey::whole(big));
        (t, big, leaves)
    }

    fn marked(p: gc_core::ObjPtr) -> bool {
        // SAFETY: the tests' objects live as long as their collector.
        let span = unsafe { crate::span::SpanRef::of(p) }.get();
        span.is_marked(span.cell_index(p.addr()))
    }

    /// An assist whose budget has run out scans one step of a big object,
    /// not the object, and hands the rest on as grey ranges.
    #[test]
    fn an_assist_past_its_deadline_scans_one_step() {
        let (t, big, leaves) = big_object_queued();
        let done = t.shared.drain(&t.local, None, Some(Instant::now()));
        assert!(!done, "the rest is handed on, not drained");
        let (rest, shaded): (Vec<Grey>, Vec<Grey>) =
            take_injector(&t).into_iter().partition(|g| g.obj == big);
        assert_eq!(shaded, [Grey::whole(leaves[0])]);
        assert!(rest.len() <= 2);
        let left: usize = rest.iter().map(|g| g.slots(LEN)).sum();
        assert_eq!(LEN - left, ASSIST_STEP as usize, "slots scanned");
        assert!(marked(leaves[0]) && !leaves[1..].iter().any(|&l| marked(l)));
    }

    /// The rest of a big object that an assist handed on is taken by a
    /// background marker, or by the next assist: every leaf gets marked.
    #[test]
    fn markers_and_assists_both_take_oblets() {
        for by_marker in [false, true] {
            let (t, _big, leaves) = big_object_queued();
            t.shared.drain(&t.local, None, Some(Instant::now()));
            if by_marker {
                t.shared.phase.store(MARKING, Ordering::Release);
                t.shared.kick();
                while !t.shared.quiescent() {
                    crate::sync::thread::yield_now();
                }
            } else {
                assert!(t.shared.drain(&t.local, None, None));
            }
            assert!(t.shared.quiescent());
            assert!(leaves.iter().all(|&l| marked(l)), "by marker: {by_marker}");
        }
    }
}
