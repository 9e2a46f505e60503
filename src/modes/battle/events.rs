//! The battle mode's socket events: `start_battle`, `submit`, `forfeit`, `battle_state`
//! and `end_battle`. What they tell the room goes through `broadcast`.

use super::broadcast;
use super::deadline;
use super::error::BattleError;
use super::judging;
use super::payload::{BattleIdAck, BattleIdReq, StartBattleAck, StartBattleReq, SubmitAck, SubmitReq};
use super::problem::Choice;
use super::rooms::room;
use super::state::Battles;
use super::store::{self, Ended, Ending, redis_now};
use super::submission::{self, Opened, SubmissionRecord};
use super::view::{self, BattleView};
use crate::base::error::{AckError, ErrorCode};
use crate::services::judge::breaker::State;
use crate::services::judge::guarded::JUDGE_UNAVAILABLE;
use crate::services::limiter::{self, LimitDecision};
use crate::services::problems::Language;
use crate::services::realtime::{Socket, player_of};

/// `start_battle {players, problemId?, difficulty?, durationS?}`: ack `{ok, battleId,
/// created}`. Every asker gets `battle_started`; when this call created the battle, the
/// players' sockets (on any instance) join the battle room and get it there.
pub async fn start_battle(
    b: Battles,
    s: Socket,
    req: Result<StartBattleReq, AckError>,
) -> Result<StartBattleAck, AckError> {
    let req = req.map_err(|e| {
        AckError::bad_request(format!("expected {{players: [ids]}}: {}", e.message))
    })?;
    let choice = Choice::parse(req.problem_id, req.difficulty.as_deref(), req.duration_s)?;
    let started = store::start(&b, &req.players, &choice).await?;
    broadcast::announce(&b, &started, Some(&s)).await;
    Ok(StartBattleAck::from(&started))
}

/// Refuse `s` unless its player is one of `players`.
fn players_only(b: &Battles, s: &Socket, players: &[String], what: &str) -> Result<(), AckError> {
    let me = player_of(s);
    if players.iter().any(|p| p == me.as_str()) {
        return Ok(());
    }
    Err(not_a_player(b, s, what))
}

/// `forbidden`, counted in `arena_auth_failures_total`.
fn not_a_player(b: &Battles, s: &Socket, what: &str) -> AckError {
    b.ctx
        .app
        .auth
        .refuse(format!(
            "only the battle's players may {what}; {} is not one of them",
            player_of(s).as_str()
        ))
        .into()
}

/// `end_battle {battleId, winner?}`: ack `{ok, battleId}`; `battle_ended` to the battle
/// room. Only the battle's players may end it (`forbidden` for anyone else); spectators
/// watch. `winner`, if given, must be one of them.
pub async fn end_battle(
    b: Battles,
    s: Socket,
    req: Result<BattleIdReq, AckError>,
) -> Result<BattleIdAck, AckError> {
    let req = req.map_err(|e| AckError::bad_request(format!("expected {{battleId}}: {}", e.message)))?;
    // A battle's players never change, so checking before the end cannot be raced.
    let battle = store::get(&b, &req.battle_id).await?;
    players_only(&b, &s, &battle.players, "end it")?;
    let how = Ending::Ended {
        winner: req.winner.as_deref(),
    };
    let durable = announce_end(&b, store::end(&b, &req.battle_id, how).await?).await?;
    Ok(BattleIdAck {
        battle_id: req.battle_id,
        durable,
    })
}

/// `forfeit {battleId}`: the player gives up. 1v1: the opponent wins; a group plays on
/// without them until one is left.
pub async fn forfeit(
    b: Battles,
    s: Socket,
    req: Result<BattleIdReq, AckError>,
) -> Result<BattleIdAck, AckError> {
    let req = req.map_err(|e| AckError::bad_request(format!("expected {{battleId}}: {}", e.message)))?;
    let battle = store::get(&b, &req.battle_id).await?;
    players_only(&b, &s, &battle.players, "forfeit it")?;
    let me = player_of(&s);
    let how = Ending::Forfeit {
        player: me.as_str(),
        disconnect: false,
    };
    let durable = announce_end(&b, store::end(&b, &req.battle_id, how).await?).await?;
    Ok(BattleIdAck {
        battle_id: req.battle_id,
        durable,
    })
}

/// Tell the room what a player's ending changed (`store::end` already took an ended
/// battle out of the deadline index); returns whether a replica confirmed the change.
async fn announce_end(b: &Battles, (ended, durable): (Ended, Option<bool>)) -> Result<Option<bool>, AckError> {
    // Only a `time` ending can be not due; events never ask for one.
    if let Ended::NotDue(_) = ended {
        return Err(AckError::bad_request("the battle is not over"));
    }
    broadcast::ending(b, &ended, durable).await;
    Ok(durable)
}

/// `battle_state {battleId}`: ack the whole battle (clock, problem, standings, every
/// submission's verdict, no source) and join the asker to the battle room, so a
/// spectator watches from here on and a player who reconnected hears the rest.
pub async fn battle_state(
    b: Battles,
    s: Socket,
    req: Result<BattleIdReq, AckError>,
) -> Result<BattleView, AckError> {
    let req = req.map_err(|e| AckError::bad_request(format!("expected {{battleId}}: {}", e.message)))?;
    let state = view::current(&b, &req.battle_id).await?;
    s.join(room(&req.battle_id));
    Ok(state)
}

/// `submit {battleId, language, source, key?}`: ack `{ok, submissionId, duplicate}` at
/// once; the verdict streams to the battle room (`submission_update` per test, then
/// `submission_result`). Only the battle's players may submit.
pub async fn submit(
    b: Battles,
    s: Socket,
    req: Result<SubmitReq, AckError>,
) -> Result<SubmitAck, AckError> {
    let req = req.map_err(|e| {
        AckError::bad_request(format!("expected {{battleId, language, source}}: {}", e.message))
    })?;
    if req.source.len() > b.settings.battle_source_limit_bytes {
        return Err(AckError::new(
            ErrorCode::PAYLOAD_TOO_LARGE,
            format!(
                "source is {} bytes; at most {} (BATTLE_SOURCE_LIMIT_BYTES)",
                req.source.len(),
                b.settings.battle_source_limit_bytes
            ),
        ));
    }
    let language = Language::parse(&req.language).ok_or_else(|| {
        AckError::bad_request(format!(
            "unknown language {:?}; known: {}",
            crate::base::error::echo(&req.language),
            Language::known_keys()
        ))
    })?;
    if let Some(k) = &req.key {
        submission::check_key(k)?;
    }
    let battle = store::get(&b, &req.battle_id).await?;
    players_only(&b, &s, &battle.players, "submit")?;
    let me = player_of(&s).as_str().to_string();
    let mut conn = b.ctx.app.redis.clone();
    let limit = limiter::check(&mut conn, "submit", &me, b.settings.battle_submits_per_s)
        .await
        .map_err(BattleError::from)?;
    if let LimitDecision::Limited { retry_after_ms } = limit {
        return Err(AckError::new(
            ErrorCode::RATE_LIMITED,
            format!("too many submissions; retry in {retry_after_ms} ms"),
        ));
    }
    // A judge fleet known to be down is answered now, not after a queue wait.
    if let Ok(step) = b.ctx.app.judge.peek().await
        && step.state == State::Open
    {
        return Err(AckError::new(JUDGE_UNAVAILABLE, "the judge is unavailable; the battle is paused"));
    }
    let id = crate::services::judge::queue::new_token();
    let sub = SubmissionRecord {
        submission_id: id.clone(),
        battle_id: battle.battle_id.clone(),
        player: me,
        language: language.key().to_string(),
        source: req.source,
        verdict: String::new(),
        passed: 0,
        of: 0,
        failed_test: None,
        time_ms: 0,
        tests: Vec::new(),
        message: None,
        submitted_at: 0,
        elapsed_ms: 0,
        judged_at: None,
    };
    let keys = store::keys_of(&battle.battle_id, b.settings.battle_outbox_partitions)?;
    let key = req.key.unwrap_or_else(|| id.clone());
    let ttl = store::BATTLE_TTL_S;
    let (opened, durable) = submission::open(&b.steps, &keys, &sub, &key, ttl)
        .await
        .map_err(BattleError::from)?;
    match opened {
        Opened::New(sub) => {
            let now = redis_now(&mut conn).await.map_err(BattleError::from)?;
            // If this write fails, nothing can recover the submission should this
            // instance die before the verdict; it is still judged now.
            if let Err(e) = deadline::judging(&mut conn, &sub.battle_id, &sub.submission_id, now).await {
                tracing::warn!(error = %e, "submission not indexed for recovery");
            }
            tokio::spawn(judging::judge(b.clone(), battle.problem_id.clone(), sub));
            Ok(SubmitAck {
                submission_id: id,
                duplicate: false,
                durable,
            })
        }
        Opened::Duplicate(sub) => Ok(SubmitAck {
            submission_id: sub.submission_id,
            duplicate: true,
            durable,
        }),
        Opened::NotFound => Err(BattleError::NotFound(format!("battle {}", battle.battle_id)).into()),
        Opened::NotAPlayer => Err(not_a_player(&b, &s, "submit")),
        Opened::Ended => Err(AckError::bad_request("the battle is over")),
        Opened::Forfeited => Err(AckError::bad_request("you forfeited this battle")),
        Opened::Paused => Err(AckError::new(
            JUDGE_UNAVAILABLE,
            "the battle is paused: the judge is unavailable",
        )),
        Opened::Countdown(ms) => Err(AckError::bad_request(format!(
            "the battle starts in {ms} ms"
        ))),
    }
}
