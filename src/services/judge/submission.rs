//! What a judge is asked to run: a language, a source, the tests and the limits.
//!
//! The same shape travels through the queue (JSON in a stream entry), the HTTP API and
//! the worker, so it is defined once here, below both the battle side and the judge.

use serde::{Deserialize, Serialize};

/// Default CPU time per test run, milliseconds.
pub const CPU_MS: u64 = 2_000;
/// Default memory per run (memory cgroup), bytes.
pub const MEMORY_BYTES: u64 = 256 * 1024 * 1024;
/// Default cap on what one run may write to stdout (and, separately, stderr), bytes.
pub const OUTPUT_BYTES: u64 = 1024 * 1024;
/// Largest source accepted.
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;
/// Most tests one submission may carry.
pub const MAX_TESTS: usize = 100;
/// Most bytes of stdin plus expected output over all tests of a submission.
pub const MAX_TESTS_BYTES: usize = 16 * 1024 * 1024;

/// Resource limits of each test run. Missing fields take the defaults above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct Limits {
    /// CPU time per run (all processes of the run together).
    #[schema(minimum = 50, maximum = 20_000, default = 2_000)]
    pub cpu_ms: u64,
    /// Wall-clock time per run; 0 means twice the CPU time plus one second, else
    /// 100..=60000.
    #[schema(maximum = 60_000, default = 0)]
    pub wall_ms: u64,
    /// Memory per run (resident + tmpfs pages of the run's cgroup).
    #[schema(
        minimum = 16_777_216,
        maximum = 2_147_483_648_u64,
        default = 268_435_456
    )]
    pub memory_bytes: u64,
    /// Bytes the program may write to stdout, and separately to stderr.
    #[schema(minimum = 1, maximum = 67_108_864, default = 1_048_576)]
    pub output_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cpu_ms: CPU_MS,
            wall_ms: 0,
            memory_bytes: MEMORY_BYTES,
            output_bytes: OUTPUT_BYTES,
        }
    }
}

impl Limits {
    /// The wall-clock bound actually applied.
    pub fn wall_ms(&self) -> u64 {
        if self.wall_ms == 0 {
            self.cpu_ms.saturating_mul(2).saturating_add(1_000)
        } else {
            self.wall_ms
        }
    }

    /// Refuse limits outside what a judge will grant.
    pub fn check(&self) -> Result<(), SubmissionError> {
        let bad = |what: &str| Err(SubmissionError::Limits(what.to_string()));
        if !(50..=20_000).contains(&self.cpu_ms) {
            return bad("cpuMs must be between 50 and 20000");
        }
        if self.wall_ms != 0 && !(100..=60_000).contains(&self.wall_ms) {
            return bad("wallMs must be 0 or between 100 and 60000");
        }
        if !(16 << 20..=2 << 30).contains(&self.memory_bytes) {
            return bad("memoryBytes must be between 16 MiB and 2 GiB");
        }
        if !(1..=64 << 20).contains(&self.output_bytes) {
            return bad("outputBytes must be between 1 and 64 MiB");
        }
        Ok(())
    }
}

/// How a run's stdout is compared with the expected output.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Comparator {
    /// Byte for byte.
    Exact,
    /// The same tokens, whatever the whitespace between them (the default).
    #[default]
    Whitespace,
    /// Token by token; numbers may differ by `abs` or by `rel` times the expected value.
    Float {
        #[schema(minimum = 0)]
        abs: f64,
        #[schema(minimum = 0)]
        rel: f64,
    },
}

/// One test: the input and, when there is one, the expected output.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TestCase {
    pub stdin: String,
    /// `None`: the run is not compared (Piston's execute), only its exit matters.
    pub expected: Option<String>,
}

/// One submission: compiled once, then run on every test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "language": "python",
    "source": "a, b = map(int, input().split())\nprint(a + b)\n",
    "tests": [{"stdin": "1 2\n", "expected": "3\n"}]
}))]
pub struct Submission {
    /// A language or one of its aliases (`GET /api/v2/runtimes`).
    pub language: String,
    pub source: String,
    /// Required over HTTP (it tells this shape from a `problemId` one).
    #[serde(default)]
    #[schema(required = true, min_items = 1, max_items = 100)]
    pub tests: Vec<TestCase>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub comparator: Comparator,
    /// Command-line arguments of every run (Piston's `args`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 64)]
    pub args: Vec<String>,
}

/// A submission the judge will not take.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubmissionError {
    #[error("source is larger than {MAX_SOURCE_BYTES} bytes")]
    SourceTooLarge,
    #[error("at most {MAX_TESTS} tests")]
    TooManyTests,
    #[error("a submission needs at least one test")]
    NoTests,
    #[error("tests are larger than {MAX_TESTS_BYTES} bytes in all")]
    TestsTooLarge,
    #[error("bad limits: {0}")]
    Limits(String),
    #[error("bad comparator: tolerances must be finite and not negative")]
    Comparator,
    #[error("an arg cannot contain a NUL byte")]
    NulInArgs,
}

impl Submission {
    /// Refuse what no judge should run (sizes, limits); the language is the judge's call.
    pub fn check(&self) -> Result<(), SubmissionError> {
        if self.source.len() > MAX_SOURCE_BYTES {
            return Err(SubmissionError::SourceTooLarge);
        }
        if self.tests.is_empty() {
            return Err(SubmissionError::NoTests);
        }
        if self.args.len() > 64 || self.args.iter().map(String::len).sum::<usize>() > 64 * 1024 {
            return Err(SubmissionError::Limits(
                "at most 64 args, 64 KiB in all".into(),
            ));
        }
        // The kernel takes arguments as C strings: one with a NUL cannot be passed, and
        // would fail in the sandbox (an internal error) rather than here.
        if self.args.iter().any(|a| a.contains('\0')) {
            return Err(SubmissionError::NulInArgs);
        }
        if self.tests.len() > MAX_TESTS {
            return Err(SubmissionError::TooManyTests);
        }
        let bytes: usize = self
            .tests
            .iter()
            .map(|t| t.stdin.len() + t.expected.as_ref().map_or(0, String::len))
            .sum();
        if bytes > MAX_TESTS_BYTES {
            return Err(SubmissionError::TestsTooLarge);
        }
        if let Comparator::Float { abs, rel } = self.comparator
            && !(abs.is_finite() && rel.is_finite() && abs >= 0.0 && rel >= 0.0)
        {
            return Err(SubmissionError::Comparator);
        }
        self.limits.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_missing_fields() {
        let s: Submission = serde_json::from_str(
            r#"{"language":"python","source":"print(1)","tests":[{"stdin":"","expected":"1"}]}"#,
        )
        .unwrap();
        assert_eq!(s.limits, Limits::default());
        assert_eq!(s.comparator, Comparator::Whitespace);
        assert_eq!(s.limits.wall_ms(), 5_000);
        assert!(s.check().is_ok());
    }

    #[test]
    fn comparators_have_a_tagged_shape() {
        let c: Comparator = serde_json::from_str(r#"{"kind":"float","abs":1e-6,"rel":0}"#).unwrap();
        assert_eq!(
            c,
            Comparator::Float {
                abs: 1e-6,
                rel: 0.0
            }
        );
    }

    #[test]
    fn oversized_and_odd_submissions_are_refused() {
        let mut s = Submission {
            language: "c".into(),
            source: "x".repeat(MAX_SOURCE_BYTES + 1),
            tests: vec![TestCase::default()],
            limits: Limits::default(),
            comparator: Comparator::Exact,
            args: vec![],
        };
        assert_eq!(s.check(), Err(SubmissionError::SourceTooLarge));
        s.source = "int main(){}".into();
        s.limits.cpu_ms = 10;
        assert!(matches!(s.check(), Err(SubmissionError::Limits(_))));
        s.limits.cpu_ms = 100;
        s.comparator = Comparator::Float {
            abs: f64::NAN,
            rel: 0.0,
        };
        assert_eq!(s.check(), Err(SubmissionError::Comparator));
        s.comparator = Comparator::Exact;
        s.tests.clear();
        assert_eq!(s.check(), Err(SubmissionError::NoTests));
        s.tests.push(TestCase::default());
        s.args = vec!["a\0b".into()];
        assert_eq!(s.check(), Err(SubmissionError::NulInArgs));
    }
}
