//! One finished test of a job, as the judge reports it while the job still runs (the
//! battle side turns each into a `submission_update`).

use serde::{Deserialize, Serialize};

use super::report::{Report, Verdict};

/// One finished test: `test` is 1-based; a compile failure is one entry with test 0
/// (verdict CE). `of` is the number of tests of the submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub test: u32,
    pub of: u32,
    pub verdict: Verdict,
    /// CPU time of the run (the limit a TLE is about), in milliseconds.
    pub time_ms: u64,
}

impl Progress {
    /// The entries a finished report stands for, in test order: one per test, or one
    /// test-0 entry with the report's verdict when no test ran (CE, or an IE before the
    /// first test). `of` is the submission's number of tests.
    pub fn of_report(report: &Report, of: u32) -> Vec<Progress> {
        if report.tests.is_empty() {
            return vec![Progress {
                test: 0,
                of,
                verdict: report.verdict,
                time_ms: report.compile.as_ref().map_or(0, |c| c.stats.cpu_ms),
            }];
        }
        report
            .tests
            .iter()
            .zip(1..)
            .map(|(t, i)| Progress {
                test: i,
                of,
                verdict: t.verdict,
                time_ms: t.stats.cpu_ms,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::judge::{RunStats, TestResult};

    fn test(verdict: Verdict, cpu_ms: u64) -> TestResult {
        TestResult {
            verdict,
            stats: RunStats {
                cpu_ms,
                ..RunStats::default()
            },
            stdout: String::new(),
            stderr: String::new(),
            message: None,
        }
    }

    fn report(verdict: Verdict, tests: Vec<TestResult>) -> Report {
        Report {
            verdict,
            language: "c".into(),
            version: String::new(),
            compile: None,
            tests,
            message: None,
        }
    }

    #[test]
    fn progress_is_camel_case_json() {
        let p = Progress {
            test: 2,
            of: 3,
            verdict: Verdict::WA,
            time_ms: 12,
        };
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"test":2,"of":3,"verdict":"WA","timeMs":12}"#);
        assert_eq!(serde_json::from_str::<Progress>(&json).unwrap(), p);
    }

    #[test]
    fn a_report_gives_one_entry_per_test_or_one_test_zero() {
        let r = report(
            Verdict::WA,
            vec![test(Verdict::AC, 5), test(Verdict::WA, 7)],
        );
        let p = Progress::of_report(&r, 2);
        assert_eq!(
            p.iter()
                .map(|p| (p.test, p.verdict, p.time_ms))
                .collect::<Vec<_>>(),
            [(1, Verdict::AC, 5), (2, Verdict::WA, 7)]
        );
        let p = Progress::of_report(&report(Verdict::CE, vec![]), 3);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].test, p[0].of, p[0].verdict), (0, 3, Verdict::CE));
    }
}
