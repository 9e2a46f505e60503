//! The treasure hunt as the edge sees it: built once per instance, it registers `claim`
//! on every socket, serves its routes and starts the map generator, the leaderboard
//! broadcaster and the projection.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::metrics::HuntMetrics;
use super::settings::Settings;
use super::state::{Hunt, Shared};
use super::durability::Durable;
use super::{admin, board, broadcast, claim, events, http, map, projection};
use crate::services::mode::{Context, Mode, ModeError};
use crate::services::realtime::Socket;
use crate::services::realtime::events::Event;

pub fn build(ctx: &Context, settings: &Settings) -> Result<Arc<dyn Mode>, ModeError> {
    let m = &ctx.app.metrics;
    m.declare_codes(&[
        claim::TILE_TAKEN,
        claim::MAP_EXPIRED,
        claim::INVALID_TILE,
        claim::UNKNOWN_MAP,
    ]);
    let durable = Durable::of(&ctx.app, settings).map_err(|e| ModeError {
        mode: "hunt",
        message: format!("claim durability connections: {e}"),
    })?;
    Ok(Arc::new(Hunt::new(Shared {
        ctx: ctx.clone(),
        settings: settings.clone(),
        metrics: HuntMetrics::new(m),
        claim: Event::new(m, "claim"),
        durable,
    })))
}

impl Mode for Hunt {
    fn name(&self) -> &'static str {
        "hunt"
    }

    fn on_connect(&self, s: &Socket) {
        self.claim.on(s, self, events::claim);
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
        tasks.spawn(map::run(self.clone(), shutdown.clone()));
        tasks.spawn(board::run(self.clone(), shutdown.clone()));
        broadcast::spawn(self, tasks, shutdown);
        // One projection reader per partition group.
        match projection::Projection::for_instance(&self.ctx.app, &self.settings, &self.metrics) {
            Ok(readers) => {
                for r in readers {
                    tasks.spawn(r.run(shutdown.clone()));
                }
            }
            Err(e) => tracing::error!(error = %e, "hunt projection not started"),
        }
    }
}
