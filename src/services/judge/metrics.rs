//! The judge's metrics: names, help, and the handles the worker and the breaker feed.

use super::breaker::State;
use super::report::Verdict;
use crate::services::metrics::Metrics;

pub const JOBS_TOTAL: &str = "arena_judge_jobs_total";
pub const DURATION_SECONDS: &str = "arena_judge_duration_seconds";
pub const QUEUE_DEPTH: &str = "arena_queue_depth";
pub const DEAD_LETTERS_TOTAL: &str = "arena_judge_dead_letters_total";
pub const CIRCUIT_STATE: &str = "arena_circuit_state";
pub const CIRCUIT_TRANSITIONS_TOTAL: &str = "arena_circuit_transitions_total";

/// Describe the judge's metrics in `m` (every series gets its `# HELP`).
pub fn describe(m: &Metrics) {
    m.describe(
        JOBS_TOTAL,
        "Submissions this judge finished, by language and overall verdict.",
    );
    m.describe(
        DURATION_SECONDS,
        "Time this judge spent per submission, by language and phase (compile, run = all tests, total).",
    );
    m.describe(
        QUEUE_DEPTH,
        "Jobs waiting in the queue that no judge has taken yet (the group's lag).",
    );
    m.describe(
        DEAD_LETTERS_TOTAL,
        "Jobs this judge dead-lettered (too many deliveries, unparsable).",
    );
    m.describe(
        CIRCUIT_STATE,
        "The judge breaker's state as this instance last saw it: 0 closed, 1 half-open, 2 open.",
    );
    m.describe(
        CIRCUIT_TRANSITIONS_TOTAL,
        "Breaker transitions this instance's calls made, by the state entered.",
    );
}

/// Count a finished submission and its phases.
pub fn job(m: &Metrics, language: &str, verdict: Verdict, compile_s: f64, run_s: f64) {
    m.counter_labels(
        JOBS_TOTAL,
        &[("language", language), ("verdict", verdict.as_str())],
    )
    .increment(1);
    for (phase, secs) in [
        ("compile", compile_s),
        ("run", run_s),
        ("total", compile_s + run_s),
    ] {
        m.histogram_labels(
            DURATION_SECONDS,
            &[("language", language), ("phase", phase)],
        )
        .record(secs);
    }
}

/// A breaker state and the transition into it.
pub fn breaker(m: &Metrics, state: State, transition: bool) {
    m.gauge_with(CIRCUIT_STATE, "breaker", "judge")
        .set(state as i32 as f64);
    if transition {
        let to = match state {
            State::Closed => "closed",
            State::HalfOpen => "half_open",
            State::Open => "open",
        };
        m.counter_labels(
            CIRCUIT_TRANSITIONS_TOTAL,
            &[("breaker", "judge"), ("to", to)],
        )
        .increment(1);
    }
}
