//! A submission to a battle: opened once per idempotency key (`lua/submission_open.lua`),
//! judged, and its verdict recorded once with the standings and, when it decides the
//! battle, the end (`lua/submission_final.lua`). Both steps run on the battle's slot.

use std::sync::LazyLock;

use crate::redis::Conn;
use redis::{RedisError, Script};

use super::durability::{Step, Steps, parse};
use serde::{Deserialize, Serialize};

use super::error::BattleError;
use super::keys;
use super::standing::lenient_vec;
use super::store::BattleKeys;
use crate::redis::script::{self, unexpected_reply};

/// Longest idempotency key.
pub const MAX_KEY_CHARS: usize = 64;

static OPEN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/battle_lib.lua"),
        include_str!("lua/submission_open.lua")
    ))
});
static FINAL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/battle_lib.lua"),
        include_str!("lua/submission_final.lua")
    ))
});

/// One test's verdict, as stored and sent to the records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestVerdict {
    pub test: u32,
    pub verdict: String,
    pub time_ms: u64,
    pub memory_kb: u64,
}

/// A submission as stored in the battle's `subs` hash (and the outbox `submission`
/// event). `source` is stored for the records and for re-judging after an instance
/// died; it is never sent to other players.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionRecord {
    pub submission_id: String,
    pub battle_id: String,
    pub player: String,
    pub language: String,
    #[serde(default)]
    pub source: String,
    /// `judging` until the verdict is recorded.
    #[serde(default)]
    pub verdict: String,
    #[serde(default)]
    pub passed: u32,
    #[serde(default)]
    pub of: u32,
    #[serde(default)]
    pub failed_test: Option<u32>,
    #[serde(default)]
    pub time_ms: u64,
    #[serde(default, deserialize_with = "lenient_vec")]
    pub tests: Vec<TestVerdict>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub submitted_at: u64,
    /// Battle time at submission (pauses not counted), for the penalty.
    #[serde(default)]
    pub elapsed_ms: u64,
    #[serde(default)]
    pub judged_at: Option<u64>,
}

/// The verdict of a judged submission, as `submission_final.lua` records it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub verdict: String,
    pub passed: u32,
    pub of: u32,
    pub failed_test: Option<u32>,
    pub time_ms: u64,
    pub tests: Vec<TestVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What opening a submission did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// New: judge it.
    New(SubmissionRecord),
    /// The idempotency key named this earlier submission.
    Duplicate(SubmissionRecord),
    NotFound,
    NotAPlayer,
    Ended,
    Forfeited,
    Paused,
    /// The countdown has this many ms to go.
    Countdown(u64),
}

/// What recording a verdict did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finalized {
    /// Recorded; the standings changed (the record, JSON).
    Scored(SubmissionRecord, String),
    /// Recorded, and it ended the battle (the final record, JSON).
    Ended(SubmissionRecord, String),
    /// Recorded; the battle was over or gone, so it counts for nothing.
    Judged(SubmissionRecord),
    /// Someone recorded it first.
    Already,
    /// No such submission.
    NotFound,
}

/// A client's idempotency key: 1..=64 of `[A-Za-z0-9_-]`.
pub fn check_key(key: &str) -> Result<(), BattleError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_CHARS
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(BattleError::BadRequest(format!(
            "key must be 1 to {MAX_KEY_CHARS} letters, digits, '_' or '-'"
        )))
    }
}

fn decode(script: &'static str, raw: &str) -> Result<SubmissionRecord, RedisError> {
    serde_json::from_str(raw).map_err(|_| unexpected_reply(script, raw))
}

/// Open `sub` (its id, player, language, source filled in) under `key`.
/// With `BATTLE_DURABILITY=replica`, also whether a replica confirmed it.
pub async fn open(
    steps: &Steps,
    keys: &BattleKeys,
    sub: &SubmissionRecord,
    key: &str,
    ttl_s: u64,
) -> Result<(Opened, Option<bool>), RedisError> {
    let json = serde_json::to_string(sub).map_err(|e| unexpected_reply("submission", e.to_string()))?;
    let submit_key = keys::submit_key(&keys.record, &sub.player, key);
    let mut cmd = script::evalsha(&OPEN, &[&keys.record, &keys.subs, &submit_key]);
    cmd.arg(&sub.player).arg(&sub.submission_id).arg(json).arg(ttl_s);
    const S: &str = "submission_open.lua";
    let done = steps.run(Step::SubmissionOpen, &OPEN, &cmd).await?;
    let (kind, value): (String, String) = parse(S, done.reply)?;
    let opened = match kind.as_str() {
        "opened" => Opened::New(decode(S, &value)?),
        "duplicate" => Opened::Duplicate(decode(S, &value)?),
        "none" => Opened::NotFound,
        "not_a_player" => Opened::NotAPlayer,
        "ended" => Opened::Ended,
        "forfeited" => Opened::Forfeited,
        "paused" => Opened::Paused,
        "countdown" => Opened::Countdown(
            value
                .parse()
                .map_err(|_| unexpected_reply(S, (&kind, &value)))?,
        ),
        _ => return Err(unexpected_reply(S, (&kind, &value))),
    };
    Ok((opened, done.durable))
}

/// Record `outcome` for submission `id` of `battle_id`, once. With
/// `BATTLE_DURABILITY=replica`, also whether a replica confirmed it.
pub async fn finalize(
    steps: &Steps,
    keys: &BattleKeys,
    battle_id: &str,
    id: &str,
    outcome: &Outcome,
) -> Result<(Finalized, Option<bool>), RedisError> {
    let json =
        serde_json::to_string(outcome).map_err(|e| unexpected_reply("outcome", e.to_string()))?;
    let mut cmd = script::evalsha(
        &FINAL,
        &[&keys.record, &keys.subs, &keys.active, &keys.outbox],
    );
    cmd.arg(battle_id).arg(id).arg(json);
    const S: &str = "submission_final.lua";
    let done = steps.run(Step::SubmissionFinal, &FINAL, &cmd).await?;
    let (kind, sub, record): (String, String, String) = parse(S, done.reply)?;
    let finalized = match kind.as_str() {
        "scored" => Finalized::Scored(decode(S, &sub)?, record),
        "ended" => Finalized::Ended(decode(S, &sub)?, record),
        "judged" => Finalized::Judged(decode(S, &sub)?),
        "already" => Finalized::Already,
        "none" => Finalized::NotFound,
        _ => return Err(unexpected_reply(S, (&kind, &sub, &record))),
    };
    Ok((finalized, done.durable))
}

/// Every submission of a battle (any order).
pub async fn all(
    conn: &mut Conn,
    keys: &BattleKeys,
) -> Result<Vec<SubmissionRecord>, RedisError> {
    let raw: Vec<String> = redis::cmd("HVALS")
        .arg(&keys.subs)
        .query_async(conn)
        .await?;
    raw.iter().map(|r| decode("submissions", r)).collect()
}

/// One submission.
pub async fn one(
    conn: &mut Conn,
    keys: &BattleKeys,
    id: &str,
) -> Result<Option<SubmissionRecord>, RedisError> {
    let raw: Option<String> = redis::cmd("HGET")
        .arg(&keys.subs)
        .arg(id)
        .query_async(conn)
        .await?;
    raw.map(|r| decode("submission", &r)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys() {
        assert!(check_key("retry-1_A").is_ok());
        for bad in ["", "a b", "ü", &"k".repeat(65)] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
