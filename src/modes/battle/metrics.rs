//! The battle mode's metrics.

use metrics::{Counter, Gauge, Histogram};

use crate::services::metrics::Metrics;

pub const BATTLES_CREATED_TOTAL: &str = "arena_battles_created_total";
/// Repeat starts of an active battle, and starts that lost a race for the pairing.
pub const BATTLE_START_CONFLICTS_TOTAL: &str = "arena_battle_start_conflicts_total";
/// Global (the same on every instance): take the max across instances, not the sum.
pub const ACTIVE_BATTLES: &str = "arena_active_battles";
pub const OUTBOX_APPLIED_TOTAL: &str = "arena_outbox_applied_total";
pub const OUTBOX_DUPLICATES_TOTAL: &str = "arena_outbox_duplicates_total";
pub const OUTBOX_FAILURES_TOTAL: &str = "arena_outbox_failures_total";
pub const OUTBOX_DEAD_LETTERS_TOTAL: &str = "arena_outbox_dead_letters_total";
pub const OUTBOX_LAG_SECONDS: &str = "arena_outbox_lag_seconds";
pub const OUTBOX_BACKLOG: &str = "arena_outbox_backlog";
pub const SUBMISSIONS_TOTAL: &str = "arena_battle_submissions_total";
pub const SUBMIT_TO_VERDICT_SECONDS: &str = "arena_battle_submit_to_verdict_seconds";
pub const SUBMIT_TO_FIRST_UPDATE_SECONDS: &str = "arena_battle_submit_to_first_update_seconds";
pub const PAUSED_BATTLES: &str = "arena_paused_battles";
pub const BATTLES_ENDED_TOTAL: &str = "arena_battles_ended_total";

/// Verdict labels of `arena_battle_submissions_total` (a closed set).
const VERDICTS: [&str; 8] = ["AC", "WA", "TLE", "MLE", "RE", "CE", "OLE", "IE"];
pub const MATCHMAKING_WAIT_SECONDS: &str = "arena_matchmaking_wait_seconds";
/// Per step (`step` label: `durability::Step::name`).
pub const STEPS_NOT_DURABLE_TOTAL: &str = "arena_battle_steps_not_durable_total";

#[derive(Clone)]
pub struct BattleMetrics {
    pub created: Counter,
    pub start_conflicts: Counter,
    pub active: Gauge,
    pub outbox_applied: Counter,
    pub outbox_duplicates: Counter,
    pub outbox_failures: Counter,
    pub outbox_dead_letters: Counter,
    pub outbox_lag: Histogram,
    pub outbox_backlog: Gauge,
    pub submissions: Vec<(&'static str, Counter)>,
    pub submit_to_verdict: Histogram,
    pub submit_to_first_update: Histogram,
    pub paused: Gauge,
    pub coding_ended: Counter,
    pub matchmaking_wait: Histogram,
}

impl BattleMetrics {
    pub fn new(m: &Metrics) -> Self {
        m.describe(BATTLES_CREATED_TOTAL, "Battles created by this instance.");
        m.describe(BATTLE_START_CONFLICTS_TOTAL, "Battle starts that found the pairing's battle already active or lost the race for it.");
        m.describe(ACTIVE_BATTLES, "Active battles across the fleet (the same on every instance: take the max, not the sum).");
        m.describe(OUTBOX_APPLIED_TOTAL, "Battle outbox events this instance applied to the SQL records.");
        m.describe(OUTBOX_DUPLICATES_TOTAL, "Battle outbox events delivered again after they were applied (a consumer died before acknowledging); skipped.");
        m.describe(OUTBOX_FAILURES_TOTAL, "Attempts to apply battle outbox entries that failed (database unreachable or the entry refused); the entries stay pending.");
        m.describe(OUTBOX_DEAD_LETTERS_TOTAL, "Battle outbox entries moved to a dead-letter stream after too many failed deliveries.");
        m.describe(OUTBOX_LAG_SECONDS, "Seconds from a battle change in Redis to its SQL commit, per applied event.");
        m.describe(OUTBOX_BACKLOG, "Battle outbox entries not yet applied, over all partitions (pending plus undelivered; the same on every instance).");
        m.describe(SUBMISSIONS_TOTAL, "Battle submissions judged by this instance, by final verdict.");
        m.describe(SUBMIT_TO_VERDICT_SECONDS, "Seconds from a battle submit to its final verdict (queue wait, compile and every test).");
        m.describe(SUBMIT_TO_FIRST_UPDATE_SECONDS, "Seconds from a battle submit to its first per-test verdict.");
        m.describe(PAUSED_BATTLES, "Battles paused because the judge is unavailable, as this instance last counted them (the same on every instance: take the max).");
        m.describe(BATTLES_ENDED_TOTAL, "Battle ends this instance announced (a win, time, forfeit or an end by a player).");
        m.describe(MATCHMAKING_WAIT_SECONDS, "Seconds a player waited from queue_battle to being paired (0 for the caller whose call made the pair).");
        m.describe(STEPS_NOT_DURABLE_TOTAL, "Battle steps (by Lua step) told to clients without a replica's confirmation within BATTLE_WAIT_MS (BATTLE_DURABILITY=replica).");
        Self {
            submissions: VERDICTS
                .iter()
                .map(|v| (*v, m.counter_with(SUBMISSIONS_TOTAL, "verdict", v)))
                .collect(),
            submit_to_verdict: m.histogram(SUBMIT_TO_VERDICT_SECONDS),
            submit_to_first_update: m.histogram(SUBMIT_TO_FIRST_UPDATE_SECONDS),
            paused: m.gauge(PAUSED_BATTLES),
            coding_ended: m.counter(BATTLES_ENDED_TOTAL),
            created: m.counter(BATTLES_CREATED_TOTAL),
            start_conflicts: m.counter(BATTLE_START_CONFLICTS_TOTAL),
            active: m.gauge(ACTIVE_BATTLES),
            outbox_applied: m.counter(OUTBOX_APPLIED_TOTAL),
            outbox_duplicates: m.counter(OUTBOX_DUPLICATES_TOTAL),
            outbox_failures: m.counter(OUTBOX_FAILURES_TOTAL),
            outbox_dead_letters: m.counter(OUTBOX_DEAD_LETTERS_TOTAL),
            outbox_lag: m.histogram(OUTBOX_LAG_SECONDS),
            outbox_backlog: m.gauge(OUTBOX_BACKLOG),
            matchmaking_wait: m.histogram(MATCHMAKING_WAIT_SECONDS),
        }
    }
}

impl BattleMetrics {
    /// Count one final verdict (an unknown one as IE: the set of labels stays closed).
    pub fn verdict(&self, verdict: &str) {
        let found = self.submissions.iter().find(|(v, _)| *v == verdict);
        if let Some((_, c)) = found.or_else(|| self.submissions.iter().find(|(v, _)| *v == "IE")) {
            c.increment(1);
        }
    }
}
