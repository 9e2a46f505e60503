//! The battle mode's state: what every handler of the mode is handed.

use std::sync::Arc;

use super::metrics::BattleMetrics;
use super::settings::Settings;
use crate::services::mode::Context;
use crate::services::problems::Bank;
use crate::services::realtime::events::Event;

/// The battle mode of one instance.
#[derive(Clone)]
pub struct Battles {
    pub(super) ctx: Context,
    pub(super) settings: Settings,
    pub(super) metrics: BattleMetrics,
    /// The problem bank battles are fought on (embedded in the binary).
    pub(super) bank: Arc<Bank>,
    pub(super) start: Event,
    pub(super) end: Event,
    pub(super) submit: Event,
    pub(super) forfeit: Event,
    pub(super) state: Event,
    pub(super) queue: Event,
    pub(super) leave_queue: Event,
}
