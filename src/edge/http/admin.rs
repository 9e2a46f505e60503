//! Admin routes (the `admin` role in token mode; open in dev mode): the fleet of live
//! instances with totals. Served on the internal port when there is one.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router, middleware};
use serde::Serialize;

use super::health::HttpState;
use crate::base::error::{AckError, ApiError};
use crate::services::auth::guard;
use crate::services::fleet::{self, Member};

pub fn routes(state: HttpState) -> Router {
    let auth = state.app.auth.clone();
    Router::new()
        .route("/api/admin/instances", get(instances))
        .route_layer(middleware::from_fn_with_state(auth, guard::admin))
        .with_state(state)
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
