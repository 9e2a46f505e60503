//! A battle as the SQL records hold it once it ended: the battle row, its final
//! standings and its judged submissions with their per-test verdicts. A submission's
//! source is shown only to its author (the caller named by a valid bearer token); to
//! everyone else it is left out, never blanked.

use serde::Serialize;
use serde_json::Value;

use crate::services::store::records::BattleState;
use crate::services::store::results::{StandingRecord, SubmissionRecord};
use crate::services::store::{Store, StoreError};

/// `GET /api/battles/{id}` for an ended battle, from the records.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordView {
    pub battle_id: String,
    pub players: Vec<String>,
    /// `ended`.
    pub state: String,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub winner: Option<String>,
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<i64>,
    /// An ended battle has no time left.
    pub remaining_ms: i64,
    pub standings: Vec<StandingView>,
    pub submissions: Vec<SubmissionView>,
}

/// A final standing, in the wire shape of `battle_ended`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StandingView {
    pub player: String,
    pub rank: i64,
    pub solved: i64,
    pub penalty_ms: i64,
    pub attempts: i64,
    pub solved_at_ms: Option<i64>,
}

/// A judged submission; `source` only for its author.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionView {
    pub submission_id: String,
    pub player: String,
    pub language: String,
    pub verdict: String,
    pub passed: i64,
    pub of: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_test: Option<i64>,
    /// `[{test, verdict, timeMs, memoryKb}]` as the judge reported them.
    pub tests: Value,
    pub submitted_at: i64,
    pub judged_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl From<StandingRecord> for StandingView {
    fn from(s: StandingRecord) -> Self {
        Self {
            player: s.player,
            rank: s.rank,
            solved: s.solved,
            penalty_ms: s.penalty_ms,
            attempts: s.attempts,
            solved_at_ms: s.solved_at_ms,
        }
    }
}

impl SubmissionView {
    /// The view `caller` (None: anonymous) may see of `s`.
    fn of(s: SubmissionRecord, caller: Option<&str>) -> Result<Self, StoreError> {
        let tests: Value = serde_json::from_str(&s.tests)
            .map_err(|e| StoreError::Corrupt(format!("tests of submission {}: {e}", s.id)))?;
        let source = (caller == Some(s.player.as_str())).then_some(s.source);
        Ok(Self {
            submission_id: s.id,
            player: s.player,
            language: s.language,
            verdict: s.verdict,
            passed: s.passed,
            of: s.of_tests,
            failed_test: s.failed_test,
            tests,
            submitted_at: s.submitted_at,
            judged_at: s.judged_at,
            source,
        })
    }
}

/// Battle `id` from the records if they have it ended (`None`: unknown to them, or not
/// ended yet there), as `caller` may see it.
pub async fn ended(
    store: &Store,
    id: &str,
    caller: Option<&str>,
) -> Result<Option<RecordView>, StoreError> {
    let Some(record) = store.battle(id).await? else {
        return Ok(None);
    };
    if record.state != BattleState::Ended {
        return Ok(None);
    }
    let details = store.battle_details(id).await?;
    let standings = store.standings_of(id).await?;
    let submissions = store
        .submissions_of(id)
        .await?
        .into_iter()
        .map(|s| SubmissionView::of(s, caller))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(RecordView {
        battle_id: record.id,
        players: record.players,
        state: record.state.as_str().to_string(),
        created_at: record.created_at,
        ended_at: record.ended_at,
        winner: record.winner,
        created_by: record.created_by,
        problem_id: details.problem_id,
        reason: details.reason,
        starts_at: details.starts_at,
        ends_at: details.ends_at,
        remaining_ms: 0,
        standings: standings.into_iter().map(StandingView::from).collect(),
        submissions,
    }))
}
