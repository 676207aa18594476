//! The sync shim: every atomic, lock, condition variable and thread of this
//! crate comes from here, from `std` normally and from `loom` when built
//! with `RUSTFLAGS="--cfg loom"`. The marking, barrier, termination and
//! sweep code is therefore the same code in production and under the model
//! checker; nothing in the crate names `std::sync` or `std::thread`
//! directly (the one exception is gc-core's object slots, see
//! [`SlotMirror`]).
//!
//! The grey queue is crossbeam-deque's work-stealing deque normally. loom
//! cannot model crossbeam (it uses `core` atomics), so under loom the same
//! three types ([`deque::Injector`], [`deque::Worker`], [`deque::Stealer`])
//! are mutex-protected `VecDeque`s with the same interface and the same
//! ownership rules (only a worker's owner pushes to it; anyone steals).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use loom::thread;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::thread;

pub(crate) use std::sync::atomic::Ordering;

/// Locks `m`, ignoring poisoning: every critical section of this crate
/// leaves its data consistent before anything in it can panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `cv`, ignoring poisoning as [`lock`] does.
pub(crate) fn wait<'a, T>(cv: &Condvar, g: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(g).unwrap_or_else(|e| e.into_inner())
}

/// Object slots live in gc-core's uniform layout as `std` atomics, which
/// loom cannot see. The backend stores references into slots with
/// `Release` while marking, and markers load slots with `Acquire`, so that
/// an object's initialisation (and its span's) happens before a marker
/// that finds a pointer to it reads anything.
///
/// Under loom, [`SlotMirror`] gives each slot written during marking a
/// shadow loom atomic: the barrier stores to both, with the ordering the
/// real store uses, and markers read the shadow. loom then chooses which
/// value a marker sees and checks the happens-before that value carries,
/// exactly as for the real slot. A shadow that holds no value of this
/// cycle yet stands for the slot's value at the cycle start (recorded when
/// the shadow is assigned), which the cycle start published. Slots never
/// written during the cycle are read from the object. Shadows are made
/// before the marker threads start and reset at every termination, when
/// no marker is scanning. Normally the mirror is an empty struct and
/// compiles away.
pub(crate) struct SlotMirror {
    #[cfg(loom)]
    shadows: Vec<loom::sync::atomic::AtomicU64>,
    /// Slot address to (shadow index, value at the cycle start).
    #[cfg(loom)]
    map: std::sync::Mutex<std::collections::HashMap<usize, (usize, u64)>>,
}

/// A shadow with no value of this cycle.
#[cfg(loom)]
const UNSET: u64 = u64::MAX;

type StdAtomicU64 = std::sync::atomic::AtomicU64;

impl SlotMirror {
    /// Makes the mirror (before the markers start).
    pub(crate) fn new() -> SlotMirror {
        SlotMirror {
            #[cfg(loom)]
            shadows: (0..16)
                .map(|_| loom::sync::atomic::AtomicU64::new(UNSET))
                .collect(),
            #[cfg(loom)]
            map: Default::default(),
        }
    }

    /// Stores `v` into `slot` with `order`.
    #[inline(always)]
    pub(crate) fn store(&self, slot: &StdAtomicU64, v: u64, order: Ordering) {
        #[cfg(loom)]
        {
            let addr = slot as *const StdAtomicU64 as usize;
            let mut map = self.map.lock().unwrap();
            let next = map.len();
            let (i, _) = *map
                .entry(addr)
                .or_insert_with(|| (next, slot.load(Ordering::Relaxed)));
            drop(map);
            assert!(i < self.shadows.len(), "loom slot mirror exhausted");
            self.shadows[i].store(v, order);
        }
        slot.store(v, order)
    }

    /// A marker's load of `slot`.
    #[inline(always)]
    pub(crate) fn load(&self, slot: &StdAtomicU64) -> u64 {
        #[cfg(loom)]
        {
            let addr = slot as *const StdAtomicU64 as usize;
            let entry = self.map.lock().unwrap().get(&addr).copied();
            if let Some((i, old)) = entry {
                let v = self.shadows[i].load(Ordering::Acquire);
                return if v == UNSET { old } else { v };
            }
        }
        slot.load(Ordering::Acquire)
    }

    /// Forgets every shadow (at termination: no marker is scanning).
    pub(crate) fn clear(&self) {
        #[cfg(loom)]
        {
            let n = std::mem::take(&mut *self.map.lock().unwrap()).len();
            for s in &self.shadows[..n.min(self.shadows.len())] {
                s.store(UNSET, Ordering::Relaxed);
            }
        }
    }
}

/// Deliberate bugs for the loom suite's broken twins. Each model that
/// matters has a twin run with one of these switched on and marked
/// `#[should_panic]`: it shows the model can catch what it targets. The
/// switches exist only under `cfg(loom)`; normally `faults::on` is a
/// constant `false` and compiles away.
#[doc(hidden)]
pub mod faults {
    /// One deliberate bug.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    #[repr(u32)]
    pub enum Fault {
        /// The write barrier does not shade the overwritten value.
        NoDeletionBarrier = 1,
        /// Objects allocated during marking are white.
        AllocateWhite = 2,
        /// Termination does not flush the mutator's barrier buffer.
        NoBufferFlush = 4,
        /// Termination ignores markers that are still scanning.
        IgnoreBusyMarkers = 8,
        /// Shading is a load and a store instead of one read-modify-write.
        RacyShade = 16,
        /// Slot stores are Relaxed (no publication edge).
        RelaxedPublish = 32,
        /// Termination files the mutator's cached spans for sweeping but
        /// the mutator keeps allocating in them (white) until the sweeper
        /// gets there.
        KeepCacheAtTermination = 64,
        /// The next cycle starts without waiting for sweeping to finish.
        NoSweepWait = 128,
        /// The root snapshot skips the root stack.
        NoStackSnapshot = 256,
        /// Mark bits are not cleared by sweeping (stale marks next cycle).
        KeepMarks = 512,
        /// A drainer pushes the rest of a big object's range (`grey.rs`)
        /// only after it has left `busy`, instead of before it scans.
        RequeueAfterIdle = 1024,
    }

    #[cfg(loom)]
    std::thread_local! {
        static ACTIVE: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }

    /// Switches `f` on for heaps created afterwards on this thread (loom
    /// runs a model's threads on the test's thread).
    #[cfg(loom)]
    pub fn inject(f: Fault) {
        ACTIVE.with(|a| a.set(a.get() | f as u32));
    }

    /// The faults switched on, read once when a heap is made.
    #[inline(always)]
    pub(crate) fn current() -> u32 {
        #[cfg(loom)]
        return ACTIVE.with(|a| a.get());
        #[cfg(not(loom))]
        0
    }

    /// Whether `f` is in `mask`.
    #[inline(always)]
    pub(crate) fn on(mask: u32, f: Fault) -> bool {
        #[cfg(loom)]
        return mask & f as u32 != 0;
        #[cfg(not(loom))]
        {
            let _ = (mask, f);
            false
        }
    }
}

/// The grey queue's deque types.
pub(crate) mod deque {
    #[cfg(not(loom))]
    pub(crate) use crossbeam_deque::{Injector, Steal, Stealer, Worker};

    #[cfg(loom)]
    pub(crate) use model::{Injector, Steal, Stealer, Worker};

    #[cfg(loom)]
    mod model {
        use super::super::{Arc, Mutex, lock};
        use std::collections::VecDeque;

        pub(crate) enum Steal<T> {
            Empty,
            Success(T),
            #[allow(dead_code)]
            Retry,
        }

        impl<T> Steal<T> {
            pub(crate) fn is_retry(&self) -> bool {
                matches!(self, Steal::Retry)
            }
        }

        pub(crate) struct Injector<T>(Mutex<VecDeque<T>>);

        impl<T> Injector<T> {
            pub(crate) fn new() -> Self {
                Injector(Mutex::new(VecDeque::new()))
            }
            pub(crate) fn push(&self, t: T) {
                lock(&self.0).push_back(t)
            }
            pub(crate) fn is_empty(&self) -> bool {
                lock(&self.0).is_empty()
            }
            pub(crate) fn steal_batch_and_pop(&self, dest: &Worker<T>) -> Steal<T> {
                let mut q = lock(&self.0);
                let Some(first) = q.pop_front() else {
                    return Steal::Empty;
                };
                let n = q.len().div_ceil(2).min(32);
                let mut d = lock(&dest.0);
                d.extend(q.drain(..n));
                Steal::Success(first)
            }
        }

        pub(crate) struct Worker<T>(Arc<Mutex<VecDeque<T>>>);

        impl<T> Worker<T> {
            pub(crate) fn new_lifo() -> Self {
                Worker(Arc::new(Mutex::new(VecDeque::new())))
            }
            pub(crate) fn push(&self, t: T) {
                lock(&self.0).push_back(t)
            }
            pub(crate) fn pop(&self) -> Option<T> {
                lock(&self.0).pop_back()
            }
            pub(crate) fn len(&self) -> usize {
                lock(&self.0).len()
            }
            pub(crate) fn stealer(&self) -> Stealer<T> {
                Stealer(self.0.clone())
            }
        }

        pub(crate) struct Stealer<T>(Arc<Mutex<VecDeque<T>>>);

        impl<T> Stealer<T> {
            pub(crate) fn steal(&self) -> Steal<T> {
                match lock(&self.0).pop_front() {
                    Some(t) => Steal::Success(t),
                    None => Steal::Empty,
                }
            }
        }
    }
}
