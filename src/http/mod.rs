//! The HTTP routes. One port serves these, Socket.IO (`/socket.io/`) and the UI.

mod health;
mod ui;

use axum::Router;
use axum::routing::get;

use crate::realtime::Io;
use crate::state::AppState;

/// State of the HTTP routes.
#[derive(Clone)]
pub struct HttpState {
    pub app: AppState,
    pub io: Io,
}

/// All routes except the Socket.IO layer (added by `app`).
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/status", get(health::status))
        .route("/metrics", get(health::metrics))
        .merge(ui::routes())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
