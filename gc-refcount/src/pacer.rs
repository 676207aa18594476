//! When collection work is due: the thresholds and the pacing rule.
//!
//! Reference counting needs no heap goal: garbage without cycles is freed
//! at the next safepoint, whatever the heap size. What is paced is the
//! cycle collector:
//!
//! * a **young pass** is due when the young set reaches
//!   [`young_threshold`] objects;
//! * a **candidate pass** is due when the candidate buffer reaches
//!   `HeapConfig::cycle_threshold` *and* the allocation since the last
//!   pass has paid for it ([`PACE_BYTES_PER_VISIT`] per object the last
//!   pass marked gray);
//! * a candidate pass outside `Full`/stress collections is sliced at about
//!   [`SLICE_VISITS`] gray objects.
//!
//! The mutator is asked to yield (`should_yield`) after
//! `HeapConfig::nursery_bytes` of allocation, so that the ZCT is drained
//! regularly, and whenever a candidate pass is due, so that slices follow
//! each other while candidates remain above the threshold.

use crate::State;

/// Young objects that trigger a young pass: an eighth of the cycle
/// threshold, at least 256. The young pass costs the same per object
/// however often it runs, so running it on smaller sets keeps its pauses
/// short (a tenth of a millisecond at the default threshold) at almost no
/// cost in throughput.
pub fn young_threshold(cycle_threshold: usize) -> usize {
    (cycle_threshold / 8).max(256)
}

/// Pacing of candidate passes: after a pass that marked `n` objects gray,
/// the next one waits until `n * PACE_BYTES_PER_VISIT` more bytes have been
/// allocated, so that cycle collection costs the mutator a bounded
/// fraction of its allocation work even when every pass must traverse a
/// big live structure that keeps being decremented (Go's GOGC idea,
/// applied to trial deletion).
pub const PACE_BYTES_PER_VISIT: u64 = 32;

/// Objects a candidate-pass slice may mark gray before it stops taking new
/// candidates (about a millisecond of work).
pub const SLICE_VISITS: usize = 32 * 1024;

impl State {
    /// Whether a candidate pass is due: enough candidates, and enough
    /// allocation since the last pass to pay for it.
    #[inline]
    pub(crate) fn candidates_due(&self) -> bool {
        self.candidates.0.len() >= self.threshold && self.allocated >= self.next_candidate_pass
    }

    /// Whether a cycle pass (young pass, then the candidate pass if that is
    /// due) should run at this safepoint.
    pub(crate) fn cycle_due(&self) -> bool {
        self.young.0.len() >= self.young_threshold || self.candidates_due()
    }

    /// The mutator's yield rule: enough allocation since the last
    /// safepoint, or a candidate pass due.
    #[inline]
    pub(crate) fn should_yield(&self) -> bool {
        self.since_safepoint >= self.yield_bytes || self.candidates_due()
    }

    /// The gray marking a candidate pass may do: all of it in a `Full` or
    /// stress collection, one slice otherwise.
    pub(crate) fn slice_budget(full: bool) -> usize {
        if full { usize::MAX } else { SLICE_VISITS }
    }

    /// Paces the next candidate pass after one that marked `gray` objects.
    pub(crate) fn candidate_pass_done(&mut self, gray: u64) {
        self.next_candidate_pass = self.allocated + gray * PACE_BYTES_PER_VISIT;
    }
}
