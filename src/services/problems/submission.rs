//! A program for a problem as the judge takes it: the bank's limits and comparator in the
//! judge's terms. The battle mode (a player's source) and `arena problems check` (the
//! reference and wrong solutions) both judge through this.

use super::comparator::Comparator;
use super::language::Language;
use super::problem::{Limits, TestCase};
use crate::services::judge;

/// `source` in `language` on `tests` (in judging order) under `limits`, compared by
/// `comparator`.
pub fn to_judge(
    language: Language,
    source: &str,
    tests: &[TestCase],
    limits: Limits,
    comparator: Comparator,
) -> judge::Submission {
    judge::Submission {
        language: language.key().to_string(),
        source: source.to_string(),
        tests: tests
            .iter()
            .map(|t| judge::TestCase {
                stdin: t.input.clone(),
                expected: Some(t.output.clone()),
            })
            .collect(),
        limits: judge::Limits {
            cpu_ms: u64::from(limits.time_ms),
            memory_bytes: u64::from(limits.memory_mb) << 20,
            ..judge::Limits::default()
        },
        comparator: match comparator {
            Comparator::Exact => judge::Comparator::Exact,
            Comparator::Whitespace => judge::Comparator::Whitespace,
            // The bank's tolerance is both: |a - e| <= t * max(1, |e|).
            Comparator::Float { tolerance } => judge::Comparator::Float {
                abs: tolerance,
                rel: tolerance,
            },
        },
        args: Vec::new(),
    }
}
