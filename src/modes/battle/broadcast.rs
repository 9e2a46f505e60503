//! Everything the battle mode tells a battle's room, on every instance (the
//! cross-instance adapter carries it): starts, per-test progress, verdicts, standings,
//! pauses and ends. A failed broadcast is logged, never fatal: the state is in Redis and
//! a client that missed an event asks `battle_state`.

use serde::Serialize;

use super::payload::{BattleEndedEvent, BattleStarted, Leaderboard, Paused, Resumed, SubmissionResult, SubmissionUpdate};
use super::rooms::{player_room, room};
use super::state::Battles;
use super::store::{Battle, Ended, Started};
use super::submission::SubmissionRecord;
use crate::services::realtime::{Socket, player_of};

async fn to_room<T: Serialize + ?Sized>(b: &Battles, battle_id: &str, event: &'static str, data: &T) {
    if let Err(e) = b.ctx.io.within(room(battle_id)).emit(event, data).await {
        tracing::warn!(error = %e, event, battle = battle_id, "battle broadcast failed");
    }
}

/// `battle_started` for `battle`.
pub fn started_event(b: &Battles, battle: &Battle) -> BattleStarted {
    BattleStarted {
        battle_id: battle.battle_id.clone(),
        players: battle.players.clone(),
        problem: b.bank.get(&battle.problem_id).map(|p| p.public()),
        starts_at: battle.starts_at,
        ends_at: battle.ends_at,
        duration_s: battle.duration_s,
    }
}

/// Tell the players (and the asker) that a battle started; on creation, pull every
/// player's sockets (on any instance) into the battle room first.
pub async fn announce(b: &Battles, started: &Started, asker: Option<&Socket>) {
    let battle = &started.battle;
    let event = started_event(b, battle);
    let asker_is_player =
        asker.is_some_and(|s| battle.players.iter().any(|x| x == player_of(s).as_str()));
    if started.created {
        let players: Vec<String> = battle.players.iter().map(|p| player_room(p)).collect();
        if let Err(e) = b.ctx.io.within(players).join(room(&battle.battle_id)).await {
            tracing::warn!(error = %e, "could not add players to the battle room");
        }
        to_room(b, &battle.battle_id, "battle_started", &event).await;
    }
    // The asker always hears back once: from the room above, or directly.
    if let Some(s) = asker
        && !(started.created && asker_is_player)
    {
        let _ = s.emit("battle_started", &event);
    }
}

pub async fn update(b: &Battles, u: &SubmissionUpdate) {
    to_room(b, &u.battle_id, "submission_update", u).await;
}

/// `submission_result`: the verdict, never the source; `durable`: did a replica confirm
/// the verdict's record (BATTLE_DURABILITY=replica)?
pub async fn result(b: &Battles, s: &SubmissionRecord, durable: Option<bool>) {
    let r = SubmissionResult {
        battle_id: s.battle_id.clone(),
        submission_id: s.submission_id.clone(),
        player: s.player.clone(),
        language: s.language.clone(),
        verdict: s.verdict.clone(),
        passed: s.passed,
        of: s.of,
        failed_test: s.failed_test,
        time_ms: s.time_ms,
        submitted_at: s.submitted_at,
        judged_at: s.judged_at,
        durable,
    };
    to_room(b, &s.battle_id, "submission_result", &r).await;
}

pub async fn leaderboard(b: &Battles, battle: &Battle) {
    let l = Leaderboard {
        battle_id: &battle.battle_id,
        standings: &battle.standings,
    };
    to_room(b, &battle.battle_id, "battle_leaderboard", &l).await;
}

/// `battle_ended`: the final record (`winner` null when none, `reason`, `standings`).
pub async fn ended(b: &Battles, battle: &Battle, durable: Option<bool>) {
    b.metrics.coding_ended.increment(1);
    let e = BattleEndedEvent { battle, durable };
    to_room(b, &battle.battle_id, "battle_ended", &e).await;
}

/// What an ending changed: an end (standings, then `battle_ended`), or a group playing
/// on without the player who left (standings). A not-due ending changed nothing.
pub async fn ending(b: &Battles, ended: &Ended, durable: Option<bool>) {
    match ended {
        Ended::Over(battle) => {
            leaderboard(b, battle).await;
            self::ended(b, battle, durable).await;
        }
        Ended::PlaysOn(battle) => leaderboard(b, battle).await,
        Ended::NotDue(_) => {}
    }
}

pub async fn paused(b: &Battles, battle_id: &str, reason: &str, remaining_ms: u64) {
    let p = Paused {
        battle_id,
        reason,
        remaining_ms,
    };
    to_room(b, battle_id, "battle_paused", &p).await;
}

pub async fn resumed(b: &Battles, battle: &Battle, now_ms: u64) {
    let r = Resumed {
        battle_id: &battle.battle_id,
        ends_at: battle.ends_at,
        remaining_ms: battle.ends_at.saturating_sub(now_ms.max(battle.starts_at)),
    };
    to_room(b, &battle.battle_id, "battle_resumed", &r).await;
}
