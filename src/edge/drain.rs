//! Drain on deploy: on SIGTERM the instance first tells load balancers (`/ready` turns
//! 503 at once) and refuses new Socket.IO handshakes (`draining`), waits `DRAIN_MS` for
//! the balancers to notice, then disconnects its clients in batches spread over
//! `DRAIN_SPREAD_MS`, so they reconnect to other instances in a trickle rather than a
//! thundering herd. Only then does the ordinary stop (close sockets, stop serving) run.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;

use crate::services::realtime::Io;

/// How many batches the spread window is cut into (at most: never more than clients).
const BATCHES: usize = 20;

/// Run the drain; `draining` is cancelled first (what `/ready` and the handshake read).
pub async fn drain(io: &Io, draining: &CancellationToken, wait: Duration, spread: Duration) {
    draining.cancel();
    let clients = io.local().sockets().len();
    tracing::info!(
        clients,
        wait_ms = wait.as_millis() as u64,
        spread_ms = spread.as_millis() as u64,
        "draining: /ready is 503 and new connections are refused"
    );
    tokio::time::sleep(wait).await;
    // Sockets are listed again: some left on their own during the wait.
    let sockets = io.local().sockets();
    if sockets.is_empty() {
        return;
    }
    let batches = BATCHES.min(sockets.len()).max(1);
    let per_batch = sockets.len().div_ceil(batches);
    let pause = spread / batches as u32;
    for (i, batch) in sockets.chunks(per_batch).enumerate() {
        if i > 0 {
            tokio::time::sleep(pause).await;
        }
        for s in batch {
            // A socket that is already gone has nothing left to close.
            let _ = s.clone().disconnect();
        }
    }
    tracing::info!(clients = sockets.len(), "drained");
}

/// While draining, a request that would open a new Engine.IO session (`/socket.io/`
/// without a `sid`) gets 503: socket.io-client treats that as a transport failure and
/// retries with its backoff (reaching another instance through the balancer), whereas
/// a refusal at the namespace would be final for it. Sessions already open go on.
pub async fn refuse_new_sessions(
    State(draining): State<CancellationToken>,
    req: Request,
    next: Next,
) -> Response {
    if draining.is_cancelled() && is_new_session(&req) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
            "draining: this instance is shutting down; connect to another one",
        )
            .into_response();
    }
    next.run(req).await
}

fn is_new_session(req: &Request) -> bool {
    req.uri().path().starts_with("/socket.io")
        && !req
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("sid=")))
}
