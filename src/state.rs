//! Shared state of one instance, handed to every handler and task (cheap to clone).

use std::sync::Arc;
use std::time::Instant;

use redis::aio::ConnectionManager;

use crate::config::Config;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// This instance's name in ticks, attacks and /status.
    pub instance_id: Arc<str>,
    pub metrics: Metrics,
    /// The command connection (never used for pub/sub).
    pub redis: ConnectionManager,
    /// Redlock over `REDLOCK_URLS`; fencing counters and guarded data on `redis`.
    pub redlock: crate::lock::Redlock,
    pub started: Instant,
}
