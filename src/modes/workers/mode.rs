//! The workers mode as the edge sees it: it serves the shared counter and runs the
//! start-up warm-up.

use std::sync::Arc;

use metrics::Counter;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::settings::Settings;
use super::{counter, warmup};
use crate::services::mode::{Context, Mode, ModeError};

pub const WARMUPS_TOTAL: &str = "arena_warmups_total";

#[derive(Clone)]
pub struct Workers {
    ctx: Context,
    warmups: Counter,
}

pub fn build(ctx: &Context, _: &Settings) -> Result<Arc<dyn Mode>, ModeError> {
    Ok(Arc::new(Workers {
        ctx: ctx.clone(),
        warmups: {
            let m = &ctx.app.metrics;
            m.describe(WARMUPS_TOTAL, "Start-up warm-ups run by this instance (at most one per minute across the fleet).");
            m.counter(WARMUPS_TOTAL)
        },
    }))
}

impl Mode for Workers {
    fn name(&self) -> &'static str {
        "workers"
    }

    fn routes(&self) -> axum::Router {
        counter::routes(self.ctx.app.clone())
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        use utoipa::OpenApi;
        counter::CounterApi::openapi()
    }

    fn spawn(&self, tasks: &TaskTracker, _: &CancellationToken) {
        // Bounded by its own retries; it does not watch shutdown.
        tasks.spawn(warmup::run(self.ctx.app.clone(), self.warmups.clone()));
    }
}
