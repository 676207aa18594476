//! The arithmetic of the report: percentiles, minimum mutator utilisation,
//! and process resource usage.

use std::time::Duration;

/// Pause and latency percentiles: the nearest-rank definition gc-core
/// uses for its pause histograms, here over exact samples.
pub use gc_runtime::gc_core::stats::percentile;

/// Windows at which MMU is reported, in milliseconds.
pub const MMU_WINDOWS_MS: [u64; 7] = [1, 2, 5, 10, 20, 50, 100];

/// Latency summary in microseconds: p50, p99, p99.9, max.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatencyUs {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl LatencyUs {
    /// Summarises nanosecond samples (sorted in place).
    pub fn from_ns(samples: &mut [u64]) -> Option<LatencyUs> {
        samples.sort_unstable();
        let us = |q| percentile(samples, q).map(|ns| ns as f64 / 1e3);
        Some(LatencyUs {
            p50: us(0.50)?,
            p99: us(0.99)?,
            p999: us(0.999)?,
            max: *samples.last()? as f64 / 1e3,
        })
    }
}

/// A pause: start offset from the beginning of the run, and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pause {
    pub start: Duration,
    pub len: Duration,
}

/// Minimum mutator utilisation: for a window length `w`, the smallest
/// fraction of any window `[t, t + w]` inside the run `[0, total]` that is
/// not spent in a pause. `None` if the run is shorter than the window.
///
/// The GC time inside a sliding window is piecewise linear in `t`, so its
/// maximum is reached where a window edge meets a pause edge: windows
/// starting at a pause start, or ending at a pause end. Each candidate is
/// evaluated with prefix sums and binary search: O(n log n) in all.
pub struct Mmu {
    starts: Vec<u64>,
    ends: Vec<u64>,
    /// `cum[i]` = total pause time of intervals `0..i`.
    cum: Vec<u64>,
    total: u64,
}

impl Mmu {
    /// Builds the index; overlapping or unsorted pauses are merged.
    pub fn new(pauses: &[Pause], total: Duration) -> Mmu {
        let total = total.as_nanos() as u64;
        let mut iv: Vec<(u64, u64)> = pauses
            .iter()
            .map(|p| {
                let s = (p.start.as_nanos() as u64).min(total);
                (s, (s + p.len.as_nanos() as u64).min(total))
            })
            .filter(|(s, e)| e > s)
            .collect();
        iv.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(iv.len());
        for (s, e) in iv {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let mut cum = Vec::with_capacity(merged.len() + 1);
        cum.push(0);
        for &(s, e) in &merged {
            cum.push(cum.last().unwrap() + (e - s));
        }
        Mmu {
            starts: merged.iter().map(|p| p.0).collect(),
            ends: merged.iter().map(|p| p.1).collect(),
            cum,
            total,
        }
    }

    /// Pause time inside `[a, b]`.
    fn gc_time(&self, a: u64, b: u64) -> u64 {
        // First interval ending after a, last starting before b.
        let lo = self.ends.partition_point(|&e| e <= a);
        let hi = self.starts.partition_point(|&s| s < b);
        if lo >= hi {
            return 0;
        }
        let mut t = self.cum[hi] - self.cum[lo];
        t -= a.saturating_sub(self.starts[lo]);
        t -= self.ends[hi - 1].saturating_sub(b);
        t
    }

    /// MMU for window `w`.
    pub fn at(&self, w: Duration) -> Option<f64> {
        let w = w.as_nanos() as u64;
        if w == 0 || w > self.total {
            return None;
        }
        let last = self.total - w;
        let worst = self
            .starts
            .iter()
            .map(|&s| s.min(last))
            .chain(self.ends.iter().map(|&e| e.saturating_sub(w).min(last)))
            .map(|t| self.gc_time(t, t + w))
            .max()
            .unwrap_or(0);
        Some(1.0 - worst as f64 / w as f64)
    }
}

/// CPU time and peak resident set size of this process so far.
pub fn rusage() -> (Duration, u64) {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF
    // is always valid.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let cpu = tv(ru.ru_utime) + tv(ru.ru_stime);
    // Linux reports ru_maxrss in KiB.
    (cpu, ru.ru_maxrss as u64 * 1024)
}

/// Current resident set size, from /proc/self/statm (0 if unreadable).
pub fn current_rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn p(start: u64, len: u64) -> Pause {
        Pause {
            start: ms(start),
            len: ms(len),
        }
    }

    #[test]
    fn latency_summary() {
        let mut s: Vec<u64> = (1..=100).rev().map(|x| x * 1000).collect();
        let l = LatencyUs::from_ns(&mut s).unwrap();
        assert_eq!((l.p50, l.p99, l.p999, l.max), (50.0, 99.0, 100.0, 100.0));
        assert!(LatencyUs::from_ns(&mut []).is_none());
    }

    #[test]
    fn mmu_without_pauses_is_one() {
        let m = Mmu::new(&[], ms(100));
        assert_eq!(m.at(ms(10)), Some(1.0));
        assert_eq!(m.at(ms(200)), None, "window longer than the run");
    }

    #[test]
    fn mmu_of_one_pause() {
        let m = Mmu::new(&[p(40, 5)], ms(100));
        assert_eq!(m.at(ms(1)), Some(0.0));
        assert_eq!(m.at(ms(5)), Some(0.0));
        assert_eq!(m.at(ms(10)), Some(0.5));
        assert_eq!(m.at(ms(50)), Some(0.9));
        assert_eq!(m.at(ms(100)), Some(0.95));
    }

    #[test]
    fn mmu_of_clustered_pauses() {
        // 2 ms at 10, 2 ms at 14: a 6 ms window [10, 16] holds both.
        let m = Mmu::new(&[p(10, 2), p(14, 2), p(80, 1)], ms(100));
        assert_eq!(m.at(ms(6)), Some(1.0 - 4.0 / 6.0));
        assert_eq!(m.at(ms(2)), Some(0.0));
        assert!((m.at(ms(10)).unwrap() - 0.6).abs() < 1e-12);
        assert!((m.at(ms(100)).unwrap() - 0.95).abs() < 1e-12);
    }

    #[test]
    fn mmu_at_the_edges_and_with_overlaps() {
        // A pause at the very start and one overlapping it are merged.
        let m = Mmu::new(&[p(0, 3), p(2, 3), p(98, 2)], ms(100));
        assert_eq!(m.at(ms(5)), Some(0.0));
        assert_eq!(m.at(ms(10)), Some(0.5));
        // Pauses reaching past the end are clipped to the run.
        let m = Mmu::new(&[p(95, 10)], ms(100));
        assert_eq!(m.at(ms(10)), Some(0.5));
    }

    #[test]
    fn mmu_is_a_fraction_and_exact_over_the_whole_run() {
        let pauses: Vec<Pause> = (0..50).map(|i| p(i * 7 % 300, 1 + i % 3)).collect();
        let m = Mmu::new(&pauses, ms(400));
        let vals: Vec<f64> = MMU_WINDOWS_MS
            .iter()
            .map(|&w| m.at(ms(w)).unwrap())
            .collect();
        // MMU need not be monotone in general, but it is never negative,
        // never above 1, and the whole-run value is exact.
        assert!(vals.iter().all(|v| (0.0..=1.0).contains(v)));
        let total_gc: u64 = Mmu::new(&pauses, ms(400)).cum.last().copied().unwrap();
        let whole = m.at(ms(400)).unwrap();
        assert!((whole - (1.0 - total_gc as f64 / 400e6)).abs() < 1e-12);
    }

    #[test]
    fn rusage_is_plausible() {
        let (cpu, rss) = rusage();
        assert!(rss > 0 && cpu > Duration::ZERO);
        assert!(current_rss() > 0);
    }
}
