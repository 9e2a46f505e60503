//! Admin routes (the `admin` role in token mode; open in dev mode): the fleet of live
//! instances with totals, the fleet's rooms and sockets (`admin_sockets`), each mode's
//! operator routes (`Mode::admin_routes`), and the admin page (`/admin`, itself open:
//! it asks for a token and sends it with every call). Served on the internal port when
//! there is one.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router, middleware};
use serde::Serialize;

use super::admin_sockets;
use super::health::HttpState;
use super::ui;
use crate::base::error::{AckError, ApiError};
use crate::services::auth::guard;
use crate::services::fleet::{self, Member};

pub fn routes(state: HttpState) -> Router {
    let auth = state.app.auth.clone();
    let mut modes = Router::new();
    for mode in state.modes.iter() {
        modes = modes.merge(mode.admin_routes());
    }
    Router::new()
        .route("/api/admin/instances", get(instances))
        .with_state(state.clone())
        .merge(admin_sockets::routes(state))
        .merge(modes)
        .route_layer(middleware::from_fn_with_state(auth, guard::admin))
        .merge(ui::admin_page())
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Fleet {
    instances: Vec<Member>,
    totals: Totals,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Totals {
    instances: usize,
    clients: i64,
    rss_bytes: u64,
    cpu_seconds: f64,
}

/// `GET /api/admin/instances`: every instance that beat within the silence bound.
async fn instances(State(s): State<HttpState>) -> Result<Json<Fleet>, ApiError> {
    let mut conn = s.app.redis.clone();
    let instances = fleet::list(&mut conn).await.map_err(|e| {
        tracing::warn!(error = %e, "fleet list failed");
        ApiError::from(AckError::unavailable())
    })?;
    let mut totals = Totals {
        instances: instances.len(),
        ..Totals::default()
    };
    for m in &instances {
        totals.clients += m.clients;
        totals.rss_bytes += m.rss_bytes;
        totals.cpu_seconds += m.cpu_seconds;
    }
    Ok(Json(Fleet { instances, totals }))
}
