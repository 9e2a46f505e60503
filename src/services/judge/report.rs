//! What a judge answers: a verdict per test, the compile step, and the overall verdict.

use serde::{Deserialize, Serialize};

/// The verdict of one test (or of the whole submission).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Verdict {
    /// Accepted: exit 0 and the output matched (or there was nothing to compare).
    AC,
    /// Wrong answer: exit 0, the output did not match.
    WA,
    /// Time limit: over the CPU time or the wall-clock bound.
    TLE,
    /// Memory limit: the run's memory cgroup hit its limit.
    MLE,
    /// Runtime error: a non-zero exit code or a signal (`exitCode` / `signal`).
    RE,
    /// Compilation error: the compiler failed (its output, capped, is in the report).
    CE,
    /// Output limit: stdout or stderr passed `outputBytes`.
    OLE,
    /// Internal error: the judge could not run it (not the submission's fault).
    IE,
}

impl Verdict {
    pub const ALL: [Verdict; 8] = [
        Verdict::AC,
        Verdict::WA,
        Verdict::TLE,
        Verdict::MLE,
        Verdict::RE,
        Verdict::CE,
        Verdict::OLE,
        Verdict::IE,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::AC => "AC",
            Verdict::WA => "WA",
            Verdict::TLE => "TLE",
            Verdict::MLE => "MLE",
            Verdict::RE => "RE",
            Verdict::CE => "CE",
            Verdict::OLE => "OLE",
            Verdict::IE => "IE",
        }
    }
}

/// How one sandboxed process ended, with what it used.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStats {
    /// Exit code when it exited (None when a signal ended it).
    pub exit_code: Option<i32>,
    /// The signal that ended it, if any (9 after a limit was enforced).
    pub signal: Option<i32>,
    pub cpu_ms: u64,
    pub wall_ms: u64,
    /// Peak memory of the run's cgroup.
    pub memory_bytes: u64,
}

/// The result of one test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    pub verdict: Verdict,
    #[serde(flatten)]
    pub stats: RunStats,
    /// stdout, up to `outputBytes` (lossy UTF-8).
    pub stdout: String,
    /// stderr, up to `outputBytes` (lossy UTF-8).
    pub stderr: String,
    /// Why, in a few words, for verdicts other than AC/WA (e.g. "killed by signal 11").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The compile step, when the language has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompileResult {
    pub ok: bool,
    #[serde(flatten)]
    pub stats: RunStats,
    /// The compiler's output (stdout then stderr), capped.
    pub output: String,
}

/// A judged submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// CE or IE when no test ran, else the first test verdict that is not AC (or AC).
    pub verdict: Verdict,
    pub language: String,
    /// The language's version as the judge reports it in `/api/v2/runtimes`.
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compile: Option<CompileResult>,
    pub tests: Vec<TestResult>,
    /// Why, for CE and IE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Report {
    /// The overall verdict from the per-test ones.
    pub fn overall(tests: &[TestResult]) -> Verdict {
        tests
            .iter()
            .map(|t| t.verdict)
            .find(|v| *v != Verdict::AC)
            .unwrap_or(Verdict::AC)
    }
}
