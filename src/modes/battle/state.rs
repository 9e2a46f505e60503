//! The battle mode's state: what every handler of the mode is handed.

use super::metrics::BattleMetrics;
use super::settings::Settings;
use crate::services::mode::Context;
use crate::services::realtime::events::Event;

/// The battle mode of one instance.
#[derive(Clone)]
pub struct Battles {
    pub(super) ctx: Context,
    pub(super) settings: Settings,
    pub(super) metrics: BattleMetrics,
    pub(super) start: Event,
    pub(super) end: Event,
}
