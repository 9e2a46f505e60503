//! The execution service behind the fleet-wide breaker: what the battle side calls.
//! While the breaker is open a submission is answered `judge_unavailable` at once (the
//! caller pauses its clock, nothing hangs); a submission let through is waited for up
//! to a bound, and its outcome feeds the breaker.

use std::sync::Arc;
use std::time::Duration;

use super::breaker::{Admission, Breaker, State, Step};
use super::client::{ExecError, Executor};
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
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match self.executor.status(&token).await {
                Ok(Status::Done(r)) => {
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
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
