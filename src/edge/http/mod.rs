//! The HTTP router: one port serves these routes, Socket.IO (`/socket.io/`) and the UI.
//! Each mode's routes come from its `routes()`; this file is the twin of `edge::socket`.

mod health;
mod ui;

pub use health::HttpState;

use axum::Router;

/// All routes except the Socket.IO layer (added by `edge::app`).
pub fn router(state: HttpState) -> Router {
    let mut router = Router::new()
        .merge(health::routes(state.clone()))
        .merge(ui::routes());
    for mode in state.modes.iter() {
        router = router.merge(mode.routes());
    }
    router.layer(tower_http::trace::TraceLayer::new_for_http())
}
