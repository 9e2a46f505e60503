//! The rooms mode as the edge sees it: built once per instance, it registers the events
//! on every socket and starts the ticker.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::metrics::RoomsMetrics;
use super::settings::Settings;
use super::state::{Rooms, Shared};
use super::{events, tick};
use crate::services::mode::{Context, Mode, ModeError};
use crate::services::realtime::Socket;
use crate::services::realtime::events::Event;

pub fn build(ctx: &Context, settings: &Settings) -> Result<Arc<dyn Mode>, ModeError> {
    let m = &ctx.app.metrics;
    m.declare_codes(&[events::TOO_MANY_ROOMS]);
    Ok(Arc::new(Rooms::new(Shared {
        ctx: ctx.clone(),
        settings: settings.clone(),
        metrics: RoomsMetrics::new(m),
        join: Event::new(m, "join_room"),
        leave: Event::new(m, "leave_room"),
        attack: Event::new(m, "attack"),
        join_gate: Arc::default(),
    })))
}

impl Mode for Rooms {
    fn name(&self) -> &'static str {
        "rooms"
    }

    fn on_connect(&self, s: &Socket) {
        self.join
            .on(s, self, events::membership::<{ events::JOIN }>);
        self.leave
            .on(s, self, events::membership::<{ events::LEAVE }>);
        self.attack.on(s, self, events::attack);
    }

    fn spawn(&self, tasks: &TaskTracker, shutdown: &CancellationToken) {
        tasks.spawn(tick::run(self.clone(), shutdown.clone()));
    }
}
