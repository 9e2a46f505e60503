//! The battle mode as the edge sees it: built once per instance, it puts every socket in
//! its player's room, registers `start_battle` / `end_battle` and matchmaking's `queue_battle` / `leave_queue`, serves `/api/battles` and
//! refreshes `arena_active_battles` before a scrape; its task is the outbox consumer.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::durability::Steps;
use super::metrics::BattleMetrics;
use super::outbox::Outbox;
use super::rooms::player_room;
use super::settings::Settings;
use super::state::{Battles, Shared};
use super::{admin, clock, events, http, matchmaking, presence, store};
use crate::services::mode::{Context, Mode, ModeError};
use crate::services::problems::Bank;
use crate::services::realtime::events::Event;
use crate::services::realtime::{Socket, player_of};

pub fn build(ctx: &Context, settings: &Settings) -> Result<Arc<dyn Mode>, ModeError> {
    let m = &ctx.app.metrics;
    m.declare_codes(&[crate::base::error::ErrorCode::NOT_FOUND]);
    Ok(Arc::new(Battles::new(Shared {
        ctx: ctx.clone(),
        settings: settings.clone(),
        metrics: BattleMetrics::new(m),
        steps: Steps::new(&ctx.app, settings).map_err(|e| ModeError {
            mode: "battle",
            message: format!("battle durability connections: {e}"),
        })?,
        bank: Arc::new(Bank::embedded().map_err(|e| ModeError {
            mode: "battle",
            message: format!("the problem bank does not load: {e}"),
        })?),
        start: Event::new(m, "start_battle"),
        end: Event::new(m, "end_battle"),
        submit: Event::new(m, "submit"),
        forfeit: Event::new(m, "forfeit"),
        state: Event::new(m, "battle_state"),
        queue: Event::new(m, "queue_battle"),
        leave_queue: Event::new(m, "leave_queue"),
    })))
}

impl Mode for Battles {
    fn name(&self) -> &'static str {
        "battle"
    }

    fn on_connect(&self, s: &Socket) {
        // A personal room, so battles can pull a player's sockets in from any instance.
        let player = player_of(s).as_str().to_string();
        s.join(player_room(&player));
        self.start.on(s, self, events::start_battle);
        self.end.on(s, self, events::end_battle);
        self.submit.on(s, self, events::submit);
        self.forfeit.on(s, self, events::forfeit);
        self.state.on(s, self, events::battle_state);
        self.queue.on(s, self, matchmaking::queue_battle);
        self.leave_queue.on(s, self, matchmaking::leave_queue);
        let (mut conn, instance) = (self.ctx.app.redis.clone(), self.ctx.app.instance_id.clone());
        tokio::spawn(async move {
            if let Err(e) = presence::connected(&mut conn, &instance, &player).await {
                tracing::warn!(error = %e, "presence not counted up");
            }
        });
    }

    fn on_disconnect(&self, s: &Socket) {
        presence::left(self, s);
    }

    fn routes(&self) -> axum::Router {
        http::routes(self.clone())
    }

    fn admin_routes(&self) -> axum::Router {
        admin::routes(self.clone())
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        use utoipa::OpenApi;
        let mut doc = http::HttpApi::openapi();
        doc.merge(admin::AdminApi::openapi());
        doc
    }

    fn spawn(&self, tasks: &TaskTracker, shutdown: &CancellationToken) {
        match Outbox::new(self.ctx.app.clone(), self.settings.clone(), self.metrics.clone()) {
            Ok(outbox) => {
                tasks.spawn(outbox.run(shutdown.clone()));
            }
            // Only a REDIS_URL that does not parse, which validation refused at start.
            Err(e) => tracing::error!(error = %e, "battle outbox consumer not started"),
        }
        tasks.spawn(clock::deadlines(self.clone(), shutdown.clone()));
        tasks.spawn(clock::pauses(self.clone(), shutdown.clone()));
        tasks.spawn(clock::recover(self.clone(), shutdown.clone()));
    }

    fn refresh_metrics(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Ok(n) = store::active_count(&self.ctx.app.redis).await {
                self.metrics.active.set(n as f64);
            }
        })
    }
}
