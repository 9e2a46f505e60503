//! A battle as a client sees it (`battle_state`, `GET /api/battles/{id}` while Redis has
//! it): its clock state, the public problem, the standings and every submission's
//! verdict — never anyone's source.

use serde::Serialize;

use super::standing::Standing;
use super::error::BattleError;
use super::state::Battles;
use super::store::{self, Battle, redis_now};
use super::submission::{self, SubmissionRecord, TestVerdict};
use crate::services::problems::PublicProblem;

/// A submission without its source.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionView {
    pub submission_id: String,
    pub player: String,
    pub language: String,
    /// `judging` until the verdict.
    pub verdict: String,
    pub passed: u32,
    pub of: u32,
    pub failed_test: Option<u32>,
    pub time_ms: u64,
    pub tests: Vec<TestVerdict>,
    pub submitted_at: u64,
    pub judged_at: Option<u64>,
}

impl From<&SubmissionRecord> for SubmissionView {
    fn from(s: &SubmissionRecord) -> Self {
        Self {
            submission_id: s.submission_id.clone(),
            player: s.player.clone(),
            language: s.language.clone(),
            verdict: s.verdict.clone(),
            passed: s.passed,
            of: s.of,
            failed_test: s.failed_test,
            time_ms: s.time_ms,
            tests: s.tests.clone(),
            submitted_at: s.submitted_at,
            judged_at: s.judged_at,
        }
    }
}

/// The whole state of a battle.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BattleView {
    pub battle_id: String,
    pub players: Vec<String>,
    /// `battle_state`: the clock's phase (`countdown`, `running`, `paused`, `ended`).
    /// `GET /api/battles/{id}`: `active` or `ended`, like every battle record there.
    pub state: &'static str,
    /// The clock's phase in both.
    pub phase: &'static str,
    pub problem: Option<PublicProblem>,
    pub starts_at: u64,
    pub ends_at: u64,
    pub duration_s: u64,
    /// Clock time left (frozen while paused).
    pub remaining_ms: u64,
    pub paused_at: Option<u64>,
    pub pause_reason: Option<String>,
    pub winner: Option<String>,
    pub reason: Option<String>,
    pub forfeited: Vec<String>,
    pub standings: Vec<Standing>,
    pub submissions: Vec<SubmissionView>,
    /// Redis's clock when this was read: clients time the countdown against it.
    pub server_now: u64,
    pub created_at: u64,
    pub ended_at: Option<u64>,
    /// The instance whose handler created it.
    pub created_by: String,
}

impl BattleView {
    /// As the HTTP API answers it: `state` is the record's (`active` / `ended`).
    pub fn for_http(mut self) -> Self {
        self.state = if self.phase == "ended" { "ended" } else { "active" };
        self
    }
}

/// The battle's view: live from Redis, or from the records once it is gone from there.
pub async fn current(b: &Battles, id: &str) -> Result<BattleView, BattleError> {
    let battle = store::get(b, id).await?;
    let mut conn = b.ctx.app.redis.clone();
    let subs = match store::keys_of(id, b.settings.battle_outbox_partitions) {
        Ok(keys) => submission::all(&mut conn, &keys).await?,
        Err(_) => Vec::new(),
    };
    let now = redis_now(&mut conn).await?;
    Ok(build(b, battle, subs, now))
}

/// Where a battle's clock stands at `now` (Redis clock ms).
pub fn clock_state(battle: &Battle, now: u64) -> (&'static str, u64) {
    if battle.state != "active" {
        return ("ended", 0);
    }
    if let Some(at) = battle.paused_at {
        return ("paused", battle.ends_at.saturating_sub(at.max(battle.starts_at)));
    }
    let remaining = battle.ends_at.saturating_sub(now.max(battle.starts_at));
    if now < battle.starts_at {
        ("countdown", remaining)
    } else {
        ("running", remaining)
    }
}

pub fn build(b: &Battles, battle: Battle, mut subs: Vec<SubmissionRecord>, now: u64) -> BattleView {
    let (state, remaining_ms) = clock_state(&battle, now);
    subs.sort_by(|x, y| (x.submitted_at, &x.submission_id).cmp(&(y.submitted_at, &y.submission_id)));
    let standings = if battle.standings.is_empty() {
        // Before the first verdict: everyone level.
        battle
            .players
            .iter()
            .map(|p| Standing {
                player: p.clone(),
                rank: 1,
                forfeited: battle.forfeited.contains(p),
                ..Standing::default()
            })
            .collect()
    } else {
        battle.standings.clone()
    };
    BattleView {
        problem: b.bank.get(&battle.problem_id).map(|p| p.public()),
        state,
        phase: state,
        remaining_ms,
        standings,
        submissions: subs.iter().map(SubmissionView::from).collect(),
        server_now: now,
        battle_id: battle.battle_id,
        players: battle.players,
        starts_at: battle.starts_at,
        ends_at: battle.ends_at,
        duration_s: battle.duration_s,
        paused_at: battle.paused_at,
        pause_reason: battle.pause_reason,
        winner: battle.winner,
        reason: battle.reason,
        forfeited: battle.forfeited,
        created_at: battle.created_at,
        ended_at: battle.ended_at,
        created_by: battle.created_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_states() {
        let mut b = Battle {
            state: "active".into(),
            starts_at: 1_000,
            ends_at: 61_000,
            ..Battle::default()
        };
        assert_eq!(clock_state(&b, 500), ("countdown", 60_000));
        assert_eq!(clock_state(&b, 11_000), ("running", 50_000));
        assert_eq!(clock_state(&b, 70_000), ("running", 0));
        b.paused_at = Some(21_000);
        assert_eq!(clock_state(&b, 50_000), ("paused", 40_000));
        b.state = "ended".into();
        assert_eq!(clock_state(&b, 50_000), ("ended", 0));
    }
}
