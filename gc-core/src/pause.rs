//! Pause recording: one call per pause, the same for every backend.
//!
//! A backend does its collection work at a safepoint inside
//! [`Safepoint::pause`], which times it, reads the live bytes before and
//! after through the backend's own `live` function, and records the pause
//! in the heap's [`GcStats`](crate::GcStats) (per-phase histogram) and, as a
//! [`GcEvent`], for the event hook:
//!
//! ```ignore
//! sp.pause(Phase::Minor, st, State::live, |st, sp| {
//!     let (visited, remembered) = st.minor(sp);
//!     Some(PauseWork { visited, roots: remembered, ..PauseWork::default() })
//! });
//! ```
//!
//! The closure returns `None` when it found nothing to do: no pause is
//! recorded then, so a safepoint that did no work does not dilute the
//! histogram with zero-length pauses. `freed` defaults to the drop in live
//! bytes across the pause, which is exact for backends that free only
//! inside their pauses; a backend that frees elsewhere (a lazy sweeper on
//! other threads) says what it freed.

use std::time::Instant;

use crate::collector::Safepoint;
use crate::stats::{GcEvent, Phase};

/// What a pause did besides changing the live bytes, returned by the work
/// closure of [`Safepoint::pause`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PauseWork {
    /// Objects visited.
    pub visited: u64,
    /// Roots or candidates the work started from (for example the
    /// remembered set of a minor collection, the candidates of a cycle
    /// pass, the roots shaded at a mark start).
    pub roots: u64,
    /// Bytes promoted to an older generation.
    pub promoted: u64,
    /// Bytes freed, when that is not the drop in live bytes across the
    /// pause (`None`: it is).
    pub freed: Option<u64>,
    /// Live bytes before the work, when the pause closes work that began
    /// earlier (a sweep phase opened at a termination; `None`: `live` at
    /// the start of the pause).
    pub live_before: Option<u64>,
    /// Live bytes after the pause, when the backend knows better than its
    /// `live` function (a marker knows the bytes it marked; `None`: ask
    /// `live`).
    pub live_after: Option<u64>,
}

impl Safepoint<'_> {
    /// Runs `work` on `state` as one pause of `phase` and records it,
    /// unless `work` returns `None` (nothing was done). `live` reads the
    /// backend's live bytes before and after.
    pub fn pause<S: ?Sized>(
        &mut self,
        phase: Phase,
        state: &mut S,
        live: impl Fn(&S) -> u64,
        work: impl FnOnce(&mut S, &mut Self) -> Option<PauseWork>,
    ) -> bool {
        let start = Instant::now();
        let live_before = live(state);
        let Some(w) = work(state, self) else {
            return false;
        };
        let live_before = w.live_before.unwrap_or(live_before);
        let live_after = w.live_after.unwrap_or_else(|| live(state));
        let pause = start.elapsed();
        self.stats.record(phase, pause);
        self.collected |= phase != Phase::Assist;
        self.events.push(GcEvent {
            seq: self.stats.pauses,
            phase,
            at: start.saturating_duration_since(self.epoch),
            pause,
            live_before,
            live_after,
            freed: w.freed.unwrap_or(live_before.saturating_sub(live_after)),
            promoted: w.promoted,
            visited: w.visited,
            roots: w.roots,
        });
        true
    }
}
