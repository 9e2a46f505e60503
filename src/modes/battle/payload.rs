//! The battle mode's wire payloads (all camelCase).

use serde::{Deserialize, Serialize};

use super::standing::Standing;
use super::store::Started;
use crate::services::problems::PublicProblem;

/// `start_battle` / `POST /api/battles` payload. Without `problemId` or `difficulty` the
/// battle gets a random problem; `durationS` defaults to `BATTLE_DURATION_S`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartBattleReq {
    pub players: Vec<String>,
    #[serde(default)]
    pub problem_id: Option<String>,
    #[serde(default)]
    pub difficulty: Option<String>,
    #[serde(default)]
    pub duration_s: Option<u64>,
}

/// Ack of `start_battle`: `{ok, battleId, created}` (plus `players`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartBattleAck {
    pub battle_id: String,
    pub players: Vec<String>,
    pub created: bool,
    /// With BATTLE_DURABILITY=replica, when this call created the battle: did a replica
    /// confirm the creation in time?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable: Option<bool>,
}

impl From<&Started> for StartBattleAck {
    fn from(s: &Started) -> Self {
        Self {
            battle_id: s.battle.battle_id.clone(),
            players: s.battle.players.clone(),
            created: s.created,
            durable: s.durable,
        }
    }
}

/// `battle_started`, to the players and every asker. Hidden tests never leave the
/// server: `problem` is the public view.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BattleStarted {
    pub battle_id: String,
    pub players: Vec<String>,
    pub problem: Option<PublicProblem>,
    pub starts_at: u64,
    pub ends_at: u64,
    pub duration_s: u64,
}

/// `end_battle` / `forfeit` / `battle_state` payload (`winner`: only for `end_battle`,
/// optional, one of the players), and the ack body of the first two.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BattleIdReq {
    pub battle_id: String,
    #[serde(default)]
    pub winner: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BattleIdAck {
    pub battle_id: String,
    /// With BATTLE_DURABILITY=replica: did a replica confirm the change in time?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable: Option<bool>,
}

/// `submit {battleId, language, source, key?}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitReq {
    pub battle_id: String,
    pub language: String,
    pub source: String,
    /// Idempotency key: a retried submit with the same key is the same submission.
    #[serde(default)]
    pub key: Option<String>,
}

/// Ack of `submit`, at once (the verdict comes as events).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitAck {
    pub submission_id: String,
    /// The key named an earlier submission: this is that one, not judged again.
    pub duplicate: bool,
    /// With BATTLE_DURABILITY=replica: did a replica confirm the change in time?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable: Option<bool>,
}

/// `submission_update`: one test judged (`test` 0 = the compile step failed).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionUpdate {
    pub battle_id: String,
    pub submission_id: String,
    pub player: String,
    pub test: u32,
    pub of: u32,
    pub verdict: String,
    pub time_ms: u64,
}

/// `submission_result`: the final verdict (never the source).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionResult {
    pub battle_id: String,
    pub submission_id: String,
    pub player: String,
    pub language: String,
    pub verdict: String,
    pub passed: u32,
    pub of: u32,
    pub failed_test: Option<u32>,
    pub time_ms: u64,
    pub submitted_at: u64,
    pub judged_at: Option<u64>,
    /// With BATTLE_DURABILITY=replica: did a replica confirm the change in time?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable: Option<bool>,
}

/// `battle_leaderboard`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Leaderboard<'a> {
    pub battle_id: &'a str,
    pub standings: &'a [Standing],
}

/// `battle_paused`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Paused<'a> {
    pub battle_id: &'a str,
    pub reason: &'a str,
    pub remaining_ms: u64,
}

/// `battle_resumed`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resumed<'a> {
    pub battle_id: &'a str,
    pub ends_at: u64,
    pub remaining_ms: u64,
}

/// `battle_ended`: the final record, and with BATTLE_DURABILITY=replica whether a replica
/// confirmed the end.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BattleEndedEvent<'a> {
    #[serde(flatten)]
    pub battle: &'a super::store::Battle,
    /// With BATTLE_DURABILITY=replica: did a replica confirm the change in time?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable: Option<bool>,
}
