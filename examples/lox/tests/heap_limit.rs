//! Programs that exhaust the heap, run by the `lox` binary under
//! `--heap-limit 256MB` on every backend: each must end with Lox's
//! out-of-memory runtime error (exit 70) and keep the process's peak RSS
//! (measured by `wait4(2)`) under 256 MB x 1.1 + 32 MB. The programs are
//! in `tests/oom/`; by hand:
//!
//! ```sh
//! /usr/bin/time -v target/release/lox --gc tricolor --heap-limit 256MB examples/lox/tests/oom/trees.lox
//! ```

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};

/// The limit the programs run under.
const LIMIT: u64 = 256 << 20;

/// What the process may hold beyond the heap's objects: 10% of the limit
/// for allocator and collector overhead, and 32 MB for the binary, the
/// side tables and the VM.
fn rss_bound() -> u64 {
    LIMIT + LIMIT / 10 + (32 << 20)
}

struct Run {
    status: ExitStatus,
    stderr: String,
    peak_rss: u64,
}

/// Runs `lox --gc GC --heap-limit 256MB tests/oom/PROGRAM`, reaping it
/// with `wait4` for its peak RSS.
// The child is reaped by `wait4`, which clippy does not know waits.
#[allow(clippy::zombie_processes)]
fn run(gc: &str, program: &str) -> Run {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "oom", program]
        .iter()
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lox"))
        .args(["--gc", gc, "--heap-limit", "256MB"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lox starts");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)
        .expect("stderr is UTF-8");
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet reaped (we never called wait on
    // `child`); `status` and `usage` are valid for writes.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    Run {
        status: ExitStatus::from_raw(status),
        stderr,
        // Linux reports ru_maxrss in KiB.
        peak_rss: u64::try_from(usage.ru_maxrss).expect("non-negative") * 1024,
    }
}

/// The numbers of "Out of memory: cannot allocate R bytes with U of the
/// heap's L bytes in use.": (R, U, L).
fn oom_numbers(stderr: &str) -> Option<(u64, u64, u64)> {
    let line = stderr.lines().next()?;
    let rest = line.strip_prefix("Out of memory: cannot allocate ")?;
    let (requested, rest) = rest.split_once(" bytes with ")?;
    let (in_use, rest) = rest.split_once(" of the heap's ")?;
    let limit = rest.strip_suffix(" bytes in use.")?;
    Some((
        requested.parse().ok()?,
        in_use.parse().ok()?,
        limit.parse().ok()?,
    ))
}

/// Runs `program` on `gc`: out-of-memory error, a genuine one (what was
/// asked for did not fit, and at least `min_in_use` of the limit was in
/// use: the heap filled up), and peak RSS within the bound.
fn exhausts_the_heap(gc: &str, program: &str, min_in_use: f64) {
    let r = run(gc, program);
    let ctx = format!("{program} on {gc}: {}\n{}", r.status, r.stderr);
    assert_eq!(r.status.code(), Some(70), "{ctx}");
    let (requested, in_use, limit) =
        oom_numbers(&r.stderr).unwrap_or_else(|| panic!("not the out-of-memory error: {ctx}"));
    assert_eq!(limit, LIMIT, "{ctx}");
    // Within 1%: a backend may count the size-class cell an object
    // takes, larger than the size its error reports (tricolor does).
    assert!(requested + in_use > limit - limit / 100, "{ctx}");
    assert!(in_use as f64 >= min_in_use * limit as f64, "{ctx}");
    assert!(r.stderr.trim_end().ends_with("in script"), "{ctx}");
    let mb = |b: u64| b as f64 / f64::from(1 << 20);
    let (rss, bound) = (mb(r.peak_rss), mb(rss_bound()));
    eprintln!("{program} on {gc}: peak RSS {rss:.1} MB (bound {bound:.1} MB)");
    assert!(
        r.peak_rss <= rss_bound(),
        "{program} on {gc}: peak RSS {rss:.1} MB, over 256 MB x 1.1 + 32 MB = {bound:.1} MB"
    );
}

/// One test per backend for each program (each takes a second or two).
macro_rules! on_every_backend {
    ($($(#[$doc:meta])* $name:ident: $program:literal, $min_in_use:expr;)*) => {$(
        $(#[$doc])*
        mod $name {
            on_every_backend!(@each $program, $min_in_use; nogc refcount generational tricolor);
        }
    )*};
    (@each $program:literal, $min_in_use:expr; $($gc:ident)*) => {$(
        #[test]
        fn $gc() {
            super::exhausts_the_heap(stringify!($gc), $program, $min_in_use);
        }
    )*};
}

on_every_backend! {
    /// The string that fails is at least a quarter of the limit: the one
    /// before it, between a fifth and a half of the limit, is in use.
    doubling_a_string: "double_string.lox", 0.2;
    a_growing_list_of_instances: "growing_list.lox", 0.9;
    deep_and_wide_trees: "trees.lox", 0.9;
}

#[test]
fn heap_limit_sizes() {
    let lox = |limit: &str| {
        Command::new(env!("CARGO_BIN_EXE_lox"))
            .args(["--heap-limit", limit, "--gc", "nogc"])
            .stdin(Stdio::piped())
            .output()
            .expect("lox runs")
    };
    for bad in ["lots", "12XB", "-5", "MB", "99999999999999999999G", ""] {
        let o = lox(bad);
        assert_eq!(o.status.code(), Some(64), "{bad:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.starts_with("lox: --heap-limit: "), "{bad:?}: {err}");
    }
    // Below gc-core's minimum (64 KiB): a usage error naming the field.
    let o = lox("1K");
    assert_eq!(o.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&o.stderr).contains("heap_limit"));
    for good in ["64K", "256MB", "1GiB", "300000"] {
        assert_eq!(lox(good).status.code(), Some(0), "{good}");
    }
}
