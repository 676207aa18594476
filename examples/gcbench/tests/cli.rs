//! The command line, end to end: child processes, JSON lines, errors.

use std::process::Command;

fn gcbench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gcbench"))
        .args(args)
        .output()
        .expect("gcbench runs")
}

/// `gcbench --quick --json --workload cycles --backend rc EXTRA...`,
/// which must succeed, and its JSON lines.
fn quick_cycles_json(extra: &[&str]) -> (std::process::Output, Vec<serde_json::Value>) {
    let mut args = vec![
        "--quick",
        "--json",
        "--workload",
        "cycles",
        "--backend",
        "rc",
    ];
    args.extend_from_slice(extra);
    let out = gcbench(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    (out, lines)
}

#[test]
fn json_lines_have_the_documented_keys() {
    let (out, lines) = quick_cycles_json(&["--backend", "nogc", "--reps", "2"]);
    assert_eq!(lines.len(), 4, "two backends, two repetitions");
    for v in &lines {
        for key in [
            "workload",
            "backend",
            "size",
            "total_s",
            "cpu_s",
            "pauses",
            "mmu",
            "unit_latency_us",
            "peak_rss_bytes",
            "live_bytes_end",
            "allocated_bytes",
            "reclaimed_all",
        ] {
            assert!(v.get(key).is_some(), "missing {key} in {v}");
        }
        assert_eq!(v["workload"], "cycles");
        assert!(v["total_s"].as_f64().unwrap() > 0.0);
        assert!(v["peak_rss_bytes"].as_u64().unwrap() > 0);
        // Neither backend frees cycles.
        assert_eq!(v["reclaimed_all"], false);
    }
    let nogc = lines.iter().find(|v| v["backend"] == "nogc").unwrap();
    for w in ["1ms", "2ms", "5ms", "10ms", "20ms", "50ms", "100ms"] {
        assert!(nogc["mmu"].get(w).is_some(), "mmu window {w}");
    }
    for k in ["count", "p50_us", "p90_us", "p99_us", "p999_us", "max_us"] {
        assert!(nogc["pauses"].get(k).is_some(), "pauses.{k}");
    }
    let rc = lines.iter().find(|v| v["backend"] == "rc").unwrap();
    assert!(rc["pauses"].is_null(), "rc has no GC pauses to report");
    // The table goes to stderr with --json.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LEAKED cycles"), "{stderr}");
}

#[test]
fn unknown_names_are_usage_errors() {
    let out = gcbench(&["--backend", "boehm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'boehm'"));
    let out = gcbench(&["--size", "3GB"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `--help` describes every backend, and `soak` offers (and accepts) only
/// the gc-core backends it can run.
#[test]
fn help_describes_every_backend_and_soak_lists_only_its_own() {
    let help = String::from_utf8_lossy(&gcbench(&["--help"]).stdout).into_owned();
    for name in [
        "rc:",
        "gc:",
        "dumpster:",
        "bacon_rajan_cc:",
        "gc-arena:",
        "tricolor:",
    ] {
        assert!(
            help.contains(&format!("- {name} ")),
            "{name} undescribed:\n{help}"
        );
    }
    let soak = String::from_utf8_lossy(&gcbench(&["soak", "--help"]).stdout).into_owned();
    assert!(
        soak.contains("- refcount:") && !soak.contains("- rc:"),
        "{soak}"
    );
    let out = gcbench(&["soak", "--backend", "rc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'rc'"));
}

#[test]
fn unavailable_selections_say_why() {
    for (args, why) in [
        (["lox", "rc"], "gc-core backends only"),
        (["window", "nogc"], "does not run on nogc"),
    ] {
        let out = gcbench(&["--workload", args[0], "--backend", args[1]]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{err}");
        assert!(err.contains("nothing to run"), "{err}");
    }
}

#[test]
fn heap_limit_runs_the_gc_core_backends_and_reports_rss_over_it() {
    let (out, lines) = quick_cycles_json(&["--backend", "refcount", "--heap-limit", "64MB"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(lines.len(), 1, "rc has no heap limit and is skipped");
    assert_eq!(lines[0]["backend"], "refcount");
    assert_eq!(lines[0]["heap_limit"], 64u64 << 20);
    assert!(stderr.contains("the peers have no limit"), "{stderr}");
    assert!(stderr.contains("RSS/limit "), "{stderr}");
    assert!(stderr.contains("within limit x 1.1 + 32 MB"), "{stderr}");

    let out = gcbench(&["--heap-limit", "lots"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid size 'lots'"));
}
