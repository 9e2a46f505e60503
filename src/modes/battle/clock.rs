//! The battle clocks, kept by every instance (each step is an idempotent script, so the
//! instance that changes something is the one that tells the room):
//! - **deadlines**: a running battle whose time is up ends (`time`), winner by standings;
//! - **pauses**: while the judge's fleet-wide breaker is not closed, running battles are
//!   paused (their clocks stop, submissions get `judge_unavailable`); when it closes they
//!   resume with the time they had left;
//! - **recovery**: a submission whose instance died mid-judging is judged again.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::broadcast;
use super::deadline;
use super::judging;
use super::state::Battles;
use super::store::{self, Ended, Ending, redis_now};
use super::submission;
use crate::services::judge::breaker::State;

/// How often due battles are looked for.
const DEADLINE_EVERY: Duration = Duration::from_millis(250);
/// How often the breaker is looked at.
const PAUSE_EVERY: Duration = Duration::from_millis(500);
/// Every this many looks, all battles are reconciled even without a change (an instance
/// that missed a transition, a battle created while paused).
const RECONCILE_EVERY: u32 = 10;
/// How often stale judging is looked for.
const RECOVER_EVERY: Duration = Duration::from_secs(1);
/// Battles handled per sweep.
const BATCH: isize = 100;

/// End battles whose time is up.
pub async fn deadlines(b: Battles, shutdown: CancellationToken) {
    let mut conn = b.ctx.app.redis.clone();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(DEADLINE_EVERY) => {}
        }
        let Ok(now) = redis_now(&mut conn).await else { continue };
        let Ok(due) = deadline::due(&mut conn, now, BATCH).await else { continue };
        for id in due {
            match store::end(&b, &id, Ending::Time).await {
                Ok((Ended::NotDue(at), _)) => {
                    let _ = deadline::reschedule(&mut conn, &id, at).await;
                }
                Ok((ended, durable)) => broadcast::ending(&b, &ended, durable).await,
                // Gone or already over: drop the entry.
                Err(super::error::BattleError::NotFound(_)) => {
                    deadline::forget(&mut conn, &id).await;
                }
                Err(e) => tracing::warn!(battle = %id, error = %e, "deadline sweep"),
            }
        }
    }
}

/// Pause running battles while the judge is down; resume them when it is back.
pub async fn pauses(b: Battles, shutdown: CancellationToken) {
    let mut last: Option<bool> = None;
    let mut looks = 0u32;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PAUSE_EVERY) => {}
        }
        let step = match b.ctx.app.judge.peek().await {
            Ok(s) => s,
            // Redis unreachable: nothing can be judged or paused; look again later.
            Err(_) => continue,
        };
        let down = step.state != State::Closed;
        looks += 1;
        if last == Some(down) && !looks.is_multiple_of(RECONCILE_EVERY) {
            continue;
        }
        last = Some(down);
        match apply(&b, down).await {
            Ok(paused) => b.metrics.paused.set(paused as f64),
            Err(e) => tracing::warn!(error = %e, "battle pause pass"),
        }
    }
}

/// Pause (or resume) every active battle; returns how many are paused now.
async fn apply(b: &Battles, down: bool) -> Result<usize, redis::RedisError> {
    let mut conn = b.ctx.app.redis.clone();
    let ids = store::active_ids(&b.ctx.app.redis, 100_000).await?;
    let mut paused = 0;
    for id in ids {
        let Ok(keys) = store::keys_of(&id, b.settings.battle_outbox_partitions) else {
            continue;
        };
        if down {
            match store::pause(&b.steps, &keys, "judge unavailable").await? {
                store::Pause::Paused(remaining) => {
                    paused += 1;
                    deadline::reschedule(&mut conn, &id, None).await?;
                    broadcast::paused(b, &id, "judge unavailable", remaining).await;
                }
                store::Pause::Same => paused += 1,
                _ => {}
            }
        } else if let store::Pause::Resumed(raw) = store::resume(&b.steps, &keys).await? {
            // A corrupt record is counted (and logged) by the parse; skip it.
            let Ok(battle) = store::parse_record(b, &raw) else {
                continue;
            };
            deadline::reschedule(&mut conn, &id, Some(battle.ends_at)).await?;
            let now = redis_now(&mut conn).await?;
            broadcast::resumed(b, &battle, now).await;
        }
    }
    Ok(paused)
}

/// Judge again what a dead instance left half-judged.
pub async fn recover(b: Battles, shutdown: CancellationToken) {
    let mut conn = b.ctx.app.redis.clone();
    let stale = b.settings.battle_judging_stale_ms;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(RECOVER_EVERY) => {}
        }
        let Ok(now) = redis_now(&mut conn).await else { continue };
        let Ok(taken) = deadline::stale_judging(&mut conn, now.saturating_sub(stale), now, BATCH).await
        else {
            continue;
        };
        for (battle_id, sub_id) in taken {
            let Ok(battle) = store::get(&b, &battle_id).await else {
                deadline::judged(&mut conn, &battle_id, &sub_id).await;
                continue;
            };
            let Ok(keys) = store::keys_of(&battle_id, b.settings.battle_outbox_partitions) else {
                continue;
            };
            match submission::one(&mut conn, &keys, &sub_id).await {
                Ok(Some(sub)) if sub.verdict == "judging" => {
                    tracing::info!(submission = %sub_id, "judging again: its instance went away");
                    tokio::spawn(judging::judge(b.clone(), battle.problem_id.clone(), sub));
                }
                Ok(_) => deadline::judged(&mut conn, &battle_id, &sub_id).await,
                Err(e) => tracing::warn!(error = %e, "judging recovery"),
            }
        }
    }
}
