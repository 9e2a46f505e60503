//! The HTTP routes. One port serves these, Socket.IO (`/socket.io/`) and the UI.

mod api;
pub mod client;
mod health;
mod hunt;
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
        .route("/api/battles", axum::routing::post(api::start_battle))
        .route("/api/battles/{id}", get(api::get_battle))
        .route("/api/shared/increment", axum::routing::post(api::increment))
        .route("/api/hunt/leaderboard", get(hunt::leaderboard))
        .route("/api/hunt/maps/{id}", get(hunt::map))
        .merge(ui::routes())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
