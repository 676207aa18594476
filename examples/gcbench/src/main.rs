//! `gcbench`: pauses, throughput and memory of every gc-core backend and
//! of other Rust GC crates, measured on the same workloads in the same run.
//!
//! Every run (one workload, one backend, one repetition) happens in a fresh
//! child process (gcbench re-invokes itself with `--child`), so peak RSS,
//! page faults and allocator state belong to that run alone. The parent
//! collects one JSON object per run, prints a table of medians with the
//! ratio to `rc` from the same repetition, and optionally draws charts.
//!
//! See `docs/BENCHMARKS.md` for the workloads, how each peer is driven, and
//! the latest figures.

mod arena;
mod core_wl;
mod lru;
mod metrics;
mod peers;
mod plot;
mod run;
mod soak;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use clap::{Parser, ValueEnum};
use gc_runtime::{HeapConfig, Strategy};

use run::{RunResult, Shape, Size, Workload};

/// Every backend gcbench knows, named as `--backend` spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum)]
enum Backend {
    /// gc-core without collection (allocation only; the baseline)
    #[value(name = "nogc")]
    Nogc,
    /// gc-core's deferred reference counting with cycle collection
    #[value(name = "refcount")]
    Refcount,
    /// gc-core's copying nursery and incremental old generation
    #[value(name = "generational")]
    Generational,
    /// gc-core's concurrent tri-color mark-sweep
    #[value(name = "tricolor")]
    Tricolor,
    /// std's `Rc` (no cycle collection: the reference every ratio is to)
    #[value(name = "rc")]
    Rc,
    /// the `gc` crate (rust-gc), thread-local mark-sweep
    #[value(name = "gc")]
    RustGc,
    /// the `dumpster` crate, reference counting with cycle detection
    #[value(name = "dumpster")]
    Dumpster,
    /// the `bacon_rajan_cc` crate, Bacon-Rajan cycle collection
    #[value(name = "bacon_rajan_cc")]
    Bacon,
    /// the `gc-arena` crate, incremental mark-sweep in an arena
    #[value(name = "gc-arena")]
    GcArena,
    /// Every available backend.
    #[value(name = "all")]
    All,
}

impl Backend {
    const ALL: [Backend; 9] = [
        Backend::Rc,
        Backend::Nogc,
        Backend::Refcount,
        Backend::Generational,
        Backend::Tricolor,
        Backend::RustGc,
        Backend::Dumpster,
        Backend::Bacon,
        Backend::GcArena,
    ];

    fn name(self) -> &'static str {
        match self {
            Backend::Nogc => "nogc",
            Backend::Refcount => "refcount",
            Backend::Generational => "generational",
            Backend::Tricolor => "tricolor",
            Backend::Rc => "rc",
            Backend::RustGc => "gc",
            Backend::Dumpster => "dumpster",
            Backend::Bacon => "bacon_rajan_cc",
            Backend::GcArena => "gc-arena",
            Backend::All => "all",
        }
    }

    fn strategy(self) -> Option<Strategy> {
        match self {
            Backend::Nogc => Some(Strategy::NoGc),
            Backend::Refcount => Some(Strategy::RefCount),
            Backend::Generational => Some(Strategy::Generational),
            Backend::Tricolor => Some(Strategy::Tricolor),
            _ => None,
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Pause-time benchmark: gc-core backends and other Rust GC crates on the same workloads",
    long_about = "Pause-time benchmark: gc-core backends and other Rust GC crates on the same \
workloads. With no arguments it runs the quick matrix (every backend on every workload, \
reduced sizes) and prints a table."
)]
struct Cli {
    /// Workload to run (repeatable; default: all available).
    #[arg(long = "workload", value_enum)]
    workloads: Vec<Workload>,
    /// Backend to run (repeatable, or `all`; default: all available).
    #[arg(long = "backend", value_enum)]
    backends: Vec<Backend>,
    /// Live-heap preset for `unit-latency`.
    #[arg(long, value_enum, default_value = "10MB")]
    size: Size,
    /// Objects kept live (as 1,000-long lists) while `cycles` churns; the
    /// pauses of building them are not counted.
    #[arg(long, default_value_t = 0, value_name = "OBJECTS")]
    live: usize,
    /// Repetitions of every (workload, backend) pair; the table shows medians.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    reps: u32,
    /// Reduced sizes: every backend on every workload in under two minutes.
    #[arg(long)]
    quick: bool,
    /// Run the gc-core backends under this heap limit (bytes, or with a
    /// binary suffix: 256MB = 256 x 2^20) and check their peak RSS
    /// against it: the table notes RSS / limit and whether it is within
    /// limit x 1.1 + 32 MB. The peers have no heap limit and are skipped.
    #[arg(long, value_name = "SIZE", value_parser = lox::parse_size)]
    heap_limit: Option<usize>,
    /// Print one JSON object per run on stdout (the table goes to stderr).
    #[arg(long)]
    json: bool,
    /// Write SVG charts (pause histograms, MMU curves, heap over time) here.
    #[arg(long, value_name = "DIR")]
    plot: Option<PathBuf>,
    /// Internal: run one measurement in this process and print its JSON.
    #[arg(long, hide = true)]
    child: bool,
    /// Internal: repetition number of a child run.
    #[arg(long, hide = true, default_value_t = 0)]
    rep: usize,
    /// Internal: record a timeline in a child run.
    #[arg(long, hide = true)]
    timeline: bool,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Soak test: the Lox GC programs and the differential generator on
    /// each gc-core backend in stress mode with verifiers on, for a fixed
    /// time per backend; reports runs, collections, peak RSS and failures
    /// (exit status 1 if any).
    Soak {
        /// Minutes per backend.
        #[arg(long, default_value_t = 1.0)]
        minutes: f64,
        /// Backend to soak (repeatable; default: every gc-core backend).
        #[arg(long = "backend", value_enum)]
        backends: Vec<SoakBackend>,
        /// First seed of the differential programs.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// The backends `soak` can run: gc-core's (the soak drives them through
/// gc-core's test kit, which the peers do not implement).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SoakBackend {
    /// gc-core without collection
    #[value(name = "nogc")]
    Nogc,
    /// deferred reference counting with cycle collection
    #[value(name = "refcount")]
    Refcount,
    /// copying nursery and incremental old generation
    #[value(name = "generational")]
    Generational,
    /// concurrent tri-color mark-sweep
    #[value(name = "tricolor")]
    Tricolor,
    /// every gc-core backend
    #[value(name = "all")]
    All,
}

/// `gcbench soak`: one child process per backend (so that peak RSS is the
/// backend's own), sequentially.
fn soak_main(minutes: f64, backends: &[SoakBackend], seed: u64) -> ExitCode {
    let mut list: Vec<Strategy> = backends
        .iter()
        .filter_map(|b| match b {
            SoakBackend::Nogc => Some(Strategy::NoGc),
            SoakBackend::Refcount => Some(Strategy::RefCount),
            SoakBackend::Generational => Some(Strategy::Generational),
            SoakBackend::Tricolor => Some(Strategy::Tricolor),
            SoakBackend::All => None,
        })
        .collect();
    if backends.is_empty() || backends.contains(&SoakBackend::All) {
        list = Strategy::ALL.to_vec();
    }
    let time = std::time::Duration::from_secs_f64(minutes.max(0.0) * 60.0);
    if let [one] = list[..]
        && (std::env::var_os("GCBENCH_SOAK_CHILD").is_some() || backends.len() == 1)
    {
        let r = soak::soak(one, time, seed);
        println!("{}", serde_json::to_string(&r).expect("report serialises"));
        eprintln!(
            "soak {:<13} {:>7.1} s  lox {:>6}  differential {:>7}  collections {:>9}  peak RSS {:>6.1} MB  failures {}",
            r.backend,
            r.seconds,
            r.lox_runs,
            r.differential_runs,
            r.collections,
            r.peak_rss_bytes as f64 / (1 << 20) as f64,
            r.failures.len()
        );
        for f in &r.failures {
            eprintln!("  FAILED {f}");
        }
        return if r.failures.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("gcbench soak: cannot find own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut ok = true;
    for s in list {
        let status = std::process::Command::new(&exe)
            .args([
                "soak",
                "--minutes",
                &minutes.to_string(),
                "--seed",
                &seed.to_string(),
            ])
            .args(["--backend", s.name()])
            .env("GCBENCH_SOAK_CHILD", "1")
            .status();
        ok &= status.is_ok_and(|st| st.success());
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if let Some(Sub::Soak {
        minutes,
        backends,
        seed,
    }) = &cli.command
    {
        return soak_main(*minutes, backends, *seed);
    }
    if cli.child {
        return child(&cli);
    }
    if std::env::args_os().len() == 1 {
        cli.quick = true;
    }
    parent(cli)
}

/// Runs one measurement in this process and prints its JSON line.
fn child(cli: &Cli) -> ExitCode {
    let (Some(&workload), Some(&backend)) = (cli.workloads.first(), cli.backends.first()) else {
        eprintln!("gcbench --child needs one --workload and one --backend");
        return ExitCode::from(2);
    };
    let mut shape = Shape::new(cli.size, cli.quick);
    shape.live_objects = cli.live;
    let mut config = HeapConfig::default();
    if let Some(limit) = cli.heap_limit {
        let nursery = config.nursery_bytes.min(limit);
        config = config.with_heap_limit(limit).with_nursery_bytes(nursery);
    }
    let probe = match backend {
        Backend::Rc => peers::run::<peers::RcPeer>(workload, &shape),
        Backend::RustGc => peers::run::<peers::RustGcPeer>(workload, &shape),
        Backend::Dumpster => peers::run::<peers::DumpsterPeer>(workload, &shape),
        Backend::Bacon => peers::run::<peers::BaconPeer>(workload, &shape),
        Backend::GcArena => arena::run(workload, &shape),
        Backend::All => unreachable!("expanded by the parent"),
        core => {
            let strategy = core.strategy().expect("a gc-core backend");
            match strategy.run(config, core_wl::CoreRun { workload, shape }) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("gcbench: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let size = (workload == Workload::UnitLatency).then_some(cli.size);
    let mut r = RunResult::from_probe(workload, backend.name(), size, cli.rep, probe, cli.timeline);
    if backend.strategy().is_some() {
        r.heap_limit = cli.heap_limit.map(|n| n as u64);
    }
    println!("{}", serde_json::to_string(&r).expect("results serialise"));
    ExitCode::SUCCESS
}

fn spawn_child(cli: &Cli, w: Workload, b: Backend, rep: usize) -> RunResult {
    let size = (w == Workload::UnitLatency).then_some(cli.size);
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            return RunResult::failed(
                w,
                b.name(),
                size,
                rep,
                format!("cannot find own executable: {e}"),
            );
        }
    };
    let mut cmd = Command::new(exe);
    cmd.args(["--child", "--workload", w.name(), "--backend", b.name()])
        .args(["--size", cli.size.name(), "--rep", &rep.to_string()])
        .args(["--live", &cli.live.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if cli.quick {
        cmd.arg("--quick");
    }
    if let Some(limit) = cli.heap_limit {
        cmd.args(["--heap-limit", &limit.to_string()]);
    }
    if cli.plot.is_some() {
        cmd.arg("--timeline");
    }
    match cmd.output() {
        Ok(out) if out.status.success() => {
            let line = String::from_utf8_lossy(&out.stdout);
            serde_json::from_str(line.trim()).unwrap_or_else(|e| {
                RunResult::failed(
                    w,
                    b.name(),
                    size,
                    rep,
                    format!("unreadable child output: {e}"),
                )
            })
        }
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            // A panic's message is the line after "panicked at" (a
            // backtrace, with RUST_BACKTRACE set, follows it); otherwise
            // the last line that says something.
            let lines: Vec<&str> = err.lines().collect();
            let last = lines
                .iter()
                .position(|l| l.contains("panicked at"))
                .and_then(|i| lines.get(i + 1))
                .or_else(|| {
                    lines
                        .iter()
                        .rev()
                        .find(|l| !l.trim().is_empty() && !l.starts_with("note:"))
                })
                .copied()
                .unwrap_or("no message");
            RunResult::failed(
                w,
                b.name(),
                size,
                rep,
                format!("child failed ({}): {last}", out.status),
            )
        }
        Err(e) => RunResult::failed(w, b.name(), size, rep, format!("cannot start child: {e}")),
    }
}

fn parent(cli: Cli) -> ExitCode {
    let mut workloads = if cli.workloads.is_empty() {
        Workload::ALL.to_vec()
    } else {
        cli.workloads.clone()
    };
    workloads.sort();
    workloads.dedup();
    let mut backends: Vec<Backend> =
        if cli.backends.is_empty() || cli.backends.contains(&Backend::All) {
            Backend::ALL.to_vec()
        } else {
            cli.backends.clone()
        };
    backends.dedup();

    let limited = cli.heap_limit.is_some();
    let runnable = |w: Workload, b: Backend| runnable(w, b, limited);
    if limited && backends.iter().any(|b| b.strategy().is_none()) {
        eprintln!("gcbench: --heap-limit runs the gc-core backends only (the peers have no limit)");
    } else if workloads.contains(&Workload::Lox)
        && backends.iter().any(|&b| !runnable(Workload::Lox, b))
    {
        eprintln!(
            "gcbench: the lox workload runs on gc-core backends only (the peers have no Lox VM)"
        );
    }
    if workloads.contains(&Workload::Window) && backends.contains(&Backend::Nogc) {
        eprintln!("gcbench: the window workload does not run on nogc (it never frees)");
    }
    let total: usize = workloads
        .iter()
        .map(|&w| backends.iter().filter(|&&b| runnable(w, b)).count())
        .sum::<usize>()
        * cli.reps as usize;
    if total == 0 {
        eprintln!("gcbench: nothing to run");
        return ExitCode::from(2);
    }
    let bar = indicatif::ProgressBar::new(total as u64).with_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    let mut results: Vec<RunResult> = Vec::with_capacity(total);
    let stdout = std::io::stdout();
    for rep in 0..cli.reps as usize {
        for &w in &workloads {
            for &b in backends.iter().filter(|&&b| runnable(w, b)) {
                bar.set_message(format!("{} / {} (rep {})", w.name(), b.name(), rep + 1));
                let r = spawn_child(&cli, w, b, rep);
                if cli.json {
                    let mut r2 = r.clone();
                    r2.timeline = None;
                    let mut out = stdout.lock();
                    let _ = writeln!(
                        out,
                        "{}",
                        serde_json::to_string(&r2).expect("results serialise")
                    );
                }
                results.push(r);
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();

    let table = render_table(&cli, &workloads, &backends, &results);
    if cli.json {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    if let Some(dir) = &cli.plot {
        match plot::write_all(dir, &results) {
            Ok(files) => eprintln!("gcbench: wrote {} charts to {}", files, dir.display()),
            Err(e) => {
                eprintln!("gcbench: cannot write charts to {}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if results.iter().any(|r| r.error.is_some()) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Whether `b` runs `w` (with `--heap-limit` if `limited`). `nogc`
/// never frees, so it does not run `window`, which allocates 50 times its
/// live data (10 GB in full mode).
fn runnable(w: Workload, b: Backend, limited: bool) -> bool {
    if w == Workload::Window && b == Backend::Nogc {
        return false;
    }
    b.strategy().is_some() || (w.peers_can_run() && !limited)
}

/// `window`'s bounds: the worst overwrite at most 1 ms, peak RSS at most
/// 2.5 x the live data.
const WINDOW_MAX_US: f64 = 1000.0;
const WINDOW_RSS_OVER_LIVE: f64 = 2.5;

/// `--heap-limit`'s bound: peak RSS at most limit x 1.1 + 32 MiB.
fn rss_bound(limit: u64) -> f64 {
    limit as f64 * 1.1 + f64::from(32u32 << 20)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".to_owned(), |x| format!("{x:.digits$}"))
}

fn render_table(
    cli: &Cli,
    workloads: &[Workload],
    backends: &[Backend],
    results: &[RunResult],
) -> String {
    let mut out = String::new();
    let mode = if cli.quick { "quick" } else { "full" };
    out += &format!(
        "gcbench ({mode}, {} rep{}, unit-latency size {}; medians; x rc = ratio to rc's time in the same repetition;\n\
         unit/meter p999 in us: closed-loop and fixed-rate unit latency){}\n",
        cli.reps,
        if cli.reps == 1 { "" } else { "s" },
        cli.size.name(),
        cli.heap_limit.map_or(String::new(), |l| format!(
            "\nheap limit {:.1} MB on the gc-core backends (bound: peak RSS <= limit x 1.1 + 32 MB)",
            l as f64 / (1 << 20) as f64
        ))
    );
    for &w in workloads {
        out += &format!(
            "\n{:<15} {:>8} {:>6} {:>8} {:>7} {:>9} {:>9} {:>8} {:>10} {:>10} {:>10} {:>9}  {}\n",
            w.name(),
            "total s",
            "x rc",
            "cpu s",
            "pauses",
            "p99 ms",
            "max ms",
            "MMU10ms",
            "unit p999",
            "meter p999",
            "peak MB",
            "alloc MB/s",
            "notes"
        );
        let runs: Vec<&RunResult> = results.iter().filter(|r| r.workload == w).collect();
        let rc_time: BTreeMap<usize, f64> = runs
            .iter()
            .filter(|r| r.backend == "rc" && r.error.is_none())
            .map(|r| (r.rep, r.total_s))
            .collect();
        let mut checksums = BTreeMap::<u64, Vec<&str>>::new();
        for &b in backends
            .iter()
            .filter(|&&b| runnable(w, b, cli.heap_limit.is_some()))
        {
            let rs: Vec<&&RunResult> = runs.iter().filter(|r| r.backend == b.name()).collect();
            let ok: Vec<&&RunResult> = rs.iter().copied().filter(|r| r.error.is_none()).collect();
            let med = |f: &dyn Fn(&RunResult) -> Option<f64>| {
                median(ok.iter().filter_map(|r| f(r)).collect())
            };
            let mut notes = Vec::new();
            if let Some(r) = rs.iter().find(|r| r.error.is_some()) {
                notes.push(format!("FAILED: {}", r.error.as_deref().unwrap_or("")));
            }
            for r in &ok {
                checksums.entry(r.checksum).or_default().push(b.name());
            }
            if w == Workload::Cycles {
                let reclaimed: Vec<bool> = ok.iter().filter_map(|r| r.reclaimed_all).collect();
                match (reclaimed.iter().all(|&x| x), med(&|r| r.reclaim_s)) {
                    (true, Some(s)) if !reclaimed.is_empty() => notes.push(format!(
                        "reclaimed all (final collection {:.1} ms)",
                        s * 1e3
                    )),
                    (true, _) if !reclaimed.is_empty() => notes.push("reclaimed all".into()),
                    _ if !reclaimed.is_empty() => notes.push("LEAKED cycles".into()),
                    _ => {}
                }
            }
            if w == Workload::Window {
                let max = med(&|r| r.unit_latency_us.map(|u| u.max));
                let p99 = med(&|r| r.unit_latency_us.map(|u| u.p99));
                let over_live = med(&|r| {
                    r.live_target_bytes
                        .map(|l| r.peak_rss_bytes as f64 / l as f64)
                });
                let slow = med(&|r| r.ops_over_1ms.map(|n| n as f64));
                if let (Some(max), Some(p99), Some(x), Some(slow)) = (max, p99, over_live, slow) {
                    notes.push(format!(
                        "overwrite p99 {p99:.1} us, max {:.3} ms{}; RSS/live {x:.2}x{}",
                        max / 1e3,
                        if max > WINDOW_MAX_US {
                            format!(" (OVER 1 ms; {slow:.0} over)")
                        } else {
                            String::new()
                        },
                        if x > WINDOW_RSS_OVER_LIVE {
                            " (OVER 2.5x)"
                        } else {
                            ""
                        }
                    ));
                }
            }
            let limit = ok.iter().find_map(|r| r.heap_limit);
            if let (Some(limit), Some(rss)) = (limit, med(&|r| Some(r.peak_rss_bytes as f64))) {
                let over = rss - rss_bound(limit);
                notes.push(format!(
                    "RSS/limit {:.2}{}",
                    rss / limit as f64,
                    if over > 0.0 {
                        format!(
                            " (OVER limit x 1.1 + 32 MB by {:.1} MB)",
                            over / (1 << 20) as f64
                        )
                    } else {
                        " (within limit x 1.1 + 32 MB)".to_owned()
                    }
                ));
            }
            let ratio = median(
                ok.iter()
                    .filter_map(|r| rc_time.get(&r.rep).map(|rc| r.total_s / rc))
                    .collect(),
            );
            out += &format!(
                "{:<15} {:>8} {:>6} {:>8} {:>7} {:>9} {:>9} {:>8} {:>10} {:>10} {:>10} {:>9}  {}\n",
                b.name(),
                fmt_opt(med(&|r| Some(r.total_s)), 3),
                fmt_opt(ratio, 2),
                fmt_opt(med(&|r| Some(r.cpu_s)), 3),
                fmt_opt(med(&|r| r.pauses.map(|p| p.count as f64)), 0),
                fmt_opt(med(&|r| r.pauses.map(|p| p.p99_us / 1e3)), 3),
                fmt_opt(med(&|r| r.pauses.map(|p| p.max_us / 1e3)), 3),
                fmt_opt(med(&|r| r.mmu.and_then(|m| m.w10)), 3),
                fmt_opt(med(&|r| r.unit_latency_us.map(|u| u.p999)), 0),
                fmt_opt(med(&|r| r.metered_latency_us.map(|u| u.p999)), 0),
                fmt_opt(
                    med(&|r| Some(r.peak_rss_bytes as f64 / (1 << 20) as f64)),
                    1
                ),
                fmt_opt(med(&|r| r.alloc_rate_mb_s), 0),
                notes.join("; ")
            );
        }
        if checksums.len() > 1 {
            out += &format!(
                "  WARNING: backends disagree on the work done (checksums {checksums:?})\n"
            );
        }
    }
    out
}
