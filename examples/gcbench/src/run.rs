//! One run: a workload on a backend, in this process, measured.

use std::time::{Duration, Instant};

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use gc_runtime::gc_core::{PauseHistogram, PauseSummary};

use crate::metrics::{self, LatencyUs, MMU_WINDOWS_MS, Mmu, Pause};

/// The workloads, named as `--workload` spells them.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Boehm's GCBench as published.
    Gcbench,
    /// A big live heap; one unit at a time replaces a random subtree.
    UnitLatency,
    /// Create and drop 4-node doubly linked rings.
    Cycles,
    /// A fixed-capacity LRU cache with random hits and evictions.
    Lru,
    /// A Lox script (binary trees) through the Lox VM (gc-core backends).
    Lox,
    /// A 200,000-slot table of 1 KiB objects, each overwritten in turn by a
    /// new one (10 million times): worst and p99 overwrite latency, peak
    /// RSS over live data (not on nogc).
    Window,
}

impl Workload {
    pub const ALL: [Workload; 6] = [
        Workload::Gcbench,
        Workload::UnitLatency,
        Workload::Cycles,
        Workload::Lru,
        Workload::Lox,
        Workload::Window,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Gcbench => "gcbench",
            Workload::UnitLatency => "unit-latency",
            Workload::Cycles => "cycles",
            Workload::Lru => "lru",
            Workload::Lox => "lox",
            Workload::Window => "window",
        }
    }

    /// Whether the peers can run it (the Lox VM needs a gc-core heap).
    pub fn peers_can_run(self) -> bool {
        self != Workload::Lox
    }
}

/// Live-heap presets of `unit-latency`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum, Serialize, Deserialize)]
pub enum Size {
    #[value(name = "10MB")]
    #[serde(rename = "10MB")]
    S10MB,
    #[value(name = "100MB")]
    #[serde(rename = "100MB")]
    S100MB,
    #[value(name = "1GB")]
    #[serde(rename = "1GB")]
    S1GB,
}

impl Size {
    pub fn bytes(self) -> usize {
        match self {
            Size::S10MB => 10 << 20,
            Size::S100MB => 100 << 20,
            Size::S1GB => 1 << 30,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Size::S10MB => "10MB",
            Size::S100MB => "100MB",
            Size::S1GB => "1GB",
        }
    }
}

/// Bytes of one binary-tree node as gc-core lays it out (24-byte header,
/// three slots). Presets count live nodes with this size, so every backend
/// keeps the same logical live data (its own representation may be
/// smaller or larger).
pub const CORE_NODE_BYTES: usize = 48;

/// Bytes of every object that `window` writes.
pub const WINDOW_OBJECT: usize = 1024;

/// The parameters of every workload, derived from the command line.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Shape {
    pub stretch_depth: u32,
    pub long_lived_depth: u32,
    pub array_len: usize,
    pub min_depth: u32,
    pub max_depth: u32,
    pub subtree_depth: u32,
    pub subtrees: usize,
    pub units: usize,
    pub metered_units: usize,
    pub rings: usize,
    pub ring_batch: usize,
    /// Objects kept live (1,000-long lists) while `cycles` churns.
    pub live_objects: usize,
    pub lru_capacity: usize,
    pub lru_keys: u32,
    pub lru_ops: usize,
    pub lru_batch: usize,
    /// Nodes allocated per `mutate` call (or between peer collection
    /// points) in the tree workloads, at most.
    pub batch_nodes: usize,
    pub seed: u64,
    /// Deepest tree of the `lox` workload's script.
    pub lox_depth: u32,
    /// Slots of `window`'s table.
    pub window_slots: usize,
    /// Overwrites `window` makes (slot `i % window_slots` at step `i`).
    pub window_overwrites: usize,
}

impl Shape {
    pub fn new(size: Size, quick: bool) -> Shape {
        let subtree_depth = 6;
        let subtree_nodes = (1usize << (subtree_depth + 1)) - 1;
        let subtrees = size.bytes() / (subtree_nodes * CORE_NODE_BYTES);
        let (units, metered_units) = if quick {
            (10_000, 5_000)
        } else {
            (subtrees.max(20_000), 10_000)
        };
        Shape {
            // Boehm's constants; quick mode keeps the shape, two levels
            // smaller (a quarter of the work).
            stretch_depth: if quick { 16 } else { 18 },
            long_lived_depth: if quick { 14 } else { 16 },
            array_len: 500_000,
            min_depth: 4,
            max_depth: if quick { 14 } else { 16 },
            subtree_depth,
            subtrees,
            units,
            metered_units,
            rings: if quick { 250_000 } else { 1_000_000 },
            ring_batch: 1000,
            live_objects: 0,
            lru_capacity: if quick { 25_000 } else { 100_000 },
            lru_keys: if quick { 100_000 } else { 400_000 },
            lru_ops: if quick { 500_000 } else { 2_000_000 },
            lru_batch: 1000,
            batch_nodes: 1 << 16,
            seed: 0x5eed_1234,
            lox_depth: if quick { 14 } else { 16 },
            window_slots: if quick { 50_000 } else { 200_000 },
            window_overwrites: if quick { 1_000_000 } else { 10_000_000 },
        }
    }

    /// Length of each live list of `cycles --live`.
    pub const LIVE_LIST: usize = 1000;

    pub fn tree_size(depth: u32) -> usize {
        (1usize << (depth + 1)) - 1
    }

    /// The data `window` keeps live: its objects' bytes (what the RSS
    /// bound is stated over; every backend adds its own headers).
    pub fn window_live_bytes(&self) -> u64 {
        (self.window_slots * WINDOW_OBJECT) as u64
    }

    /// GCBench's `NumIters`.
    pub fn num_iters(&self, depth: u32) -> usize {
        2 * Self::tree_size(self.stretch_depth) / Self::tree_size(depth)
    }
}

/// What a workload observes while it runs; turned into a [`RunResult`].
pub struct Probe {
    pub start: Instant,
    pub unit_ns: Vec<u64>,
    /// Unit latency summarised as it was measured, for workloads with too
    /// many units to keep every sample ([`Probe::timed_ops`]).
    pub unit_summary: Option<LatencyUs>,
    /// How many of those took longer than 1 ms.
    pub ops_over_1ms: Option<u64>,
    pub metered_ns: Vec<u64>,
    /// Pauses timed by the driver (peers whose collection it calls).
    pub pauses: Vec<(Pause, &'static str)>,
    /// Pause summaries (all, and by phase) where the pauses were too many
    /// to keep (`window` on gc-core backends: the heap's own histograms);
    /// they replace `pauses`, and MMU is then not computed.
    pub pause_summary: Option<(PauseJson, std::collections::BTreeMap<String, PauseJson>)>,
    pub rss_samples: Vec<(f64, u64)>,
    last_sample: Instant,
    pub live_bytes_end: Option<u64>,
    /// See [`RunResult::live_target_bytes`].
    pub live_target_bytes: Option<u64>,
    pub allocated_bytes: Option<u64>,
    pub reclaimed_all: Option<bool>,
    pub reclaim_s: Option<f64>,
    pub checksum: u64,
    pub pauses_measured: bool,
    /// Seconds of setup excluded from the pause figures, if any.
    pub setup_s: Option<f64>,
    /// Concurrent marking: (heap bytes, marked bytes) at each termination.
    pub terminations: Vec<(u64, u64)>,
}

impl Probe {
    pub fn new() -> Probe {
        let now = Instant::now();
        Probe {
            start: now,
            unit_ns: Vec::new(),
            unit_summary: None,
            ops_over_1ms: None,
            metered_ns: Vec::new(),
            pauses: Vec::new(),
            pause_summary: None,
            rss_samples: vec![(0.0, metrics::current_rss())],
            last_sample: now,
            live_bytes_end: None,
            live_target_bytes: None,
            allocated_bytes: None,
            reclaimed_all: None,
            reclaim_s: None,
            checksum: 0,
            pauses_measured: false,
            setup_s: None,
            terminations: Vec::new(),
        }
    }

    /// Called between units: samples RSS every 10 ms.
    #[inline]
    pub fn tick(&mut self) {
        let now = Instant::now();
        if now.duration_since(self.last_sample) >= Duration::from_millis(10) {
            self.last_sample = now;
            self.rss_samples.push((
                now.duration_since(self.start).as_secs_f64(),
                metrics::current_rss(),
            ));
        }
    }

    /// Times `f` as a pause of `phase` (for peers whose collector the
    /// driver calls explicitly).
    /// Forgets the pauses recorded so far (the setup of a workload whose
    /// figures are about what follows), and restarts the clock for MMU.
    pub fn forget_setup(&mut self) {
        self.setup_s = Some(self.start.elapsed().as_secs_f64());
        self.pauses.clear();
    }

    pub fn pause<R>(&mut self, phase: &'static str, f: impl FnOnce() -> R) -> R {
        let t = Instant::now();
        let r = f();
        let len = t.elapsed();
        self.pauses.push((
            Pause {
                start: t.duration_since(self.start),
                len,
            },
            phase,
        ));
        r
    }

    /// Runs `n` timed operations closed-loop, each one's latency recorded
    /// in a histogram (two significant digits, exact maximum) instead of a
    /// sample vector: `window` makes 10 million of them, whose samples
    /// would be 80 MB of the RSS it measures.
    pub fn timed_ops(&mut self, n: usize, mut op: impl FnMut(&mut Probe, usize)) {
        let mut hist = PauseHistogram::default();
        let mut over_1ms = 0;
        for i in 0..n {
            let t = Instant::now();
            op(self, i);
            let d = t.elapsed();
            hist.record(d);
            over_1ms += u64::from(d > Duration::from_millis(1));
            self.tick();
        }
        self.ops_over_1ms = Some(over_1ms);
        let s = hist.summary();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        self.unit_summary = (s.count > 0).then(|| LatencyUs {
            p50: us(s.p50),
            p99: us(s.p99),
            p999: us(s.p999),
            max: us(s.max),
        });
    }

    /// Runs `units` timed units (closed loop: each starts when the previous
    /// one ends), then `metered` units scheduled at a fixed rate (half the
    /// throughput the closed loop showed), whose latency counts from the
    /// scheduled start so that a pause delays every unit queued behind it
    /// (no coordinated omission).
    pub fn units(&mut self, units: usize, metered: usize, mut unit: impl FnMut(&mut Probe, usize)) {
        for i in 0..units {
            let t = Instant::now();
            unit(self, i);
            self.unit_ns.push(t.elapsed().as_nanos() as u64);
            self.tick();
        }
        if metered == 0 || self.unit_ns.is_empty() {
            return;
        }
        let mean = self.unit_ns.iter().sum::<u64>() / self.unit_ns.len() as u64;
        let interval = Duration::from_nanos((2 * mean).max(1000));
        let t0 = Instant::now();
        for i in 0..metered {
            let scheduled = t0 + interval * i as u32;
            while Instant::now() < scheduled {
                std::hint::spin_loop();
            }
            unit(self, units + i);
            self.metered_ns
                .push(Instant::now().duration_since(scheduled).as_nanos() as u64);
            self.tick();
        }
    }
}

/// Pause percentiles, as the JSON reports them.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct PauseJson {
    pub count: u64,
    pub total_ms: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

impl PauseJson {
    pub fn from_summary(s: &PauseSummary) -> PauseJson {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        PauseJson {
            count: s.count,
            total_ms: s.total.as_secs_f64() * 1e3,
            p50_us: us(s.p50),
            p90_us: us(s.p90),
            p99_us: us(s.p99),
            p999_us: us(s.p999),
            max_us: us(s.max),
        }
    }

    pub fn from_ns(mut ns: Vec<u64>) -> PauseJson {
        ns.sort_unstable();
        let q = |q| metrics::percentile(&ns, q).map_or(0.0, |v| v as f64 / 1e3);
        PauseJson {
            count: ns.len() as u64,
            total_ms: ns.iter().sum::<u64>() as f64 / 1e6,
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: ns.last().map_or(0.0, |&v| v as f64 / 1e3),
        }
    }
}

/// MMU at the standard windows.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct MmuJson {
    #[serde(rename = "1ms")]
    pub w1: Option<f64>,
    #[serde(rename = "2ms")]
    pub w2: Option<f64>,
    #[serde(rename = "5ms")]
    pub w5: Option<f64>,
    #[serde(rename = "10ms")]
    pub w10: Option<f64>,
    #[serde(rename = "20ms")]
    pub w20: Option<f64>,
    #[serde(rename = "50ms")]
    pub w50: Option<f64>,
    #[serde(rename = "100ms")]
    pub w100: Option<f64>,
}

impl MmuJson {
    pub fn values(&self) -> [Option<f64>; 7] {
        [
            self.w1, self.w2, self.w5, self.w10, self.w20, self.w50, self.w100,
        ]
    }
}

/// How a concurrent collector's pacer did: at each mark termination, the
/// heap size over the bytes found live, and over the goal the previous
/// termination set (`max(2 x marked, 4 MiB)`, gc-tricolor's goal at the
/// default growth factor 1.0).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct PacerJson {
    pub cycles: usize,
    pub heap_over_live_p50: f64,
    pub heap_over_live_max: f64,
    pub heap_over_goal_p50: Option<f64>,
    pub heap_over_goal_max: Option<f64>,
}

impl PacerJson {
    pub fn new(terms: &[(u64, u64)]) -> Option<PacerJson> {
        fn p50_max(mut v: Vec<f64>) -> Option<(f64, f64)> {
            if v.is_empty() {
                return None;
            }
            v.sort_by(f64::total_cmp);
            Some((v[(v.len() - 1) / 2], v[v.len() - 1]))
        }
        let over_live: Vec<f64> = terms
            .iter()
            .filter(|t| t.1 > 0)
            .map(|&(heap, live)| heap as f64 / live as f64)
            .collect();
        let over_goal: Vec<f64> = terms
            .windows(2)
            .map(|w| w[1].0 as f64 / (2 * w[0].1).max(4 << 20) as f64)
            .collect();
        let (l50, lmax) = p50_max(over_live)?;
        let goal = p50_max(over_goal);
        Some(PacerJson {
            cycles: terms.len(),
            heap_over_live_p50: l50,
            heap_over_live_max: lmax,
            heap_over_goal_p50: goal.map(|g| g.0),
            heap_over_goal_max: goal.map(|g| g.1),
        })
    }
}

/// Per-run series for charts (only with `--plot`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Timeline {
    /// (start s, length us) of every pause.
    pub pauses: Vec<(f64, f64)>,
    /// (time s, resident bytes).
    pub rss: Vec<(f64, u64)>,
}

/// One run, as `--json` prints it (one line per run).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResult {
    pub workload: Workload,
    pub backend: String,
    pub size: Option<Size>,
    pub rep: usize,
    pub total_s: f64,
    pub cpu_s: f64,
    pub pauses: Option<PauseJson>,
    pub pauses_by_phase: Option<std::collections::BTreeMap<String, PauseJson>>,
    pub mmu: Option<MmuJson>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pacer: Option<PacerJson>,
    pub unit_latency_us: Option<LatencyUs>,
    pub metered_latency_us: Option<LatencyUs>,
    pub peak_rss_bytes: u64,
    /// The heap limit the run had (`--heap-limit`; gc-core backends).
    #[serde(default)]
    pub heap_limit: Option<u64>,
    /// The data the workload keeps live by construction (`window`).
    #[serde(default)]
    pub live_target_bytes: Option<u64>,
    /// Operations slower than 1 ms (`window`'s overwrites).
    #[serde(default)]
    pub ops_over_1ms: Option<u64>,
    pub live_bytes_end: Option<u64>,
    pub allocated_bytes: Option<u64>,
    pub alloc_rate_mb_s: Option<f64>,
    pub reclaimed_all: Option<bool>,
    pub reclaim_s: Option<f64>,
    pub checksum: u64,
    /// Seconds of setup whose pauses are not in `pauses` (cycles --live).
    #[serde(default)]
    pub setup_s: Option<f64>,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timeline: Option<Timeline>,
}

impl RunResult {
    /// A run that did not produce a result.
    pub fn failed(
        workload: Workload,
        backend: &str,
        size: Option<Size>,
        rep: usize,
        error: String,
    ) -> Self {
        RunResult {
            workload,
            backend: backend.to_owned(),
            size,
            rep,
            total_s: f64::NAN,
            cpu_s: f64::NAN,
            pauses: None,
            pauses_by_phase: None,
            mmu: None,
            pacer: None,
            unit_latency_us: None,
            metered_latency_us: None,
            peak_rss_bytes: 0,
            heap_limit: None,
            live_target_bytes: None,
            ops_over_1ms: None,
            live_bytes_end: None,
            allocated_bytes: None,
            alloc_rate_mb_s: None,
            reclaimed_all: None,
            reclaim_s: None,
            checksum: 0,
            setup_s: None,
            error: Some(error),
            timeline: None,
        }
    }

    /// Summarises a finished probe.
    pub fn from_probe(
        workload: Workload,
        backend: &str,
        size: Option<Size>,
        rep: usize,
        mut probe: Probe,
        timeline: bool,
    ) -> RunResult {
        let total = probe.start.elapsed();
        let (cpu, peak) = metrics::rusage();
        let (pauses, by_phase, mmu) = if let Some((all, phases)) = probe.pause_summary.take() {
            (Some(all), Some(phases), None)
        } else if probe.pauses_measured {
            let all: Vec<u64> = probe
                .pauses
                .iter()
                .map(|(p, _)| p.len.as_nanos() as u64)
                .collect();
            let mut phases = std::collections::BTreeMap::<String, Vec<u64>>::new();
            for (p, ph) in &probe.pauses {
                phases
                    .entry((*ph).to_owned())
                    .or_default()
                    .push(p.len.as_nanos() as u64);
            }
            let m = Mmu::new(&probe.pauses.iter().map(|p| p.0).collect::<Vec<_>>(), total);
            let w = |i: usize| m.at(Duration::from_millis(MMU_WINDOWS_MS[i]));
            (
                Some(PauseJson::from_ns(all)),
                Some(
                    phases
                        .into_iter()
                        .map(|(k, v)| (k, PauseJson::from_ns(v)))
                        .collect(),
                ),
                Some(MmuJson {
                    w1: w(0),
                    w2: w(1),
                    w5: w(2),
                    w10: w(3),
                    w20: w(4),
                    w50: w(5),
                    w100: w(6),
                }),
            )
        } else {
            (None, None, None)
        };
        let timeline = timeline.then(|| Timeline {
            pauses: probe
                .pauses
                .iter()
                .map(|(p, _)| (p.start.as_secs_f64(), p.len.as_secs_f64() * 1e6))
                .collect(),
            rss: std::mem::take(&mut probe.rss_samples),
        });
        RunResult {
            workload,
            backend: backend.to_owned(),
            size,
            rep,
            total_s: total.as_secs_f64(),
            cpu_s: cpu.as_secs_f64(),
            pauses,
            pauses_by_phase: by_phase,
            mmu,
            pacer: PacerJson::new(&probe.terminations),
            unit_latency_us: probe
                .unit_summary
                .or_else(|| LatencyUs::from_ns(&mut probe.unit_ns)),
            metered_latency_us: LatencyUs::from_ns(&mut probe.metered_ns),
            peak_rss_bytes: peak,
            heap_limit: None,
            live_target_bytes: probe.live_target_bytes,
            ops_over_1ms: probe.ops_over_1ms,
            live_bytes_end: probe.live_bytes_end,
            allocated_bytes: probe.allocated_bytes,
            alloc_rate_mb_s: probe
                .allocated_bytes
                .map(|b| b as f64 / (1 << 20) as f64 / total.as_secs_f64()),
            reclaimed_all: probe.reclaimed_all,
            reclaim_s: probe.reclaim_s,
            checksum: probe.checksum,
            setup_s: probe.setup_s,
            error: None,
            timeline,
        }
    }
}

/// A small, fast, seedable generator (the same sequence on every backend).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    #[inline]
    pub fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 32) * n as u64) >> 32) as usize
    }
}
