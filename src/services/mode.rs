//! The contract between the edge and a mode. A mode is a folder under `modes/` that owns
//! its events, routes, scripts, keys, metrics, settings and background tasks; the edge
//! only calls these methods.

use futures_util::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::AppState;
use super::realtime::{Io, Socket};

/// What a mode is built from: the instance's shared state and the Socket.IO handle.
#[derive(Clone)]
pub struct Context {
    pub app: AppState,
    pub io: Io,
}

/// Why a mode could not be built.
#[derive(Debug, thiserror::Error)]
#[error("mode {mode}: {message}")]
pub struct ModeError {
    pub mode: &'static str,
    pub message: String,
}

/// A game mode as the edge sees it. Every method has a do-nothing default.
pub trait Mode: Send + Sync + 'static {
    /// The mode's name, for logs.
    fn name(&self) -> &'static str;

    /// A socket connected (its player is `realtime::player_of(s)`): register this mode's
    /// events on it and set up per-socket state.
    fn on_connect(&self, _s: &Socket) {}

    /// A socket is going away (its rooms are still joined): per-socket clean-up, or
    /// noting that a player left.
    fn on_disconnect(&self, _s: &Socket) {}

    /// This mode's HTTP routes, state already applied; merged into the one router.
    fn routes(&self) -> axum::Router {
        axum::Router::new()
    }

    /// This mode's operator routes (under `/api/admin/`), state already applied; merged
    /// into the admin routes, so they get the admin guard and go to the internal port
    /// when there is one. The admin view reads them.
    fn admin_routes(&self) -> axum::Router {
        axum::Router::new()
    }

    /// The OpenAPI description of this mode's routes and admin routes (`utoipa`), merged
    /// into the document at `/api/openapi.json`; a route missing here fails the test
    /// that compares the document with the router.
    fn openapi(&self) -> utoipa::openapi::OpenApi {
        utoipa::openapi::OpenApiBuilder::new().build()
    }

    /// Start this mode's background tasks on `tasks`; each stops when `shutdown` fires.
    fn spawn(&self, _tasks: &TaskTracker, _shutdown: &CancellationToken) {}

    /// Refresh gauges that are read from Redis, just before `/metrics` renders.
    fn refresh_metrics(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
