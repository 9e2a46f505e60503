//! The contract between `arena problems check` and whatever runs code: today the
//! unsandboxed [`HostRunner`](super::host_runner::HostRunner), later the judge.

use std::fmt;
use std::future::Future;

use crate::services::problems::{Comparator, Language, Limits, TestCase};

/// One program to run on a problem's tests.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    pub language: Language,
    pub source: &'a str,
    /// In the order they are judged (examples first, see `Problem::all_tests`).
    pub tests: &'a [TestCase],
    pub limits: Limits,
    pub comparator: Comparator,
}

/// The verdict on one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    Accepted,
    WrongAnswer,
    TimeLimitExceeded,
    RuntimeError,
    OutputLimitExceeded,
    /// The program did not build; reported as one outcome for the whole run.
    CompileError,
}

impl Verdict {
    /// The short code tables and the wire use: `AC`, `WA`, `TLE`, `RE`, `OLE`, `CE`.
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Accepted => "AC",
            Verdict::WrongAnswer => "WA",
            Verdict::TimeLimitExceeded => "TLE",
            Verdict::RuntimeError => "RE",
            Verdict::OutputLimitExceeded => "OLE",
            Verdict::CompileError => "CE",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What happened on one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    pub verdict: Verdict,
    /// Wall time of the run (the time limit for a TLE, 0 for a compile error).
    pub time_ms: u64,
    /// For an author, when not accepted: the first lines of a compiler's or a program's
    /// error output, or where the output differs. Never shown to an opponent.
    pub detail: String,
}

/// Why a run could not be made at all (as opposed to a program that failed).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{tool} is not installed (needed for {language})")]
    ToolMissing {
        tool: &'static str,
        language: Language,
    },
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("judge: {0}")]
    Judge(String),
}

/// Runs a submission on its tests.
///
/// Contract: the outcomes follow the tests' order and **stop at the first test that is
/// not accepted** (it is the last outcome), as a judge does; a build failure is a single
/// `CompileError` outcome. All tests accepted means one `Accepted` outcome per test.
pub trait Runner: Send + Sync {
    fn run(
        &self,
        submission: &Submission<'_>,
    ) -> impl Future<Output = Result<Vec<TestOutcome>, RunError>> + Send;
}
