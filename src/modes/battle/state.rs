//! The battle mode's state: what every handler of the mode is handed.

use std::sync::Arc;

use super::durability::Steps;
use super::metrics::BattleMetrics;
use super::settings::Settings;
use crate::services::mode::Context;
use crate::services::problems::Bank;
use crate::services::realtime::events::Event;

/// The battle mode of one instance: a handle, cheap to clone. Every socket's event
/// handlers each hold one, so by value this state cost kilobytes per handler per socket
/// (a heap profile of 1,000 idle clients found ~35 KB per client in the handlers' boxes).
#[derive(Clone)]
pub struct Battles(Arc<Shared>);

impl Battles {
    pub(super) fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

/// Handlers read the fields through the handle.
impl std::ops::Deref for Battles {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What the battle mode holds, behind one `Arc`.
pub struct Shared {
    pub(super) ctx: Context,
    pub(super) settings: Settings,
    pub(super) metrics: BattleMetrics,
    /// How battle steps run (`BATTLE_DURABILITY`).
    pub(super) steps: Steps,
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
