//! Judging one submission: hand it to the judges behind the fleet's breaker
//! (`AppState::judge`), stream each test's verdict to the battle room as the judge
//! finishes it, then record the verdict once (`submission::finalize`) and tell the room
//! what it changed: the result, the standings, maybe the end.
//!
//! The instance that accepted the submit judges it. If that instance dies first, the
//! submission stays in the `judging` index and another instance takes it over after
//! `BATTLE_JUDGING_STALE_MS` (`clock::recover`): recording is once-only, so a
//! submission judged twice still gets one verdict.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::broadcast;
use super::deadline;
use super::payload::SubmissionUpdate;
use super::problem;
use super::state::Battles;
use super::store::{self, Ended};
use super::submission::{self, Finalized, Outcome, SubmissionRecord, TestVerdict};
use crate::services::judge::guarded::GuardError;
use crate::services::judge::progress::Progress;
use crate::services::judge::{Report, Verdict};
use crate::services::problems::Language;

/// How often a failed verdict write is tried before it is left to recovery.
const RECORD_ATTEMPTS: u32 = 5;

/// Judge `sub` of `battle_id` (fought on `problem_id`) and record its verdict.
pub async fn judge(b: Battles, problem_id: String, sub: SubmissionRecord) {
    let started = Instant::now();
    let outcome = match run(&b, &problem_id, &sub).await {
        Ok(o) => o,
        Err(message) => internal_error(message),
    };
    b.metrics
        .submit_to_verdict
        .record(started.elapsed().as_secs_f64());
    b.metrics.verdict(&outcome.verdict);
    record(&b, &sub, &outcome).await;
}

/// The outcome for a submission the judges could not judge: IE, which costs no
/// penalty (nobody loses a battle because the judge was sick).
fn internal_error(message: String) -> Outcome {
    Outcome {
        verdict: Verdict::IE.as_str().to_string(),
        passed: 0,
        of: 0,
        failed_test: None,
        time_ms: 0,
        tests: Vec::new(),
        message: Some(message),
    }
}

async fn run(b: &Battles, problem_id: &str, sub: &SubmissionRecord) -> Result<Outcome, String> {
    let problem = b
        .bank
        .get(problem_id)
        .ok_or_else(|| format!("problem {problem_id} is not in this instance's bank"))?;
    let language = Language::parse(&sub.language)
        .ok_or_else(|| format!("unknown language {}", sub.language))?;
    let request = problem::submission(problem, language, &sub.source);
    let of = request.tests.len() as u32;
    let (tx, mut rx) = mpsc::unbounded_channel::<Progress>();
    // Progress goes out in order from one task while the judge keeps going.
    let forward = {
        let b = b.clone();
        let sub = sub.clone();
        let since = Instant::now();
        tokio::spawn(async move {
            let mut first = true;
            while let Some(p) = rx.recv().await {
                if first {
                    b.metrics
                        .submit_to_first_update
                        .record(since.elapsed().as_secs_f64());
                    first = false;
                }
                let u = SubmissionUpdate {
                    battle_id: sub.battle_id.clone(),
                    submission_id: sub.submission_id.clone(),
                    player: sub.player.clone(),
                    test: p.test,
                    of: if p.of == 0 { of } else { p.of },
                    verdict: p.verdict.as_str().to_string(),
                    time_ms: p.time_ms,
                };
                broadcast::update(&b, &u).await;
            }
        })
    };
    let within = Duration::from_millis(b.settings.battle_judge_wait_ms);
    let report = b
        .ctx
        .app
        .judge
        .judge_streaming(&request, within, |p: &Progress| {
            let _ = tx.send(*p);
        })
        .await;
    drop(tx);
    let _ = forward.await;
    match report {
        Ok(r) => Ok(outcome_of(&r, of)),
        Err(GuardError::Unavailable(why)) => Err(format!("judge_unavailable: {why}")),
        Err(e) => Err(e.to_string()),
    }
}

/// A judge's report as the battle records it.
pub fn outcome_of(r: &Report, of: u32) -> Outcome {
    let tests: Vec<TestVerdict> = r
        .tests
        .iter()
        .enumerate()
        .map(|(i, t)| TestVerdict {
            test: i as u32 + 1,
            verdict: t.verdict.as_str().to_string(),
            time_ms: t.stats.cpu_ms,
            memory_kb: t.stats.memory_bytes / 1024,
        })
        .collect();
    let passed = tests.iter().filter(|t| t.verdict == "AC").count() as u32;
    Outcome {
        verdict: r.verdict.as_str().to_string(),
        passed,
        of,
        failed_test: tests.iter().find(|t| t.verdict != "AC").map(|t| t.test),
        time_ms: tests.iter().map(|t| t.time_ms).max().unwrap_or(0),
        tests,
        message: r.message.clone(),
    }
}

/// Record the verdict once and tell the room what it changed. A Redis failure is
/// retried; past that the submission stays in the judging index for recovery.
async fn record(b: &Battles, sub: &SubmissionRecord, outcome: &Outcome) {
    let keys = match store::keys_of(&sub.battle_id, b.settings.battle_outbox_partitions) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(error = %e, "a stored submission names a malformed battle");
            return;
        }
    };
    let mut conn = b.ctx.app.redis.clone();
    let mut done = None;
    for attempt in 0..RECORD_ATTEMPTS {
        match submission::finalize(&b.steps, &keys, &sub.battle_id, &sub.submission_id, outcome)
            .await
        {
            Ok(f) => {
                done = Some(f);
                break;
            }
            Err(e) => {
                b.ctx.app.metrics.redis_failure("submission_final", &e);
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
        }
    }
    let Some((done, durable)) = done else {
        tracing::warn!(submission = %sub.submission_id, "verdict not recorded; left for recovery");
        return;
    };
    match done {
        Finalized::Scored(s, record) => {
            broadcast::result(b, &s, durable).await;
            if let Ok(battle) = store::parse_record(b, &record) {
                broadcast::leaderboard(b, &battle).await;
            }
        }
        Finalized::Ended(s, record) => {
            broadcast::result(b, &s, durable).await;
            // As in `store::end`: an unconfirmed end keeps its deadline entry.
            if durable != Some(false) {
                deadline::forget(&mut conn, &sub.battle_id).await;
            }
            if let Ok(battle) = store::parse_record(b, &record) {
                broadcast::ending(b, &Ended::Over(battle), durable).await;
            }
        }
        Finalized::Judged(s) => broadcast::result(b, &s, durable).await,
        Finalized::Already | Finalized::NotFound => {}
    }
    // A verdict no replica confirmed stays in the judging index: should a failover undo
    // it, recovery judges the submission again (`clock::recover`); if it held, recovery
    // finds it judged and drops the entry.
    if durable != Some(false) {
        deadline::judged(&mut conn, &sub.battle_id, &sub.submission_id).await;
    }
}
