//! The execution service behind the fleet-wide breaker: what the battle side calls.
//! While the breaker is open a submission is answered `judge_unavailable` at once (the
//! caller pauses its clock, nothing hangs); a submission let through is waited for up
//! to a bound, and its outcome feeds the breaker.

use std::sync::Arc;
use std::time::Duration;

use super::breaker::{Admission, Breaker, State, Step};
use super::client::{ExecError, Executor};
use super::progress::Progress;
use super::queue::Status;
use super::report::{Report, Verdict};
use super::submission::Submission;
use crate::base::error::ErrorCode;

/// The code a caller sees while the breaker is open (HTTP 503).
pub const JUDGE_UNAVAILABLE: ErrorCode = ErrorCode::new("judge_unavailable", 503);

/// Why a guarded call did not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("judge_unavailable: {0}")]
    Unavailable(&'static str),
    #[error("no verdict within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Exec(#[from] ExecError),
}

impl GuardError {
    pub fn code(&self) -> ErrorCode {
        match self {
            GuardError::Exec(ExecError::Invalid(_)) => ErrorCode::BAD_REQUEST,
            _ => JUDGE_UNAVAILABLE,
        }
    }
}

/// An executor behind the breaker.
#[derive(Clone)]
pub struct Guarded {
    pub executor: Arc<dyn Executor>,
    pub breaker: Breaker,
    /// Called with every transition this instance's calls made (for metrics, and to
    /// tell battles to pause or resume their clocks).
    pub on_transition: Arc<dyn Fn(State) + Send + Sync>,
    /// Where `arena_circuit_state{breaker="judge"}` and
    /// `arena_circuit_transitions_total{breaker,to}` go (every step updates the gauge).
    pub metrics: Option<crate::services::metrics::Metrics>,
}

impl Guarded {
    fn note(&self, step: &Step) {
        if let Some(m) = &self.metrics {
            super::metrics::breaker(m, step.state, step.transition.is_some());
        }
        if let Some(t) = step.transition {
            (self.on_transition)(t);
        }
    }

    async fn record(&self, ok: bool, probe: bool) {
        match self.breaker.record(ok, probe).await {
            Ok(step) => self.note(&step),
            Err(e) => tracing::warn!(error = %e, "judge breaker: cannot record an outcome"),
        }
    }

    /// Judge `sub`, waiting up to `within` for the verdict.
    pub async fn judge(&self, sub: &Submission, within: Duration) -> Result<Report, GuardError> {
        self.judge_streaming(sub, within, |_| {}).await
    }

    /// Judge `sub` like [`Guarded::judge`], and call `on` once per test, in test order,
    /// as the judge finishes each (polled every [`POLL`]); all of them come before the
    /// report is returned. A compile error is one call with test 0. Tests the backend
    /// did not report as it went (a Piston backend, an IE, an entry lost) are taken
    /// from the report when it is done; a job run again after its judge stopped reports
    /// its tests again, and only the first of each is passed on.
    pub async fn judge_streaming<F: FnMut(&Progress) + Send>(
        &self,
        sub: &Submission,
        within: Duration,
        mut on: F,
    ) -> Result<Report, GuardError> {
        let step = match self.breaker.allow().await {
            Ok(s) => s,
            // Redis (where the queue lives too) is unreachable: nothing can be judged.
            Err(_) => {
                return Err(GuardError::Unavailable(
                    "the breaker's Redis is unreachable",
                ));
            }
        };
        self.note(&step);
        let probe = match step.admission {
            Admission::Open => return Err(GuardError::Unavailable("the judge breaker is open")),
            Admission::Closed => false,
            Admission::Probe => true,
        };
        let token = match self.executor.submit(sub).await {
            Ok(t) => t,
            Err(ExecError::Invalid(e)) => return Err(ExecError::Invalid(e).into()),
            Err(e) => {
                self.record(false, probe).await;
                return Err(e.into());
            }
        };
        let of = u32::try_from(sub.tests.len()).unwrap_or(u32::MAX);
        let mut order = InOrder::default();
        let mut read = 0usize;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Progress first, then the status: a job done after this read still has
            // its last entries read below, since the judge pushes them before it
            // records the result.
            match self.executor.progress(&token, read).await {
                Ok(entries) => {
                    read += entries.len();
                    entries.iter().for_each(|p| order.offer(p, &mut on));
                }
                Err(e) => {
                    self.record(false, probe).await;
                    return Err(e.into());
                }
            }
            match self.executor.status(&token).await {
                Ok(Status::Done(r)) => {
                    // The rest of the progress list; failing to read it costs nothing
                    // the report does not have.
                    if let Ok(entries) = self.executor.progress(&token, read).await {
                        entries.iter().for_each(|p| order.offer(p, &mut on));
                    }
                    order.finish(&r, of, &mut on);
                    self.record(r.verdict != Verdict::IE, probe).await;
                    return Ok(*r);
                }
                Ok(_) => {}
                Err(e) => {
                    self.record(false, probe).await;
                    return Err(e.into());
                }
            }
            if tokio::time::Instant::now() >= deadline {
                self.record(false, probe).await;
                return Err(GuardError::Timeout(within));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Look at the breaker without sending a submission: the breaker's health while no
    /// submission comes (battles paused). See [`Breaker::peek`].
    pub async fn peek(&self) -> Result<Step, redis::RedisError> {
        let step = self.breaker.peek().await?;
        self.note(&step);
        Ok(step)
    }
}

/// How often a waiting caller reads progress and status.
pub const POLL: Duration = Duration::from_millis(15);

/// Passes progress entries on once each, in test order: the next test, or test 0 (the
/// compile step) before any other.
#[derive(Debug, Default)]
struct InOrder {
    /// The last test passed on (0: none yet).
    last: u32,
    /// A test-0 entry was passed on: the job ended at its compile step.
    compile_ended: bool,
}

impl InOrder {
    fn offer(&mut self, p: &Progress, on: &mut impl FnMut(&Progress)) {
        if self.compile_ended {
            return;
        }
        if p.test == 0 && self.last == 0 {
            self.compile_ended = true;
            on(p);
        } else if p.test == self.last + 1 {
            self.last = p.test;
            on(p);
        }
    }

    /// The report is in: pass on every test not passed on yet, from the report, and
    /// with the report's verdict for tests it has no entry of (a job dead-lettered
    /// after some tests ran).
    fn finish(&mut self, report: &Report, of: u32, on: &mut impl FnMut(&Progress)) {
        for p in Progress::of_report(report, of) {
            self.offer(&p, on);
        }
        if self.compile_ended {
            return;
        }
        for test in self.last + 1..=of {
            self.offer(
                &Progress {
                    test,
                    of,
                    verdict: report.verdict,
                    time_ms: 0,
                },
                on,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::judge::{RunStats, TestResult};

    fn p(test: u32, verdict: Verdict) -> Progress {
        Progress {
            test,
            of: 3,
            verdict,
            time_ms: 1,
        }
    }

    fn report(verdict: Verdict, tests: &[Verdict]) -> Report {
        Report {
            verdict,
            language: "c".into(),
            version: String::new(),
            compile: None,
            tests: tests
                .iter()
                .map(|&v| TestResult {
                    verdict: v,
                    stats: RunStats::default(),
                    stdout: String::new(),
                    stderr: String::new(),
                    message: None,
                })
                .collect(),
            message: None,
        }
    }

    fn seen(entries: &[Progress], r: &Report) -> Vec<(u32, Verdict)> {
        let mut out = Vec::new();
        let mut on = |p: &Progress| out.push((p.test, p.verdict));
        let mut o = InOrder::default();
        entries.iter().for_each(|e| o.offer(e, &mut on));
        o.finish(r, 3, &mut on);
        out
    }

    #[test]
    fn a_rerun_job_passes_each_test_on_once() {
        use Verdict::*;
        // Judge A finished test 1 and stopped; judge B ran all three again.
        let entries = [p(1, AC), p(1, AC), p(2, AC), p(3, WA)];
        let r = report(WA, &[AC, AC, WA]);
        assert_eq!(seen(&entries, &r), [(1, AC), (2, AC), (3, WA)]);
    }

    #[test]
    fn missing_entries_come_from_the_report() {
        use Verdict::*;
        // Test 2 was an IE (not pushed), test 3 came after it.
        let r = report(IE, &[AC, IE, AC]);
        assert_eq!(seen(&[p(1, AC), p(3, AC)], &r), [(1, AC), (2, IE), (3, AC)]);
        // No progress at all (a Piston backend).
        assert_eq!(seen(&[], &r), [(1, AC), (2, IE), (3, AC)]);
        // Dead-lettered after one test: the rest take the report's verdict.
        assert_eq!(
            seen(&[p(1, AC)], &report(IE, &[])),
            [(1, AC), (2, IE), (3, IE)]
        );
    }

    #[test]
    fn a_compile_error_is_one_test_zero() {
        use Verdict::*;
        assert_eq!(seen(&[p(0, CE)], &report(CE, &[])), [(0, CE)]);
        assert_eq!(seen(&[], &report(CE, &[])), [(0, CE)]);
    }
}
