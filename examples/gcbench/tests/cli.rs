//! The command line, end to end: child processes, JSON lines, errors.

use std::process::Command;

fn gcbench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gcbench"))
        .args(args)
        .output()
        .expect("gcbench runs")
}

#[test]
fn json_lines_have_the_documented_keys() {
    let out = gcbench(&[
        "--quick",
        "--json",
        "--workload",
        "cycles",
        "--backend",
        "rc",
        "--backend",
        "nogc",
        "--reps",
        "2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
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

#[test]
fn unavailable_selections_say_why() {
    let out = gcbench(&["--workload", "lox", "--backend", "rc"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gc-core backends only"), "{err}");
    assert!(err.contains("nothing to run"), "{err}");
}
