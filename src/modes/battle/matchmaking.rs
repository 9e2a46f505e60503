//! Matchmaking: `queue_battle {difficulty}` and `leave_queue {}`. Players queued on any
//! instance are paired exactly once: queuing, pairing and leaving are each one step of
//! `lua/matchmake.lua` on the `{mm}` slot, so two instances can never hand the same
//! waiting player to two callers. The instance whose call made a pair starts the battle
//! through the ordinary start path and announces it to both players wherever they are
//! connected.
//!
//! A queue entry lives `QUEUE_TTL_MS` after the player's last `queue_battle` (queuing again
//! renews it and keeps the place), so a player who went away is not paired forever.
//! Difficulties: a player asking for `easy|medium|hard` meets the longest-waiting player
//! of that queue or of `any`; a player asking for `any` meets the longest-waiting player
//! of every queue, and the battle takes that player's difficulty.

use std::sync::LazyLock;
use std::time::Duration;

use redis::{RedisError, Script};
use serde::{Deserialize, Serialize};

use super::broadcast::announce;
use super::durability::{Step, Steps, parse};
use super::error::BattleError;
use super::keys::{MM_QUEUED_PREFIX, mm_queue};
use super::problem::Choice;
use super::state::Battles;
use super::store::{self, Started};
use crate::base::error::AckError;
use crate::redis::script::{self, unexpected_reply};
use crate::services::problems::problem::Difficulty;
use crate::services::realtime::{Socket, player_of};

/// How long a queue entry waits for a partner after the player's last `queue_battle`
/// (5 min: long enough for a quiet hour, short enough that a closed tab is soon gone).
pub const QUEUE_TTL_MS: u64 = 300_000;

/// What a player queues for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    One(Difficulty),
    Any,
}

impl Wanted {
    pub fn parse(key: &str) -> Option<Self> {
        match key {
            "any" => Some(Wanted::Any),
            other => Difficulty::parse(other).map(Wanted::One),
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Wanted::One(d) => d.key(),
            Wanted::Any => "any",
        }
    }

    /// The battle's difficulty when a player wanting `self` meets one wanting `other`:
    /// the specific one wins; `None` = any problem.
    pub fn meet(self, other: Wanted) -> Option<Difficulty> {
        match (self, other) {
            (Wanted::One(d), _) | (Wanted::Any, Wanted::One(d)) => Some(d),
            (Wanted::Any, Wanted::Any) => None,
        }
    }
}

/// `queue_battle` payload.
#[derive(Debug, Deserialize)]
pub struct QueueReq {
    pub difficulty: String,
}

/// `leave_queue` payload: nothing (the player is the socket's).
#[derive(Debug, Deserialize)]
pub struct LeaveReq {}

/// Ack of `queue_battle`: `{queued: true}` or `{queued: false, battleId}`; `durable`:
/// of the queue entry, or of the battle when this call created it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueAck {
    pub queued: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub battle_id: Option<String>,
    /// With BATTLE_DURABILITY=replica: did a replica confirm the change in time?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable: Option<bool>,
}

/// Ack of `leave_queue`: whether the player was queued.
#[derive(Debug, Serialize)]
pub struct LeaveAck {
    pub left: bool,
    /// With BATTLE_DURABILITY=replica: did a replica confirm the change in time?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable: Option<bool>,
}

/// `queue_battle {difficulty}`: queue the socket's player, or pair them at once with the
/// longest-waiting compatible player (on any instance) and start their battle.
pub async fn queue_battle(
    b: Battles,
    s: Socket,
    req: Result<QueueReq, AckError>,
) -> Result<QueueAck, AckError> {
    let req = req.map_err(|e| {
        AckError::bad_request(format!(
            "expected {{difficulty: easy|medium|hard|any}}: {}",
            e.message
        ))
    })?;
    let wanted = Wanted::parse(&req.difficulty).ok_or_else(|| {
        AckError::bad_request(format!(
            "difficulty must be easy, medium, hard or any (got {:?})",
            crate::base::error::echo(&req.difficulty)
        ))
    })?;
    let me = player_of(&s).as_str().to_string();
    let (outcome, durable) = matchmake(&b.steps, Op::Queue, &me, wanted, 0)
        .await
        .inspect_err(|e| b.ctx.app.metrics.redis_failure("matchmake", e))
        .map_err(BattleError::from)?;
    let (partner, waited_ms, theirs, enqueued_ms) = match outcome {
        Matchmake::Queued => {
            return Ok(QueueAck {
                queued: true,
                battle_id: None,
                durable,
            });
        }
        Matchmake::Paired {
            partner,
            waited_ms,
            wanted,
            enqueued_ms,
        } => (partner, waited_ms, wanted, enqueued_ms),
        Matchmake::Left(_) => {
            return Err(BattleError::from(unexpected_reply("matchmake.lua", "left on queue")).into());
        }
    };
    let players = [partner.clone(), me.clone()];
    let started = match start_paired(&b, &players, wanted.meet(theirs)).await {
        Ok(started) => started,
        Err(e) => {
            // The partner was taken out of the queue for this battle: put them back at
            // their place, so a failed start costs them nothing. The caller hears the error.
            if let Err(re) = matchmake(&b.steps, Op::Restore, &partner, theirs, enqueued_ms).await
            {
                tracing::warn!(error = %re, partner, "could not put a matched player back in the queue");
            }
            return Err(e.into());
        }
    };
    let wait = &b.metrics.matchmaking_wait;
    wait.record(Duration::from_millis(waited_ms).as_secs_f64());
    wait.record(0.0);
    announce(&b, &started, Some(&s)).await;
    Ok(QueueAck {
        queued: false,
        durable: started.durable,
        battle_id: Some(started.battle.battle_id),
    })
}

/// The one place matchmaking starts a battle: a random problem of the difficulty the pair
/// agreed on (`None`: any), for the default duration.
async fn start_paired(
    b: &Battles,
    players: &[String],
    difficulty: Option<Difficulty>,
) -> Result<Started, BattleError> {
    let choice = Choice {
        problem_id: None,
        difficulty,
        duration_s: None,
    };
    store::start(b, players, &choice).await
}

/// `leave_queue {}`: ack `{left}`, whether the player was queued.
pub async fn leave_queue(
    b: Battles,
    s: Socket,
    req: Result<LeaveReq, AckError>,
) -> Result<LeaveAck, AckError> {
    req.map_err(|e| AckError::bad_request(format!("expected {{}}: {}", e.message)))?;
    let me = player_of(&s).as_str().to_string();
    let (outcome, durable) = matchmake(&b.steps, Op::Leave, &me, Wanted::Any, 0)
        .await
        .inspect_err(|e| b.ctx.app.metrics.redis_failure("matchmake", e))
        .map_err(BattleError::from)?;
    match outcome {
        Matchmake::Left(left) => Ok(LeaveAck { left, durable }),
        other => Err(BattleError::from(unexpected_reply("matchmake.lua", other)).into()),
    }
}

static MATCHMAKE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/matchmake.lua")));

/// What to ask `matchmake.lua`.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Queue,
    Leave,
    /// Put a matched player back at their enqueue time (their battle did not start).
    Restore,
}

/// What `matchmake.lua` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matchmake {
    /// Queued (or still queued: queuing again keeps the place).
    Queued,
    /// Paired with `partner`, who had waited `waited_ms` in the queue for `wanted` since
    /// `enqueued_ms` (Redis clock).
    Paired {
        partner: String,
        waited_ms: u64,
        wanted: Wanted,
        enqueued_ms: u64,
    },
    /// Left the queue (`true`) or was not queued.
    Left(bool),
}

/// One matchmaking step for `player`; an unknown reply is an error.
/// With `BATTLE_DURABILITY=replica`, also whether a replica confirmed it.
pub async fn matchmake(
    steps: &Steps,
    op: Op,
    player: &str,
    wanted: Wanted,
    enqueued_ms: u64,
) -> Result<(Matchmake, Option<bool>), RedisError> {
    let op_name = match op {
        Op::Queue => "queue",
        Op::Leave => "leave",
        Op::Restore => "restore",
    };
    let queued = format!("{MM_QUEUED_PREFIX}{player}");
    let mut cmd = script::evalsha(
        &MATCHMAKE,
        &[
            mm_queue("easy"),
            mm_queue("medium"),
            mm_queue("hard"),
            mm_queue("any"),
            queued,
        ],
    );
    cmd.arg(op_name)
        .arg(player)
        .arg(wanted.key())
        .arg(MM_QUEUED_PREFIX)
        .arg(QUEUE_TTL_MS)
        .arg(enqueued_ms);
    let done = steps.run(Step::Matchmake, &MATCHMAKE, &cmd).await?;
    let reply: Vec<String> = parse("matchmake.lua", done.reply)?;
    let outcome = parse_reply(&reply).ok_or_else(|| unexpected_reply("matchmake.lua", &reply))?;
    Ok((outcome, done.durable))
}

fn parse_reply(reply: &[String]) -> Option<Matchmake> {
    let number = |s: &String| s.parse::<u64>().ok();
    Some(match reply {
        [kind, waited] if kind == "queued" => {
            number(waited)?;
            Matchmake::Queued
        }
        [kind, left] if kind == "left" => Matchmake::Left(match left.as_str() {
            "1" => true,
            "0" => false,
            _ => return None,
        }),
        [kind, partner, waited, wanted, at] if kind == "paired" && !partner.is_empty() => {
            Matchmake::Paired {
                partner: partner.clone(),
                waited_ms: number(waited)?,
                wanted: Wanted::parse(wanted)?,
                enqueued_ms: number(at)?,
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn replies_parse_and_unknown_ones_do_not() {
        assert_eq!(
            parse_reply(&strings(&["queued", "0"])),
            Some(Matchmake::Queued)
        );
        assert_eq!(parse_reply(&strings(&["left", "1"])), Some(Matchmake::Left(true)));
        assert_eq!(
            parse_reply(&strings(&["paired", "bob", "1200", "easy", "1700000000000"])),
            Some(Matchmake::Paired {
                partner: "bob".into(),
                waited_ms: 1200,
                wanted: Wanted::One(Difficulty::Easy),
                enqueued_ms: 1_700_000_000_000,
            })
        );
        for bad in [
            &["queued"][..],
            &["queued", "x"],
            &["left", "2"],
            &["paired", "bob", "1", "extreme", "1"],
            &["paired", "", "1", "easy", "1"],
            &["matched", "bob"],
            &[],
        ] {
            assert_eq!(parse_reply(&strings(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn the_specific_difficulty_wins_a_meeting() {
        let easy = Wanted::One(Difficulty::Easy);
        assert_eq!(Wanted::Any.meet(easy), Some(Difficulty::Easy));
        assert_eq!(easy.meet(Wanted::Any), Some(Difficulty::Easy));
        assert_eq!(Wanted::Any.meet(Wanted::Any), None);
        assert_eq!(Wanted::parse("any"), Some(Wanted::Any));
        assert_eq!(Wanted::parse("hard").map(Wanted::key), Some("hard"));
        assert_eq!(Wanted::parse("extreme"), None);
    }
}
