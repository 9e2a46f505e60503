//! From a finished run to a verdict: limits first, then the exit, then the output.

use crate::services::judge::{Comparator, Limits, RunStats, TestResult, Verdict};

use super::sandbox::{End, Outcome};
use crate::services::judge::compare::matches;

/// Most bytes of stdout / stderr / compiler output kept in a report (the comparison
/// always sees everything up to the run's output cap).
pub const REPORT_BYTES: usize = 64 * 1024;

/// Lossy UTF-8 of at most [`REPORT_BYTES`] of `b`.
pub fn shown(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(REPORT_BYTES)]).into_owned()
}

/// The figures of a run, for a report.
pub fn stats(o: &Outcome) -> RunStats {
    let (exit_code, signal) = match o.end {
        End::Exited(c) => (Some(c), None),
        End::Signaled(s) => (None, Some(s)),
        End::SandboxFailed(_) => (None, None),
    };
    RunStats {
        exit_code,
        signal,
        cpu_ms: o.cpu_ms,
        wall_ms: o.wall_ms,
        memory_bytes: o.memory_peak,
    }
}

/// The verdict of one test run. Order matters: a run killed for a limit often also
/// ended with a signal (SIGKILL, SIGXCPU) and must not read as a runtime error.
pub fn classify(
    o: &Outcome,
    limits: &Limits,
    expected: Option<&str>,
    how: Comparator,
) -> (Verdict, Option<String>) {
    if let End::SandboxFailed(why) = &o.end {
        return (Verdict::IE, Some(why.clone()));
    }
    if o.output_exceeded {
        let m = format!("output over {} bytes", limits.output_bytes);
        return (Verdict::OLE, Some(m));
    }
    if o.memory_limited {
        let m = format!("memory limit of {} bytes reached", limits.memory_bytes);
        return (Verdict::MLE, Some(m));
    }
    let xcpu = o.end == End::Signaled(nix::libc::SIGXCPU);
    if o.wall_exceeded || o.cpu_ms > limits.cpu_ms || xcpu {
        let m = if o.wall_exceeded && o.cpu_ms <= limits.cpu_ms {
            format!("wall-clock limit of {} ms reached", limits.wall_ms())
        } else {
            format!("CPU time limit of {} ms reached", limits.cpu_ms)
        };
        return (Verdict::TLE, Some(m));
    }
    match o.end {
        End::Exited(0) => {}
        End::Exited(c) => return (Verdict::RE, Some(format!("exit code {c}"))),
        End::Signaled(s) => return (Verdict::RE, Some(format!("killed by signal {s}"))),
        End::SandboxFailed(_) => {}
    }
    match expected {
        Some(e) if !matches(how, &o.stdout, e.as_bytes()) => (Verdict::WA, None),
        _ => (Verdict::AC, None),
    }
}

/// A test's full result.
pub fn test_result(
    o: &Outcome,
    limits: &Limits,
    expected: Option<&str>,
    how: Comparator,
) -> TestResult {
    let (verdict, message) = classify(o, limits, expected, how);
    TestResult {
        verdict,
        stats: stats(o),
        stdout: shown(&o.stdout),
        stderr: shown(&o.stderr),
        message,
    }
}
