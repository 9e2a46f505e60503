//! Duplicate-free creation under concurrent starts on any instance, and the stored battle.
//!
//! Starting a battle for a pairing that has an active one returns that battle. Creation
//! is safe on two independent grounds, both inside one Lua step (`lua/battle_create.lua`):
//! 1. an idempotency key per pairing (`...:data:active`, set only if absent), and
//! 2. a fenced commit: the Redlock lease's fencing token must still be the newest, so a
//!    holder whose lease lapsed (slow handler, paused process) cannot write.
//!
//! All keys of a pairing share the hash tag `{b<k>}` of its partition with its lock fence
//! and the partition's outbox stream (`keys.rs`), which is what makes (2) and the outbox
//! append one atomic step on one Cluster slot. A battle id is
//! `<pairing hash>-<created ms>-<fencing token>`: unique while Redis keeps its fences, and
//! after Redis lost them (a flush, a restart without persistence: tokens start again at 1)
//! still unique in the SQL records unless the same pairing is created in the same
//! millisecond with the same token.

use std::sync::LazyLock;
use std::time::Duration;

use crate::redis::Conn;
use redis::{AsyncCommands, RedisError, Script};
use serde::{Deserialize, Serialize};

use super::error::BattleError;
use super::keys::{self, ACTIVE_INDEX};
use super::pairing::Pairing;
use super::problem::Choice;
use super::standing::Standing;
use super::state::Battles;
use crate::base::clock::unix_ms;
use super::durability::{Step, Steps, parse};
use crate::redis::script::{self, unexpected_reply};
use crate::services::store::records::{BattleRecord, BattleState};

/// Battles (and their pairing keys) expire after this long if never ended.
pub const BATTLE_TTL_S: u64 = 6 * 3600;

/// A battle as stored and returned.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Battle {
    pub battle_id: String,
    pub players: Vec<String>,
    /// `active` or `ended`.
    pub state: String,
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
    /// One of the players, if the battle ended with a winner (always sent, `null` if
    /// none, so `battle_ended` says "no winner" plainly).
    #[serde(default)]
    pub winner: Option<String>,
    /// The instance whose handler created it.
    pub created_by: String,
    /// The problem fought on (empty in records from before problems).
    #[serde(default)]
    pub problem_id: String,
    #[serde(default)]
    pub duration_s: u64,
    /// When the clock starts (after the countdown) and when it runs out, Redis clock ms;
    /// both move on by the time the battle was paused.
    #[serde(default)]
    pub starts_at: u64,
    #[serde(default)]
    pub ends_at: u64,
    /// Set while the clock is stopped (the judge is down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<String>,
    /// Time spent paused so far.
    #[serde(default)]
    pub paused_ms: u64,
    /// Why it ended: `solved`, `time`, `forfeit`, `disconnect` or `ended`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// ICPC standings, recomputed by every verdict and at the end (`lua/battle_lib.lua`).
    #[serde(
        default,
        deserialize_with = "super::standing::lenient_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub standings: Vec<Standing>,
    /// Players who forfeited or left (a group plays on without them).
    #[serde(
        default,
        deserialize_with = "super::standing::lenient_vec",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub forfeited: Vec<String>,
}

impl Battle {
    /// The pairing hash: the id's first part.
    pub fn pairing(&self) -> &str {
        self.battle_id.split('-').next().unwrap_or_default()
    }

    /// As the SQL records hold it; `None` for a state the records do not know.
    pub fn to_record(&self) -> Option<BattleRecord> {
        Some(BattleRecord {
            id: self.battle_id.clone(),
            pairing: self.pairing().to_string(),
            state: BattleState::parse(&self.state)?,
            created_at: i64::try_from(self.created_at).ok()?,
            ended_at: match self.ended_at {
                Some(t) => Some(i64::try_from(t).ok()?),
                None => None,
            },
            winner: self.winner.clone(),
            created_by: self.created_by.clone(),
            players: self.players.clone(),
        })
    }

    /// From the SQL records (a battle Redis no longer has); `None` for negative times.
    pub fn from_record(r: BattleRecord) -> Option<Self> {
        Some(Self {
            battle_id: r.id,
            players: r.players,
            state: r.state.as_str().to_string(),
            created_at: u64::try_from(r.created_at).ok()?,
            ended_at: match r.ended_at {
                Some(t) => Some(u64::try_from(t).ok()?),
                None => None,
            },
            winner: r.winner,
            created_by: r.created_by,
            ..Self::default()
        })
    }
}

/// The answer to a start: the battle and whether this call created it; when it did,
/// with `BATTLE_DURABILITY=replica`, whether a replica confirmed the creation.
#[derive(Debug, Clone)]
pub struct Started {
    pub battle: Battle,
    pub created: bool,
    pub durable: Option<bool>,
}

/// `<hash>-<ms>-<n>` -> the battle's keys, in its pairing's partition.
pub(super) fn keys_of(battle_id: &str, partitions: u32) -> Result<BattleKeys, BattleError> {
    // The id comes from the client: show only a prefix of it.
    let shown = crate::base::error::echo(battle_id);
    let bad = || BattleError::BadRequest(format!("malformed battle id {shown:?}"));
    let (hash, suffix) = battle_id.split_once('-').ok_or_else(bad)?;
    let (ms, n) = suffix.split_once('-').ok_or_else(bad)?;
    let number = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if hash.len() != 32
        || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        || !number(ms)
        || !number(n)
    {
        return Err(bad());
    }
    let p = keys::partition_of(hash, partitions);
    Ok(BattleKeys {
        fence: keys::fence(p, hash),
        active: keys::active(p, hash),
        record: keys::record(p, hash, suffix),
        outbox: keys::outbox(p),
        subs: keys::subs(p, hash, suffix),
    })
}

/// Start (or join) the battle of `players`. Concurrent calls for the same pairing, on
/// any instance, all get the same battle; exactly one of them has `created: true`.
pub async fn start(
    b: &Battles,
    players: &[String],
    choice: &Choice,
) -> Result<Started, BattleError> {
    let app = &b.ctx.app;
    let pairing = Pairing::parse(players)?;
    let problem = choice.pick(&b.bank)?;
    let duration_s = choice.duration_s.unwrap_or(b.settings.battle_duration_s);
    let partitions = b.settings.battle_outbox_partitions;
    let resource = pairing.resource(partitions)?;
    let mut conn = app.redis.clone();
    let active_key = keys::active(keys::partition_of(&pairing.hash, partitions), &pairing.hash);
    for _ in 0..3 {
        // Fast path: an active battle needs no lock.
        if let Some(id) = conn.get::<_, Option<String>>(&active_key).await? {
            b.metrics.start_conflicts.increment(1);
            return Ok(Started {
                battle: get(b, &id).await?,
                created: false,
                durable: None,
            });
        }
        let wait = Duration::from_millis(app.settings.lock_ttl_ms * 4).max(Duration::from_secs(5));
        let lease = app.redlock.acquire_within(&resource, wait).await?;
        // Double-check under the lease: a holder before us may have just created it.
        if let Some(id) = conn.get::<_, Option<String>>(&active_key).await? {
            lease.release().await;
            b.metrics.start_conflicts.increment(1);
            return Ok(Started {
                battle: get(b, &id).await?,
                created: false,
                durable: None,
            });
        }
        if b.settings.test_battle_delay_ms > 0 {
            // Test-only: a handler slower than the lease TTL (the reference incident).
            tokio::time::sleep(Duration::from_millis(b.settings.test_battle_delay_ms)).await;
        }
        let token = lease.fencing_token();
        // The battle's clock is Redis's: every instance and the scripts agree on it.
        let now = redis_now(&mut conn).await?;
        let starts_at = now + b.settings.battle_countdown_ms;
        let battle = Battle {
            battle_id: format!("{}-{now}-{token}", pairing.hash),
            players: pairing.players.clone(),
            state: "active".into(),
            created_at: now,
            created_by: app.instance_id.to_string(),
            problem_id: problem.id.clone(),
            duration_s,
            starts_at,
            ends_at: starts_at + duration_s * 1000,
            ..Battle::default()
        };
        let keys = keys_of(&battle.battle_id, partitions)?;
        let record =
            serde_json::to_string(&battle).map_err(|e| BattleError::BadRequest(e.to_string()))?;
        let outcome = battle_create(
            &b.steps,
            &keys,
            token,
            &battle.battle_id,
            &record,
            BATTLE_TTL_S,
            now,
        )
        .await;
        lease.release().await;
        let outcome = outcome.inspect_err(|e| app.metrics.redis_failure("battle_create", e))?;
        let (outcome, durable) = outcome;
        match outcome {
            BattleCreate::Created(_) => {
                b.metrics.created.increment(1);
                let expires = unix_ms() + BATTLE_TTL_S * 1000;
                // The index feeds a gauge and the pause driver; a failure here loses no
                // battle. The deadline is what ends it on time: if that write failed the
                // battle would run to its TTL, so it is retried once and logged.
                let _: Result<(), _> = conn.zadd(ACTIVE_INDEX, &battle.battle_id, expires).await;
                if let Err(e) = super::deadline::schedule(&mut conn, &battle.battle_id, battle.ends_at).await {
                    tracing::warn!(battle = %battle.battle_id, error = %e, "battle deadline not scheduled; retrying");
                    let _ = super::deadline::schedule(&mut conn, &battle.battle_id, battle.ends_at).await;
                }
                tracing::info!(battle = %battle.battle_id, players = ?battle.players, "battle created");
                return Ok(Started {
                    battle,
                    created: true,
                    durable,
                });
            }
            BattleCreate::Exists(id) => {
                b.metrics.start_conflicts.increment(1);
                return Ok(Started {
                    battle: get(b, &id).await?,
                    created: false,
                    durable: None,
                });
            }
            BattleCreate::Stale(newest) => {
                // Our lease lapsed and a newer holder exists: it decides; look again.
                b.metrics.start_conflicts.increment(1);
                tracing::warn!(token, newest, "battle commit fenced off: lease was lost");
            }
        }
    }
    Err(BattleError::Contended)
}

/// The battle `id` (active or ended): from Redis while it has it, else from the SQL
/// records (after the battle expired there, or Redis lost its data). A Redis or database
/// failure is an error, never "not found".
pub async fn get(b: &Battles, id: &str) -> Result<Battle, BattleError> {
    let keys = keys_of(id, b.settings.battle_outbox_partitions)?;
    let raw: Option<String> = b.ctx.app.redis.clone().get(&keys.record).await?;
    if let Some(raw) = raw {
        return parse_record(b, &raw);
    }
    let record = b.ctx.app.store.battle(id).await?;
    let record = record.ok_or_else(|| BattleError::NotFound(format!("battle {id}")))?;
    Battle::from_record(record).ok_or(BattleError::Corrupt)
}

/// A stored record that does not parse is corrupt: an error (counted, logged), never
/// "not found".
pub(super) fn parse_record(b: &Battles, raw: &str) -> Result<Battle, BattleError> {
    serde_json::from_str(raw).map_err(|e| {
        b.ctx.app.metrics.corrupt("battle_record", &e);
        BattleError::Corrupt
    })
}

/// How a battle ends: who asked, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending<'a> {
    /// A player ended it (`end_battle`), naming the winner or not.
    Ended { winner: Option<&'a str> },
    /// Its clock ran out (refused while paused or before its end).
    Time,
    /// `player` gave up (`forfeit`) or stayed away past the grace period (`disconnect`).
    Forfeit { player: &'a str, disconnect: bool },
}

/// What an ending did.
#[derive(Debug, Clone)]
pub enum Ended {
    /// The battle is over: the final record.
    Over(Battle),
    /// A group battle plays on without the player who left.
    PlaysOn(Battle),
    /// The clock has not run out: its end (ms) or `None` while paused.
    NotDue(Option<u64>),
}

/// End an active battle (see [`Ending`]); its pairing can then start a new one. With
/// `BATTLE_DURABILITY=replica`, also whether a replica confirmed the change.
pub async fn end(
    b: &Battles,
    id: &str,
    how: Ending<'_>,
) -> Result<(Ended, Option<bool>), BattleError> {
    let keys = keys_of(id, b.settings.battle_outbox_partitions)?;
    let mut conn = b.ctx.app.redis.clone();
    let (winner, reason, actor) = match how {
        Ending::Ended { winner } => (winner.unwrap_or(""), "ended", ""),
        Ending::Time => ("", "time", ""),
        Ending::Forfeit { player, disconnect } => {
            ("", if disconnect { "disconnect" } else { "forfeit" }, player)
        }
    };
    let (ended, durable) = battle_end(&b.steps, &keys, id, winner, reason, actor)
        .await
        .inspect_err(|e| b.ctx.app.metrics.redis_failure("battle_end", e))?;
    let updated = match ended {
        BattleEnd::Ended(json) => json,
        BattleEnd::Forfeited(json) => {
            return Ok((Ended::PlaysOn(parse_record(b, &json)?), durable));
        }
        BattleEnd::NotDue(at) => return Ok((Ended::NotDue(at), durable)),
        BattleEnd::None => return Err(BattleError::NotFound(format!("active battle {id}"))),
        BattleEnd::NotAPlayer => {
            return Err(BattleError::BadRequest(
                "the player named must be one of the battle's players".into(),
            ));
        }
    };
    // An end no replica confirmed keeps its deadline entry: should a failover undo it,
    // the clock still ends the battle (`durability.rs`).
    if durable != Some(false) {
        super::deadline::forget(&mut conn, id).await;
    }
    Ok((Ended::Over(parse_record(b, &updated)?), durable))
}

/// Redis's clock, ms since the epoch: battles are timed on it so every instance agrees.
pub async fn redis_now(conn: &mut Conn) -> Result<u64, RedisError> {
    let (s, us): (u64, u64) = redis::cmd("TIME").query_async(conn).await?;
    Ok(s * 1000 + us / 1000)
}

/// Active battles across all instances (expired entries pruned).
pub async fn active_count(conn: &Conn) -> Result<u64, RedisError> {
    let mut conn = conn.clone();
    let now = unix_ms();
    let (n,): (u64,) = redis::pipe()
        .zrembyscore(ACTIVE_INDEX, "-inf", now)
        .ignore()
        .zcard(ACTIVE_INDEX)
        .query_async(&mut conn)
        .await?;
    Ok(n)
}

/// The ids of up to `limit` active battles, soonest to expire first (expired entries
/// pruned), for the admin view.
pub async fn active_ids(conn: &Conn, limit: usize) -> Result<Vec<String>, RedisError> {
    let mut conn = conn.clone();
    let now = unix_ms();
    let (ids,): (Vec<String>,) = redis::pipe()
        .zrembyscore(ACTIVE_INDEX, "-inf", now)
        .ignore()
        .zrange(ACTIVE_INDEX, 0, limit.saturating_sub(1) as isize)
        .query_async(&mut conn)
        .await?;
    Ok(ids)
}

static BATTLE_CREATE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/battle_create.lua")));
static BATTLE_END: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/battle_lib.lua"),
        include_str!("lua/battle_end.lua")
    ))
});

static BATTLE_PAUSE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/battle_lib.lua"),
        include_str!("lua/battle_pause.lua")
    ))
});

/// What `battle_pause.lua` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pause {
    /// Paused now, with this much time left (ms).
    Paused(u64),
    /// Resumed now: the updated record (JSON).
    Resumed(String),
    /// Already so.
    Same,
    /// Unknown or over.
    None,
}

async fn pause_op(
    steps: &Steps,
    keys: &BattleKeys,
    op: &str,
    reason: &str,
) -> Result<Pause, RedisError> {
    let mut cmd = script::evalsha(&BATTLE_PAUSE, &[&keys.record]);
    cmd.arg(op).arg(reason);
    let done = steps.run(Step::Pause, &BATTLE_PAUSE, &cmd).await?;
    let (kind, value): (String, String) = parse("battle_pause.lua", done.reply)?;
    let unexpected = || unexpected_reply("battle_pause.lua", (&kind, &value));
    let pause = match kind.as_str() {
        "paused" => Pause::Paused(value.parse().map_err(|_| unexpected())?),
        "resumed" => Pause::Resumed(value),
        "same" => Pause::Same,
        "none" => Pause::None,
        _ => return Err(unexpected()),
    };
    Ok(pause)
}

/// Stop the battle's clock (idempotent). Never waits for a replica (`durability.rs`).
pub async fn pause(steps: &Steps, keys: &BattleKeys, reason: &str) -> Result<Pause, RedisError> {
    pause_op(steps, keys, "pause", reason).await
}

/// Restart it with the time it had left (idempotent). Never waits for a replica.
pub async fn resume(steps: &Steps, keys: &BattleKeys) -> Result<Pause, RedisError> {
    pause_op(steps, keys, "resume", "").await
}

/// What `battle_create.lua` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BattleCreate {
    Created(String),
    /// The pairing already has this active battle.
    Exists(String),
    /// The fencing token was superseded: this holder lost its lease; nothing was written.
    Stale(u64),
}

/// What `battle_end.lua` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BattleEnd {
    /// Ended now: the updated record (JSON).
    Ended(String),
    /// A group battle plays on without the player who left: the updated record.
    Forfeited(String),
    /// Not over yet: its end (ms), or `None` while paused.
    NotDue(Option<u64>),
    /// Unknown, or already ended.
    None,
    /// The player named is not one of the battle's players; nothing changed.
    NotAPlayer,
}

/// Keys of one battle (all in its partition's tag, with its fence and the outbox).
pub struct BattleKeys {
    pub fence: String,
    pub active: String,
    pub record: String,
    pub outbox: String,
    /// The battle's submissions (hash: id -> JSON).
    pub subs: String,
}

/// Create the battle of a pairing if its fencing token is current and none is active;
/// and whether a replica confirmed it.
pub async fn battle_create(
    steps: &Steps,
    keys: &BattleKeys,
    token: u64,
    battle_id: &str,
    record_json: &str,
    ttl_s: u64,
    at_ms: u64,
) -> Result<(BattleCreate, Option<bool>), RedisError> {
    let mut cmd = script::evalsha(
        &BATTLE_CREATE,
        &[&keys.fence, &keys.active, &keys.record, &keys.outbox],
    );
    cmd.arg(token).arg(battle_id).arg(record_json).arg(ttl_s).arg(at_ms);
    let done = steps.run(Step::Create, &BATTLE_CREATE, &cmd).await?;
    let (kind, value): (String, String) = parse("battle_create.lua", done.reply)?;
    let unexpected = || unexpected_reply("battle_create.lua", (&kind, &value));
    let created = match kind.as_str() {
        "created" => BattleCreate::Created(value),
        "exists" => BattleCreate::Exists(value),
        "stale" => BattleCreate::Stale(value.parse().map_err(|_| unexpected())?),
        _ => return Err(unexpected()),
    };
    Ok((created, done.durable))
}

/// Run `battle_end.lua` (see there for what each reason does); and whether a replica
/// confirmed it.
pub async fn battle_end(
    steps: &Steps,
    keys: &BattleKeys,
    battle_id: &str,
    winner: &str,
    reason: &str,
    actor: &str,
) -> Result<(BattleEnd, Option<bool>), RedisError> {
    let mut cmd = script::evalsha(
        &BATTLE_END,
        &[&keys.active, &keys.record, &keys.outbox, &keys.subs],
    );
    cmd.arg(battle_id).arg(winner).arg(reason).arg(actor);
    let done = steps.run(Step::End, &BATTLE_END, &cmd).await?;
    let (kind, value): (String, String) = parse("battle_end.lua", done.reply)?;
    let unexpected = || unexpected_reply("battle_end.lua", (&kind, &value));
    let ended = match kind.as_str() {
        "ended" => BattleEnd::Ended(value),
        "forfeited" => BattleEnd::Forfeited(value),
        "not_due" if value == "paused" => BattleEnd::NotDue(None),
        "not_due" => BattleEnd::NotDue(Some(value.parse().map_err(|_| unexpected())?)),
        "none" => BattleEnd::None,
        "not_a_player" => BattleEnd::NotAPlayer,
        _ => return Err(unexpected()),
    };
    Ok((ended, done.durable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn battle_ids_name_their_keys() {
        let k = keys_of("0123456789abcdef0123456789abcdef-1700000000000-7", 8).unwrap();
        assert_eq!(
            k.record,
            "arena:{b7}:battle:0123456789abcdef0123456789abcdef:1700000000000-7"
        );
        assert_eq!(k.outbox, "arena:{b7}:outbox");
        assert!(k.active.starts_with("arena:{b7}:battle:0123456789abcdef0123456789abcdef"));
        for bad in [
            "",
            "x-1-1",
            "0123456789abcdef0123456789abcdef-7",
            "0123456789abcdef0123456789abcdef-x-1",
            "0123456789abcdef0123456789abcdef-1-",
            "0123456789ABCDEF0123456789abcdef-1-1",
            "0123456789abcdef0123456789abcde!-1-1",
        ] {
            assert!(keys_of(bad, 8).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_battle_converts_to_its_record_and_back() {
        let b = Battle {
            battle_id: "0123456789abcdef0123456789abcdef-1700000000000-7".into(),
            players: vec!["alice".into(), "bob".into()],
            state: "ended".into(),
            created_at: 1_700_000_000_000,
            ended_at: Some(1_700_000_000_500),
            winner: Some("bob".into()),
            created_by: "i0".into(),
            ..Battle::default()
        };
        let r = b.to_record().unwrap();
        assert_eq!(r.pairing, "0123456789abcdef0123456789abcdef");
        assert_eq!(r.state, BattleState::Ended);
        assert_eq!(Battle::from_record(r), Some(b));
    }
}
