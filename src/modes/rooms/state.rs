//! The rooms mode's state: what every handler and task of the mode is handed.

use std::sync::{Arc, Mutex};

use super::metrics::RoomsMetrics;
use super::settings::Settings;
use crate::services::mode::Context;
use crate::services::realtime::events::Event;

/// The rooms mode of one instance.
#[derive(Clone)]
pub struct Rooms {
    pub(super) ctx: Context,
    pub(super) settings: Settings,
    pub(super) metrics: RoomsMetrics,
    pub(super) join: Event,
    pub(super) leave: Event,
    pub(super) attack: Event,
    /// Held while a `join_room` counts a socket's rooms and joins (see `events`).
    pub(super) join_gate: Arc<Mutex<()>>,
}
