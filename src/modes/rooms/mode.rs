//! The rooms mode as the edge sees it: built once per instance, it registers the events
//! on every socket and starts the ticker.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::metrics::RoomsMetrics;
use super::settings::Settings;
use super::state::{Rooms, Shared};
use super::{events, tick};
use crate::services::mode::{Context, Mode, ModeError};
use crate::services::realtime::Socket;
use crate::services::realtime::events::Event;
use crate::services::realtime::room_bus::{BusConfig, RoomBus};
use crate::services::realtime::room_history::HistoryLimits;

pub fn build(ctx: &Context, settings: &Settings) -> Result<Arc<dyn Mode>, ModeError> {
    let m = &ctx.app.metrics;
    m.declare_codes(&[events::TOO_MANY_ROOMS]);
    let app = &ctx.app;
    let bus = RoomBus::new(
        ctx.io.clone(),
        app.redis.clone(),
        app.redis_endpoint.clone(),
        app.instance_id.clone(),
        m,
        BusConfig {
            partitions: settings.room_partitions,
            history: HistoryLimits {
                len: settings.room_history_len,
                ttl_s: settings.room_history_ttl_s,
            },
            timeout: Duration::from_millis(app.settings.redis_timeout_ms),
            queue: app.settings.pubsub_buffer,
            write_delay: Duration::from_millis(settings.room_write_delay_ms),
        },
    );
    Ok(Arc::new(Rooms::new(Shared {
        ctx: ctx.clone(),
        settings: settings.clone(),
        metrics: RoomsMetrics::new(m),
        join: Event::new(m, "join_room"),
        leave: Event::new(m, "leave_room"),
        attack: Event::new(m, "attack"),
        bus,
        join_gate: Arc::default(),
    })))
}

impl Mode for Rooms {
    fn name(&self) -> &'static str {
        "rooms"
    }

    fn on_connect(&self, s: &Socket) {
        self.join.on(s, self, events::join);
        self.leave.on(s, self, events::leave);
        self.attack.on(s, self, events::attack);
    }

    fn on_disconnect(&self, s: &Socket) {
        let rooms = s.rooms().iter().map(|r| r.to_string()).collect();
        let (bus, sid) = (self.bus.clone(), s.id);
        tokio::spawn(async move { bus.gone(sid, rooms).await });
    }

    fn spawn(&self, tasks: &TaskTracker, shutdown: &CancellationToken) {
        self.bus.spawn(tasks, shutdown);
        tasks.spawn(tick::run(self.clone(), shutdown.clone()));
    }
}
