//! The battle mode's metrics.

use metrics::{Counter, Gauge};

use crate::services::metrics::Metrics;

pub const BATTLES_CREATED_TOTAL: &str = "arena_battles_created_total";
/// Repeat starts of an active battle, and starts that lost a race for the pairing.
pub const BATTLE_START_CONFLICTS_TOTAL: &str = "arena_battle_start_conflicts_total";
/// Global (the same on every instance): take the max across instances, not the sum.
pub const ACTIVE_BATTLES: &str = "arena_active_battles";

#[derive(Clone)]
pub struct BattleMetrics {
    pub created: Counter,
    pub start_conflicts: Counter,
    pub active: Gauge,
}

impl BattleMetrics {
    pub fn new(m: &Metrics) -> Self {
        m.describe(BATTLES_CREATED_TOTAL, "Battles created by this instance.");
        m.describe(BATTLE_START_CONFLICTS_TOTAL, "Battle starts that found the pairing's battle already active or lost the race for it.");
        m.describe(ACTIVE_BATTLES, "Active battles across the fleet (the same on every instance: take the max, not the sum).");
        Self {
            created: m.counter(BATTLES_CREATED_TOTAL),
            start_conflicts: m.counter(BATTLE_START_CONFLICTS_TOTAL),
            active: m.gauge(ACTIVE_BATTLES),
        }
    }
}
