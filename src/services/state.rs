//! Shared state of one instance, handed to every mode (cheap to clone).

use std::sync::Arc;
use std::time::Instant;

use crate::redis::Conn;

use super::auth::Authenticator;
use super::judge::guarded::Guarded;
use super::lock::Redlock;
use super::metrics::Metrics;
use super::settings::Settings;
use super::store::Store;
use crate::redis::Endpoint;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// This instance's name in ticks, attacks and /status.
    pub instance_id: Arc<str>,
    pub metrics: Metrics,
    /// The command connection (never used for pub/sub).
    pub redis: Conn,
    /// Where `redis` points (URL and TLS files), for the connections a mode opens itself
    /// (e.g. blocking stream reads).
    pub redis_endpoint: Endpoint,
    /// Redlock over `REDLOCK_URLS`; fencing counters and guarded data on `redis`.
    pub redlock: Redlock,
    /// The durable records (SQLite or PostgreSQL), migrated at start.
    pub store: Store,
    pub started: Instant,
    /// Who a caller is and whether it may act (token or dev mode).
    pub auth: Authenticator,
    /// The execution service behind the fleet-wide breaker (`JUDGE_URL`, or the queue
    /// on `redis`), one per instance; its breaker state is on `metrics`.
    pub judge: Guarded,
    /// Cancelled when the instance starts to drain (SIGTERM): `/ready` answers 503 and
    /// new connections are refused from then on.
    pub draining: tokio_util::sync::CancellationToken,
}
