//! The HTTP limits of one instance, from its settings: how long a client may take to
//! send its headers or sit idle, how large a body may be, and how long a route that uses
//! Redis may take before it answers 503 `unavailable`.

use std::time::Duration;

use crate::edge::config::Config;

/// A route that uses Redis answers within this many `REDIS_TIMEOUT_MS` (each of its
/// Redis commands is bounded by one; a battle start or an increment also waits for a
/// lock), or with 503 `unavailable`.
pub const REQUEST_TIMEOUT_REDIS_TIMEOUTS: u32 = 4;

/// The limits the serve loop and the router apply.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// `HTTP_HEADER_TIMEOUT_MS`: the request line and headers must arrive within this.
    pub header_timeout: Duration,
    /// `HTTP_IDLE_TIMEOUT_MS`: no byte moving while the server waits for the client.
    pub idle_timeout: Duration,
    /// `HTTP_BODY_LIMIT_BYTES`: larger bodies get 413.
    pub body_limit: usize,
    /// The bound on each Redis-backed route ([`REQUEST_TIMEOUT_REDIS_TIMEOUTS`] x
    /// `REDIS_TIMEOUT_MS`).
    pub request_timeout: Duration,
}

impl HttpLimits {
    pub fn of(config: &Config) -> Self {
        Self {
            header_timeout: Duration::from_millis(config.http_header_timeout_ms),
            idle_timeout: Duration::from_millis(config.http_idle_timeout_ms),
            body_limit: config.http_body_limit_bytes,
            request_timeout: Duration::from_millis(config.services.redis_timeout_ms)
                * REQUEST_TIMEOUT_REDIS_TIMEOUTS,
        }
    }
}
