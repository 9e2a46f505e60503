//! The treasure hunt's state: what every handler and task of the mode is handed.

use std::sync::Arc;

use super::durability::Durable;
use super::metrics::HuntMetrics;
use super::settings::Settings;
use crate::services::mode::Context;
use crate::services::realtime::events::Event;

/// The treasure hunt of one instance: a handle, cheap to clone. Every socket's event
/// handlers each hold one, so by value this state cost kilobytes per handler per socket
/// (a heap profile of 1,000 idle clients found ~35 KB per client in the handlers' boxes).
#[derive(Clone)]
pub struct Hunt(Arc<Shared>);

impl Hunt {
    pub(super) fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

/// Handlers read the fields through the handle.
impl std::ops::Deref for Hunt {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What the treasure hunt holds, behind one `Arc`.
pub struct Shared {
    pub(super) ctx: Context,
    pub(super) settings: Settings,
    pub(super) metrics: HuntMetrics,
    pub(super) claim: Event,
    /// `CLAIM_DURABILITY=replica`'s connections and bound; `None` for `none`.
    pub(super) durable: Option<Durable>,
}
