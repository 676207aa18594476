//! Statistics and pause recording, the same for every backend.
//!
//! Backends time each piece of stop-the-world work they do at a safepoint
//! and report it through [`crate::Safepoint::pause`] with its [`Phase`];
//! time the mutator spends waiting for (or assisting) the collector is
//! reported as [`Phase::Assist`] and counted as a pause, never hidden.
//! Pauses go into an HDR histogram per phase (nanoseconds, two significant
//! digits, up to an hour: a few KiB each, constant in the number of
//! pauses). Byte counters come from the backend ([`HeapCounters`]).

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

/// The kind of GC work a pause did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// A young-generation (nursery) collection.
    Minor,
    /// An old-generation or whole-heap collection, or one step of an
    /// incremental one.
    Major,
    /// Reference counting: freeing objects whose count reached zero.
    Free,
    /// Reference counting: a cycle-collection pass.
    Cycle,
    /// Concurrent marking: the stop-the-world start (root snapshot).
    MarkStart,
    /// Concurrent marking: the stop-the-world termination.
    MarkTermination,
    /// Sweeping done in a pause (lazy sweeping done by allocation is not).
    Sweep,
    /// The mutator waited for or assisted the collector.
    Assist,
}

impl Phase {
    /// Every phase, in display order.
    pub const ALL: [Phase; 8] = [
        Phase::Minor,
        Phase::Major,
        Phase::Free,
        Phase::Cycle,
        Phase::MarkStart,
        Phase::MarkTermination,
        Phase::Sweep,
        Phase::Assist,
    ];

    /// The phase's short name (used in traces and JSON).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Minor => "minor",
            Phase::Major => "major",
            Phase::Free => "free",
            Phase::Cycle => "cycle",
            Phase::MarkStart => "mark-start",
            Phase::MarkTermination => "mark-term",
            Phase::Sweep => "sweep",
            Phase::Assist => "assist",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Byte and object counters a backend keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapCounters {
    /// Bytes allocated since the heap was created.
    pub allocated_bytes: u64,
    /// Objects allocated since the heap was created.
    pub allocated_objects: u64,
    /// Bytes reclaimed since the heap was created.
    pub freed_bytes: u64,
    /// Bytes promoted (copied into an older generation).
    pub promoted_bytes: u64,
    /// Bytes held by objects now (exact after a full collection; between
    /// collections it includes garbage not yet found).
    pub live_bytes: u64,
    /// Highest `live_bytes` seen.
    pub peak_bytes: u64,
}

/// Percentiles of a set of pauses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PauseSummary {
    /// Number of pauses.
    pub count: u64,
    /// Sum of all pauses.
    pub total: Duration,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// Longest pause (exact).
    pub max: Duration,
}

/// The nearest-rank percentile of `sorted` (ascending): the smallest value
/// such that at least `q` of the values are at or below it; `None` when
/// empty. This is the one definition of "p99 pause" in the workspace:
/// [`PauseHistogram::quantile`] is the same rank over bucketed values, and
/// benchmarks that keep exact samples call this.
pub fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    debug_assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Pause histogram of one phase (or of all of them, merged).
#[derive(Clone, Debug)]
pub struct PauseHistogram {
    hist: Histogram<u64>,
    total_ns: u128,
    max_ns: u64,
}

impl Default for PauseHistogram {
    fn default() -> Self {
        PauseHistogram {
            // 1 ns .. 1 hour, 2 significant digits: ~1% error, ~3 KiB.
            hist: Histogram::new_with_bounds(1, 3_600_000_000_000, 2)
                .expect("static histogram bounds are valid"),
            total_ns: 0,
            max_ns: 0,
        }
    }
}

impl PauseHistogram {
    /// Records one pause.
    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.hist.saturating_record(ns.max(1));
        self.total_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Adds every pause of `other`.
    pub fn merge(&mut self, other: &PauseHistogram) {
        self.hist
            .add(&other.hist)
            .expect("histograms with the same bounds always merge");
        self.total_ns += other.total_ns;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// Number of pauses.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The pause at quantile `q` (0.0..=1.0): the nearest rank, as
    /// [`percentile`] defines it, over values recorded with two
    /// significant digits (within 1% of the exact sample); zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.hist.is_empty() {
            return Duration::ZERO;
        }
        // The histogram reports the highest value equivalent to the bucket;
        // never report more than the exact maximum.
        Duration::from_nanos(self.hist.value_at_quantile(q).min(self.max_ns))
    }

    /// The summary.
    pub fn summary(&self) -> PauseSummary {
        PauseSummary {
            count: self.count(),
            total: Duration::from_nanos(u64::try_from(self.total_ns).unwrap_or(u64::MAX)),
            p50: self.quantile(0.50),
            p90: self.quantile(0.90),
            p99: self.quantile(0.99),
            p999: self.quantile(0.999),
            max: Duration::from_nanos(self.max_ns),
        }
    }
}

/// Everything a heap knows about its collections.
#[derive(Clone, Debug, Default)]
pub struct GcStats {
    /// The backend's name.
    pub backend: &'static str,
    pub(crate) phases: [PauseHistogram; 8],
    /// Collections of any kind (one per recorded pause that was not
    /// [`Phase::Assist`]).
    pub collections: u64,
    /// Pauses of any phase, [`Phase::Assist`] included.
    pub pauses: u64,
    /// Safepoints passed (`mutate` entries and explicit collections).
    pub safepoints: u64,
    /// Time marker or sweeper threads worked concurrently with the mutator.
    pub concurrent_time: Duration,
    /// The backend's byte counters at the time of the snapshot.
    pub counters: HeapCounters,
}

impl GcStats {
    /// The pause histogram of one phase.
    pub fn phase(&self, p: Phase) -> &PauseHistogram {
        &self.phases[p.index()]
    }

    /// All pauses of all phases, merged.
    pub fn all_pauses(&self) -> PauseHistogram {
        let mut h = PauseHistogram::default();
        for p in &self.phases {
            h.merge(p);
        }
        h
    }

    pub(crate) fn record(&mut self, phase: Phase, d: Duration) {
        self.phases[phase.index()].record(d);
        self.pauses += 1;
        if phase != Phase::Assist {
            self.collections += 1;
        }
    }
}

fn fmt_dur(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1}us")
    } else {
        format!("{:.2}ms", us / 1000.0)
    }
}

fn fmt_bytes(b: u64) -> String {
    const K: f64 = 1024.0;
    let f = b as f64;
    if f < K {
        format!("{b} B")
    } else if f < K * K {
        format!("{:.1} KiB", f / K)
    } else if f < K * K * K {
        format!("{:.1} MiB", f / K / K)
    } else {
        format!("{:.2} GiB", f / K / K / K)
    }
}

/// A multi-line human-readable summary (what `lox --gc-stats` prints).
impl fmt::Display for GcStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counters;
        writeln!(
            f,
            "gc stats ({}): {} collections over {} safepoints",
            self.backend, self.collections, self.safepoints
        )?;
        writeln!(
            f,
            "  allocated {} in {} objects, freed {}, promoted {}, live {}, peak {}",
            fmt_bytes(c.allocated_bytes),
            c.allocated_objects,
            fmt_bytes(c.freed_bytes),
            fmt_bytes(c.promoted_bytes),
            fmt_bytes(c.live_bytes),
            fmt_bytes(c.peak_bytes)
        )?;
        if !self.concurrent_time.is_zero() {
            writeln!(f, "  concurrent work {}", fmt_dur(self.concurrent_time))?;
        }
        for p in Phase::ALL {
            let s = self.phase(p).summary();
            if s.count == 0 {
                continue;
            }
            writeln!(
                f,
                "  {:<10} n={:<7} total {:>9}  p50 {:>8}  p90 {:>8}  p99 {:>8}  p99.9 {:>8}  max {:>8}",
                p.name(),
                s.count,
                fmt_dur(s.total),
                fmt_dur(s.p50),
                fmt_dur(s.p90),
                fmt_dur(s.p99),
                fmt_dur(s.p999),
                fmt_dur(s.max)
            )?;
        }
        Ok(())
    }
}

/// One pause, as delivered to the event hook
/// ([`crate::Heap::set_event_hook`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GcEvent {
    /// Sequence number of the pause in this heap, from 1.
    pub seq: u64,
    /// What the pause did.
    pub phase: Phase,
    /// When it started, since the heap was created.
    pub at: Duration,
    /// How long it took.
    pub pause: Duration,
    /// Live bytes before the work.
    pub live_before: u64,
    /// Live bytes after the work.
    pub live_after: u64,
    /// Bytes freed by this work.
    pub freed: u64,
    /// Bytes promoted by this work.
    pub promoted: u64,
    /// Objects the work visited (marked, copied, scanned), if the backend
    /// counts them.
    pub visited: u64,
    /// Roots or candidates the work started from, if the backend counts
    /// them.
    pub roots: u64,
}

/// One line in the style of Go's `GODEBUG=gctrace=1`:
/// `gc 7 @0.412s minor: 0.213ms, 3.9 MiB -> 0.4 MiB, freed 3.5 MiB, promoted 12.0 KiB, roots 40, visited 812`.
impl fmt::Display for GcEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gc {} @{:.3}s {}: {}, {} -> {}, freed {}, promoted {}, roots {}, visited {}",
            self.seq,
            self.at.as_secs_f64(),
            self.phase,
            fmt_dur(self.pause),
            fmt_bytes(self.live_before),
            fmt_bytes(self.live_after),
            fmt_bytes(self.freed),
            fmt_bytes(self.promoted),
            self.roots,
            self.visited
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_nearest_ranks() {
        let mut h = PauseHistogram::default();
        let mut exact: Vec<u64> = (1..=5000u64).map(|i| i * 997 % 100_003 + 1000).collect();
        for &ns in &exact {
            h.record(Duration::from_nanos(ns));
        }
        exact.sort_unstable();
        for q in [0.5, 0.9, 0.99, 0.999] {
            let want = percentile(&exact, q).unwrap() as f64;
            let got = h.quantile(q).as_nanos() as f64;
            assert!((got - want).abs() <= want * 0.01, "q {q}: {got} vs {want}");
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.5), Some(500));
        assert_eq!(percentile(&v, 0.99), Some(990));
        assert_eq!(percentile(&v, 0.999), Some(999));
        assert_eq!(percentile(&v, 1.0), Some(1000));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7], 0.999), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
        // One outlier in 1000 shows at p99.9 but not at p99.
        let mut w = vec![10u64; 999];
        w.push(5000);
        assert_eq!(percentile(&w, 0.99), Some(10));
        assert_eq!(percentile(&w, 0.999), Some(10));
        assert_eq!(percentile(&w, 1.0), Some(5000));
        let mut w = vec![10u64; 998];
        w.extend([5000, 6000]);
        assert_eq!(percentile(&w, 0.999), Some(5000));
    }

    #[test]
    fn percentiles_of_a_known_list() {
        let mut h = PauseHistogram::default();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let s = h.summary();
        assert_eq!(s.count, 1000);
        assert_eq!(s.max, Duration::from_micros(1000));
        let near = |d: Duration, us: f64| (d.as_secs_f64() * 1e6 - us).abs() / us < 0.02;
        assert!(near(s.p50, 500.0), "{s:?}");
        assert!(near(s.p90, 900.0), "{s:?}");
        assert!(near(s.p99, 990.0), "{s:?}");
        assert!(near(s.p999, 999.0), "{s:?}");
        assert_eq!(s.total, Duration::from_micros(500_500));
    }

    #[test]
    fn empty_and_merged() {
        let mut a = PauseHistogram::default();
        assert_eq!(a.summary(), PauseSummary::default());
        let mut b = PauseHistogram::default();
        a.record(Duration::from_millis(1));
        b.record(Duration::from_millis(3));
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert_eq!(a.summary().max, Duration::from_millis(3));
    }

    #[test]
    fn assist_is_a_pause_but_not_a_collection() {
        let mut s = GcStats::default();
        s.record(Phase::Minor, Duration::from_micros(5));
        s.record(Phase::Assist, Duration::from_micros(7));
        assert_eq!(s.collections, 1);
        assert_eq!(s.all_pauses().count(), 2);
        assert!(s.to_string().contains("assist"));
    }
}
