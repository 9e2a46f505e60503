//! The rooms mode's state: what every handler and task of the mode is handed.

use std::sync::{Arc, Mutex};

use super::metrics::RoomsMetrics;
use super::settings::Settings;
use crate::services::mode::Context;
use crate::services::realtime::events::Event;
use crate::services::realtime::room_bus::RoomBus;

/// The rooms mode of one instance: a handle, cheap to clone. Every socket's event
/// handlers each hold one, so by value this state cost kilobytes per handler per socket
/// (a heap profile of 1,000 idle clients found ~35 KB per client in the handlers' boxes).
#[derive(Clone)]
pub struct Rooms(Arc<Shared>);

impl Rooms {
    pub(super) fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

/// Handlers read the fields through the handle.
impl std::ops::Deref for Rooms {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What the rooms mode holds, behind one `Arc`.
pub struct Shared {
    pub(super) ctx: Context,
    pub(super) settings: Settings,
    pub(super) metrics: RoomsMetrics,
    pub(super) join: Event,
    pub(super) leave: Event,
    pub(super) attack: Event,
    /// Attacks travel on it (per-room shard channels with history); joins go through
    /// it so a socket's room count and its join are one step.
    pub(super) bus: RoomBus,
    /// Held while a `join_room` with `ROOM_FANOUT=namespace` counts a socket's rooms and
    /// joins.
    pub(super) join_gate: Arc<Mutex<()>>,
}
