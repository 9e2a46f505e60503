//! Typed, validated configuration for one `arena serve` instance.
//!
//! Every field can come from a flag or an environment variable; `validate` refuses bad
//! values and bad combinations at start with one line naming the setting and the reason.

use std::net::IpAddr;

use clap::Args;

/// Settings of one server instance (`arena serve`). Defaults are in each field's doc.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Redis URL shared by all instances (default redis://127.0.0.1:6379).
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,

    /// Address to bind (default 127.0.0.1).
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port for HTTP, Socket.IO and the UI; 0 picks a free port (default 3000).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,

    /// Name of this instance in ticks, attacks and /status (default: hostname:port).
    #[arg(long, env = "INSTANCE_ID")]
    pub instance_id: Option<String>,

    /// Tick interval in milliseconds (default 2000).
    #[arg(long, env = "TICK_MS", default_value_t = 2000)]
    pub tick_ms: u64,

    /// Time-to-live of the tick lock in milliseconds; must be below TICK_MS (default 1500).
    #[arg(long, env = "LOCK_TTL_MS", default_value_t = 1500)]
    pub lock_ttl_ms: u64,

    /// Largest accepted event payload in bytes; larger ones get `payload_too_large` (default 65536).
    #[arg(long, env = "MAX_PAYLOAD_BYTES", default_value_t = 65_536)]
    pub max_payload_bytes: usize,

    /// Packets queued per client before further ones are dropped for that client
    /// (slow clients are skipped, never awaited) (default 128).
    #[arg(long, env = "CLIENT_BUFFER", default_value_t = 128)]
    pub client_buffer: usize,

    /// Timeout of ordinary Redis commands in milliseconds (default 500).
    #[arg(long, env = "REDIS_TIMEOUT_MS", default_value_t = 500)]
    pub redis_timeout_ms: u64,

    /// Messages buffered from Redis pub/sub before new ones are dropped and counted (default 8192).
    #[arg(long, env = "PUBSUB_BUFFER", default_value_t = 8192)]
    pub pubsub_buffer: usize,

    /// How long shutdown may take before it is cut short, in milliseconds (default 10000).
    #[arg(long, env = "SHUTDOWN_TIMEOUT_MS", default_value_t = 10_000)]
    pub shutdown_timeout_ms: u64,
}

/// A setting that cannot be used, with the reason.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid setting {setting}: {reason}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub reason: String,
}

fn bad(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        reason: reason.into(),
    }
}

impl Config {
    /// A config for tests and embedding: the defaults, with the given Redis URL.
    pub fn for_redis(redis_url: impl Into<String>) -> Self {
        Self {
            redis_url: redis_url.into(),
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            instance_id: None,
            tick_ms: 2000,
            lock_ttl_ms: 1500,
            max_payload_bytes: 65_536,
            client_buffer: 128,
            redis_timeout_ms: 500,
            pubsub_buffer: 8192,
            shutdown_timeout_ms: 10_000,
        }
    }

    /// Check every value and combination; the error names the setting and the reason.
    pub fn validate(&self) -> Result<(), ConfigError> {
        redis::Client::open(self.redis_url.as_str()).map_err(|e| {
            bad(
                "REDIS_URL",
                format!("cannot parse {:?}: {e}", self.redis_url),
            )
        })?;
        if let Some(id) = &self.instance_id {
            crate::realtime::protocol::check_name(id, 64, true)
                .map_err(|r| bad("INSTANCE_ID", r))?;
        }
        if self.tick_ms < 50 {
            return Err(bad(
                "TICK_MS",
                format!("{} is below the minimum of 50", self.tick_ms),
            ));
        }
        if self.lock_ttl_ms < 10 {
            return Err(bad(
                "LOCK_TTL_MS",
                format!("{} is below the minimum of 10", self.lock_ttl_ms),
            ));
        }
        if self.lock_ttl_ms >= self.tick_ms {
            return Err(bad(
                "LOCK_TTL_MS",
                format!(
                    "{} must be below TICK_MS ({}) so that a lease never spans two intervals",
                    self.lock_ttl_ms, self.tick_ms
                ),
            ));
        }
        if !(256..=16 * 1024 * 1024).contains(&self.max_payload_bytes) {
            return Err(bad("MAX_PAYLOAD_BYTES", "must be between 256 and 16777216"));
        }
        if !(1..=65_536).contains(&self.client_buffer) {
            return Err(bad("CLIENT_BUFFER", "must be between 1 and 65536"));
        }
        if !(10..=60_000).contains(&self.redis_timeout_ms) {
            return Err(bad("REDIS_TIMEOUT_MS", "must be between 10 and 60000"));
        }
        if !(16..=1_048_576).contains(&self.pubsub_buffer) {
            return Err(bad("PUBSUB_BUFFER", "must be between 16 and 1048576"));
        }
        Ok(())
    }

    /// The Redis URL with any password replaced, for logs.
    pub fn redis_url_redacted(&self) -> String {
        redact_url(&self.redis_url)
    }
}

/// Replace the password part of `scheme://user:pass@host` with `***`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::for_redis("redis://127.0.0.1:6379")
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(cfg().validate(), Ok(()));
    }

    #[test]
    fn lock_ttl_must_be_below_tick() {
        let mut c = cfg();
        c.lock_ttl_ms = 2000;
        let e = c.validate().unwrap_err();
        assert_eq!(e.setting, "LOCK_TTL_MS");
        assert!(
            e.to_string().contains("must be below TICK_MS (2000)"),
            "{e}"
        );
    }

    #[test]
    fn bad_url_is_named() {
        let mut c = cfg();
        c.redis_url = "http//nope".into();
        assert_eq!(c.validate().unwrap_err().setting, "REDIS_URL");
    }

    #[test]
    fn bad_instance_id_is_named() {
        let mut c = cfg();
        c.instance_id = Some("has space".into());
        assert_eq!(c.validate().unwrap_err().setting, "INSTANCE_ID");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("redis://u:secret@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(redact_url("redis://h:1"), "redis://h:1");
    }
}
