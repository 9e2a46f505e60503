//! The treasure hunt's state: what every handler and task of the mode is handed.

use super::metrics::HuntMetrics;
use super::settings::Settings;
use crate::services::mode::Context;
use crate::services::realtime::events::Event;

/// The treasure hunt of one instance.
#[derive(Clone)]
pub struct Hunt {
    pub(super) ctx: Context,
    pub(super) settings: Settings,
    pub(super) metrics: HuntMetrics,
    pub(super) claim: Event,
}
