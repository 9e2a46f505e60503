//! The whole configuration of one `arena serve` instance: the edge's own settings, the
//! shared services' and every mode's, composed here (the one place that sees them all)
//! and checked together at start.
//!
//! Every field can come from a flag or an environment variable; defaults are constants
//! beside each settings struct. `validate` refuses bad values and bad combinations with
//! one line naming the setting and the reason.

use std::net::IpAddr;

use clap::Args;

use crate::base::config::{ConfigError, bad, in_range};
use crate::base::ids::check_name;

pub const HOST: &str = "127.0.0.1";
pub const PORT: u16 = 3000;
pub const SHUTDOWN_TIMEOUT_MS: u64 = 10_000;
pub const DRAIN_MS: u64 = 0;
pub const DRAIN_SPREAD_MS: u64 = 1000;
pub const HTTP_HEADER_TIMEOUT_MS: u64 = 10_000;
pub const HTTP_IDLE_TIMEOUT_MS: u64 = 60_000;
pub const HTTP_BODY_LIMIT_BYTES: usize = 1024 * 1024;

/// Settings of one server instance (`arena serve`).
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// A TOML file of settings (keys: the env names in lower case, e.g. `tick_ms = 2000`);
    /// flags and environment override it.
    #[arg(long, env = "ARENA_CONFIG")]
    pub config: Option<std::path::PathBuf>,

    /// Address to bind.
    #[arg(long, env = "HOST", default_value = HOST)]
    pub host: IpAddr,

    /// Port for HTTP, Socket.IO and the UI; 0 picks a free port.
    #[arg(long, env = "PORT", default_value_t = PORT)]
    pub port: u16,

    /// Optional second port for operators: `/status`, `/metrics` and the admin routes
    /// move there (off the public port); `/health` and `/ready` answer on both. Bind it
    /// on a private network; 0 picks a free port.
    #[arg(long, env = "INTERNAL_PORT")]
    pub internal_port: Option<u16>,

    /// Name of this instance in ticks, attacks and /status [default: hostname:port].
    #[arg(long, env = "INSTANCE_ID")]
    pub instance_id: Option<String>,

    /// How long shutdown may take before it is cut short, in milliseconds (counted
    /// after the drain).
    #[arg(long, env = "SHUTDOWN_TIMEOUT_MS", default_value_t = SHUTDOWN_TIMEOUT_MS)]
    pub shutdown_timeout_ms: u64,

    /// On SIGTERM, how long to keep serving with `/ready` at 503 and new connections
    /// refused, so load balancers stop sending clients here, in milliseconds (e.g. 5000
    /// behind a balancer that probes every few seconds).
    #[arg(long, env = "DRAIN_MS", default_value_t = DRAIN_MS)]
    pub drain_ms: u64,

    /// After the drain wait, clients are disconnected in batches spread over this many
    /// milliseconds, so they reconnect elsewhere without a thundering herd.
    #[arg(long, env = "DRAIN_SPREAD_MS", default_value_t = DRAIN_SPREAD_MS)]
    pub drain_spread_ms: u64,

    /// Time a client has to send a request's line and headers, in milliseconds, counted
    /// from the connection's start or its previous response; also bounds an idle
    /// keep-alive connection. Slower clients are disconnected.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_MS", default_value_t = HTTP_HEADER_TIMEOUT_MS)]
    pub http_header_timeout_ms: u64,

    /// An HTTP connection on which no byte moves for this long while the server waits
    /// for the client (a stalled request body, a response it does not read, an idle
    /// keep-alive) is closed, in milliseconds. Time the server spends answering (a
    /// Socket.IO long-poll) does not count; WebSockets are exempt (Socket.IO heartbeats).
    #[arg(long, env = "HTTP_IDLE_TIMEOUT_MS", default_value_t = HTTP_IDLE_TIMEOUT_MS)]
    pub http_idle_timeout_ms: u64,

    /// Largest HTTP request body in bytes; larger ones get 413 `payload_too_large`.
    #[arg(long, env = "HTTP_BODY_LIMIT_BYTES", default_value_t = HTTP_BODY_LIMIT_BYTES)]
    pub http_body_limit_bytes: usize,

    #[command(flatten)]
    pub services: crate::services::Settings,

    #[command(flatten)]
    pub modes: crate::modes::Settings,
}

impl Config {
    /// A config for tests and embedding: the defaults, port 0, the given Redis URL, an
    /// in-memory SQLite database.
    pub fn for_redis(redis_url: impl Into<String>) -> Self {
        Self {
            config: None,
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            internal_port: None,
            instance_id: None,
            shutdown_timeout_ms: SHUTDOWN_TIMEOUT_MS,
            drain_ms: DRAIN_MS,
            drain_spread_ms: DRAIN_SPREAD_MS,
            http_header_timeout_ms: HTTP_HEADER_TIMEOUT_MS,
            http_idle_timeout_ms: HTTP_IDLE_TIMEOUT_MS,
            http_body_limit_bytes: HTTP_BODY_LIMIT_BYTES,
            services: crate::services::Settings {
                redis_url: redis_url.into(),
                // Each embedded instance keeps its records to itself unless told where.
                store: crate::services::store::Settings::in_memory(),
                ..Default::default()
            },
            modes: Default::default(),
        }
    }

    /// Check every value and every constraint between settings; the error names the
    /// setting and the reason.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(id) = &self.instance_id {
            check_name(id, 64, true).map_err(|r| bad("INSTANCE_ID", r))?;
        }
        in_range(
            "SHUTDOWN_TIMEOUT_MS",
            self.shutdown_timeout_ms,
            100,
            600_000,
        )?;
        in_range("DRAIN_MS", self.drain_ms, 0, 600_000)?;
        in_range("DRAIN_SPREAD_MS", self.drain_spread_ms, 0, 600_000)?;
        in_range(
            "HTTP_HEADER_TIMEOUT_MS",
            self.http_header_timeout_ms,
            100,
            600_000,
        )?;
        in_range(
            "HTTP_IDLE_TIMEOUT_MS",
            self.http_idle_timeout_ms,
            100,
            3_600_000,
        )?;
        in_range(
            "HTTP_BODY_LIMIT_BYTES",
            self.http_body_limit_bytes,
            1024,
            256 * 1024 * 1024,
        )?;
        if self.internal_port.is_some_and(|p| p != 0 && p == self.port) {
            return Err(bad(
                "INTERNAL_PORT",
                format!("{} is also PORT; pick another port", self.port),
            ));
        }
        self.services.validate()?;
        self.modes.validate()?;
        // The tick lease is the lock TTL: a lease must never span two intervals.
        let (lock_ttl, tick) = (self.services.lock_ttl_ms, self.modes.rooms.tick_ms);
        if lock_ttl >= tick {
            return Err(bad(
                "LOCK_TTL_MS",
                format!(
                    "{lock_ttl} must be below TICK_MS ({tick}) so that a lease never spans two intervals"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        let mut c = Config::for_redis("redis://127.0.0.1:6379");
        c.services.auth.mode = crate::services::auth::AuthMode::Dev;
        c
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(cfg().validate(), Ok(()));
    }

    #[test]
    fn token_mode_is_the_default_and_needs_a_secret() {
        let mut c = Config::for_redis("redis://127.0.0.1:6379");
        assert_eq!(c.validate().unwrap_err().setting, "ARENA_TOKEN_SECRET");
        c.services.auth.token_secret = Some("k".repeat(32));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn lock_ttl_must_be_below_tick() {
        let mut c = cfg();
        c.services.lock_ttl_ms = 2000;
        let e = c.validate().unwrap_err();
        assert_eq!(e.setting, "LOCK_TTL_MS");
        assert!(
            e.to_string().contains("must be below TICK_MS (2000)"),
            "{e}"
        );
    }

    #[test]
    fn lock_ttl_below_the_redlock_bound_is_refused_before_tick() {
        let mut c = cfg();
        c.services.lock_ttl_ms = 60;
        c.modes.rooms.tick_ms = 1000;
        let e = c.validate().unwrap_err();
        assert_eq!(e.setting, "LOCK_TTL_MS");
        assert!(e.reason.contains("104"), "{e}");
    }

    #[test]
    fn bad_instance_id_is_named() {
        let mut c = cfg();
        c.instance_id = Some("has space".into());
        assert_eq!(c.validate().unwrap_err().setting, "INSTANCE_ID");
    }

    #[test]
    fn hunt_settings_are_checked() {
        let mut c = cfg();
        c.modes.hunt.map_ms = 10;
        assert_eq!(c.validate().unwrap_err().setting, "MAP_MS");
        let mut c = cfg();
        c.modes.hunt.hunt_partitions = 0;
        assert_eq!(c.validate().unwrap_err().setting, "HUNT_PARTITIONS");
        let mut c = cfg();
        c.modes.hunt.claim_rate = 0;
        assert_eq!(c.validate().unwrap_err().setting, "CLAIM_RATE");
        let mut c = cfg();
        c.modes.hunt.map_ms = 3_600_000;
        c.modes.hunt.hunt_key_ttl_s = 3600;
        assert_eq!(c.validate().unwrap_err().setting, "HUNT_KEY_TTL");
    }

    #[test]
    fn http_limits_are_named() {
        let mut c = cfg();
        c.http_header_timeout_ms = 0;
        assert_eq!(c.validate().unwrap_err().setting, "HTTP_HEADER_TIMEOUT_MS");
        let mut c = cfg();
        c.http_idle_timeout_ms = 10;
        assert_eq!(c.validate().unwrap_err().setting, "HTTP_IDLE_TIMEOUT_MS");
        let mut c = cfg();
        c.http_body_limit_bytes = 10;
        let e = c.validate().unwrap_err();
        assert_eq!(e.setting, "HTTP_BODY_LIMIT_BYTES");
        assert_eq!(
            e.to_string(),
            "invalid setting HTTP_BODY_LIMIT_BYTES: must be between 1024 and 268435456 (got 10)"
        );
    }

    #[test]
    fn tick_minimum_is_named() {
        let mut c = cfg();
        c.modes.rooms.tick_ms = 10;
        c.services.lock_ttl_ms = 5;
        assert_eq!(c.validate().unwrap_err().setting, "LOCK_TTL_MS");
        c.services.lock_ttl_ms = 1500;
        assert_eq!(c.validate().unwrap_err().setting, "TICK_MS");
    }
}
