//! The rooms mode's metrics.

use metrics::Counter;

use crate::services::metrics::Metrics;

pub const ATTACKS_TOTAL: &str = "arena_attacks_total";
pub const TICKS_ACQUIRED_TOTAL: &str = "arena_ticks_acquired_total";
pub const TICKS_SKIPPED_TOTAL: &str = "arena_ticks_skipped_total";
pub const TICK_ERRORS_TOTAL: &str = "arena_tick_errors_total";

#[derive(Clone)]
pub struct RoomsMetrics {
    pub attacks: Counter,
    pub ticks_acquired: Counter,
    pub ticks_skipped: Counter,
    pub tick_errors: Counter,
}

impl RoomsMetrics {
    pub fn new(m: &Metrics) -> Self {
        m.describe(ATTACKS_TOTAL, "Attacks accepted and broadcast by this instance.");
        m.describe(TICKS_ACQUIRED_TOTAL, "Tick intervals this instance won and broadcast.");
        m.describe(TICKS_SKIPPED_TOTAL, "Tick intervals another instance won (or that passed while this one was late).");
        m.describe(TICK_ERRORS_TOTAL, "Tick races that failed because Redis did not answer.");
        Self {
            attacks: m.counter(ATTACKS_TOTAL),
            ticks_acquired: m.counter(TICKS_ACQUIRED_TOTAL),
            ticks_skipped: m.counter(TICKS_SKIPPED_TOTAL),
            tick_errors: m.counter(TICK_ERRORS_TOTAL),
        }
    }
}
