//! Settings of the shared services: Redis, Redlock, buffers and payload limits.
//!
//! Each default is a constant here, used by clap and by `Default` alike, so it is written
//! once; the README's settings table quotes them.

use clap::Args;

use crate::base::config::{ConfigError, bad, in_range, redact_url};
use crate::services::lock::LockConfig;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";
pub const LOCK_TTL_MS: u64 = 1500;
pub const MAX_PAYLOAD_BYTES: usize = 65_536;
pub const CLIENT_BUFFER: usize = 128;
pub const REDIS_TIMEOUT_MS: u64 = 500;
pub const PUBSUB_BUFFER: usize = 8192;

/// Settings of the shared services (flags or env vars).
#[derive(Debug, Clone, Args)]
#[group(id = "services")]
pub struct Settings {
    /// Redis URL shared by all instances.
    #[arg(long, env = "REDIS_URL", default_value = REDIS_URL)]
    pub redis_url: String,

    /// Comma-separated URLs of the independent Redis masters that Redlock leases need a
    /// quorum of (N/2+1); fencing counters stay on REDIS_URL [default: REDIS_URL alone].
    #[arg(long, env = "REDLOCK_URLS")]
    pub redlock_urls: Option<String>,

    /// Time-to-live of Redlock leases and of the tick lease, in milliseconds; must be
    /// below TICK_MS and above the Redlock minimum (2 x the 50 ms node timeout + drift).
    #[arg(long, env = "LOCK_TTL_MS", default_value_t = LOCK_TTL_MS)]
    pub lock_ttl_ms: u64,

    /// Largest accepted event payload in bytes; larger ones get `payload_too_large`.
    #[arg(long, env = "MAX_PAYLOAD_BYTES", default_value_t = MAX_PAYLOAD_BYTES)]
    pub max_payload_bytes: usize,

    /// Packets queued per client before further ones are dropped for that client (slow
    /// clients are skipped, never awaited).
    #[arg(long, env = "CLIENT_BUFFER", default_value_t = CLIENT_BUFFER)]
    pub client_buffer: usize,

    /// Timeout of ordinary Redis commands in milliseconds.
    #[arg(long, env = "REDIS_TIMEOUT_MS", default_value_t = REDIS_TIMEOUT_MS)]
    pub redis_timeout_ms: u64,

    /// Messages buffered from Redis pub/sub before new ones are dropped and counted.
    #[arg(long, env = "PUBSUB_BUFFER", default_value_t = PUBSUB_BUFFER)]
    pub pubsub_buffer: usize,

    /// Test only: pretend this instance's host clock is off by this many milliseconds
    /// (positive: ahead), to show that periods follow Redis's clock.
    #[arg(
        long,
        env = "ARENA_TEST_CLOCK_SKEW_MS",
        default_value_t = 0,
        allow_hyphen_values = true,
        hide = true
    )]
    pub test_clock_skew_ms: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            redis_url: REDIS_URL.into(),
            redlock_urls: None,
            lock_ttl_ms: LOCK_TTL_MS,
            max_payload_bytes: MAX_PAYLOAD_BYTES,
            client_buffer: CLIENT_BUFFER,
            redis_timeout_ms: REDIS_TIMEOUT_MS,
            pubsub_buffer: PUBSUB_BUFFER,
            test_clock_skew_ms: 0,
        }
    }
}

impl Settings {
    /// Check every value; the error names the setting and the reason.
    pub fn validate(&self) -> Result<(), ConfigError> {
        redis::Client::open(self.redis_url.as_str()).map_err(|e| {
            bad(
                "REDIS_URL",
                format!("cannot parse {:?}: {e}", redact_url(&self.redis_url)),
            )
        })?;
        if let Some(urls) = &self.redlock_urls {
            let urls: Vec<&str> = urls.split(',').map(str::trim).collect();
            for (i, &url) in urls.iter().enumerate() {
                if url.is_empty() {
                    return Err(bad("REDLOCK_URLS", "has an empty entry"));
                }
                if urls[..i].contains(&url) {
                    return Err(bad(
                        "REDLOCK_URLS",
                        format!("{} is listed twice", redact_url(url)),
                    ));
                }
                redis::Client::open(url).map_err(|e| {
                    bad(
                        "REDLOCK_URLS",
                        format!("cannot parse {:?}: {e}", redact_url(url)),
                    )
                })?;
            }
        }
        let lock = self.lock_config();
        if self.lock_ttl_ms < lock.min_ttl_ms() {
            return Err(bad(
                "LOCK_TTL_MS",
                format!(
                    "{} is below the Redlock minimum of {} ms (2 x node timeout {} ms + drift)",
                    self.lock_ttl_ms,
                    lock.min_ttl_ms(),
                    lock.node_timeout.as_millis()
                ),
            ));
        }
        lock.check()
            .map_err(|e| bad("LOCK_TTL_MS", e.to_string()))?;
        in_range(
            "MAX_PAYLOAD_BYTES",
            self.max_payload_bytes,
            256,
            16 * 1024 * 1024,
        )?;
        in_range("CLIENT_BUFFER", self.client_buffer, 1, 65_536)?;
        in_range("REDIS_TIMEOUT_MS", self.redis_timeout_ms, 10, 60_000)?;
        in_range("PUBSUB_BUFFER", self.pubsub_buffer, 16, 1_048_576)?;
        Ok(())
    }

    /// The Redlock settings these give: the default node timeout and backoff, `LOCK_TTL_MS`.
    pub fn lock_config(&self) -> LockConfig {
        LockConfig::default().with_ttl(std::time::Duration::from_millis(self.lock_ttl_ms))
    }

    /// The Redlock masters named by `REDLOCK_URLS`, or the main Redis alone.
    pub fn lock_masters(&self) -> Vec<String> {
        match &self.redlock_urls {
            Some(urls) => urls.split(',').map(|u| u.trim().to_string()).collect(),
            None => vec![self.redis_url.clone()],
        }
    }

    /// The Redis URL with any password replaced, for logs.
    pub fn redis_url_redacted(&self) -> String {
        redact_url(&self.redis_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Settings::default().validate(), Ok(()));
    }

    #[test]
    fn bad_url_is_named() {
        let s = Settings {
            redis_url: "http//nope".into(),
            ..Settings::default()
        };
        assert_eq!(s.validate().unwrap_err().setting, "REDIS_URL");
    }

    #[test]
    fn a_lock_ttl_below_the_redlock_bound_is_named() {
        for ttl in [10, 60, 103] {
            let s = Settings {
                lock_ttl_ms: ttl,
                ..Settings::default()
            };
            let e = s.validate().unwrap_err();
            assert_eq!(e.setting, "LOCK_TTL_MS", "{ttl}");
            assert!(e.reason.contains("Redlock minimum of 104 ms"), "{e}");
        }
        let s = Settings {
            lock_ttl_ms: 104,
            ..Settings::default()
        };
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn masters_default_to_the_main_redis() {
        let mut s = Settings {
            redis_url: "redis://main:6379".into(),
            ..Settings::default()
        };
        assert_eq!(s.lock_masters(), ["redis://main:6379"]);
        s.redlock_urls = Some("redis://a:1, redis://b:2,redis://c:3".into());
        assert_eq!(
            s.lock_masters(),
            ["redis://a:1", "redis://b:2", "redis://c:3"]
        );
    }
}
