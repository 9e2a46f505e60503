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

    /// Comma-separated URLs of the independent Redis masters that Redlock leases need a
    /// quorum of (N/2+1); fencing counters stay on REDIS_URL (default: REDIS_URL alone).
    #[arg(long, env = "REDLOCK_URLS")]
    pub redlock_urls: Option<String>,

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

    /// Test only: hold the battle lock this long before committing (simulates a handler
    /// slower than the lease TTL) (default 0).
    #[arg(
        long,
        env = "ARENA_TEST_BATTLE_DELAY_MS",
        default_value_t = 0,
        hide = true
    )]
    pub test_battle_delay_ms: u64,

    /// Treasure hunt: one map is generated per period of this many milliseconds, across
    /// all instances (default 1000). A map can be claimed for 5 periods.
    #[arg(long, env = "MAP_MS", default_value_t = 1000)]
    pub map_ms: u64,

    /// Treasure hunt: number of partitions (claim streams, `{p<k>}` hash tags) (default 16).
    /// Changing it orphans existing maps and streams.
    #[arg(long, env = "HUNT_PARTITIONS", default_value_t = 16)]
    pub hunt_partitions: u32,

    /// Treasure hunt: TTL in seconds of maps, owners, per-map boards and apply-once
    /// markers (default 21600 = 6 h).
    #[arg(long = "hunt-key-ttl", env = "HUNT_KEY_TTL", default_value_t = 21_600)]
    pub hunt_key_ttl_s: u64,

    /// Treasure hunt: claims per second allowed per player, shared by all instances; the
    /// same number may be spent at once (default 20).
    #[arg(long, env = "CLAIM_RATE", default_value_t = 20)]
    pub claim_rate: u32,

    /// Treasure hunt: a claim entry pending this long (its consumer died or stalled) is
    /// taken over by another consumer, in milliseconds (default 5000).
    #[arg(long, env = "HUNT_RECLAIM_IDLE_MS", default_value_t = 5000)]
    pub hunt_reclaim_idle_ms: u64,

    /// Treasure hunt: deliveries after which an entry that still fails is dead-lettered (default 5).
    #[arg(long, env = "HUNT_MAX_DELIVERIES", default_value_t = 5)]
    pub hunt_max_deliveries: u64,

    /// Treasure hunt: approximate cap of each claim stream (XADD MAXLEN ~) (default 1000000).
    /// `arena hunt rebuild` is exact only while the streams hold every claim.
    #[arg(long, env = "HUNT_STREAM_MAXLEN", default_value_t = 1_000_000)]
    pub hunt_stream_maxlen: u64,
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
            redlock_urls: None,
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
            test_battle_delay_ms: 0,
            map_ms: 1000,
            hunt_partitions: 16,
            hunt_key_ttl_s: 21_600,
            claim_rate: 20,
            hunt_reclaim_idle_ms: 5000,
            hunt_max_deliveries: 5,
            hunt_stream_maxlen: 1_000_000,
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
        if !(50..=3_600_000).contains(&self.map_ms) {
            return Err(bad("MAP_MS", "must be between 50 and 3600000"));
        }
        if !(1..=1024).contains(&self.hunt_partitions) {
            return Err(bad("HUNT_PARTITIONS", "must be between 1 and 1024"));
        }
        if !(60..=30 * 86_400).contains(&self.hunt_key_ttl_s) {
            return Err(bad(
                "HUNT_KEY_TTL",
                "must be between 60 and 2592000 seconds",
            ));
        }
        if self.hunt_key_ttl_s * 1000 <= 5 * self.map_ms {
            return Err(bad(
                "HUNT_KEY_TTL",
                format!(
                    "{} s must outlive a map (5 x MAP_MS = {} ms)",
                    self.hunt_key_ttl_s,
                    5 * self.map_ms
                ),
            ));
        }
        if !(1..=100_000).contains(&self.claim_rate) {
            return Err(bad("CLAIM_RATE", "must be between 1 and 100000"));
        }
        if !(100..=3_600_000).contains(&self.hunt_reclaim_idle_ms) {
            return Err(bad(
                "HUNT_RECLAIM_IDLE_MS",
                "must be between 100 and 3600000",
            ));
        }
        if !(1..=1000).contains(&self.hunt_max_deliveries) {
            return Err(bad("HUNT_MAX_DELIVERIES", "must be between 1 and 1000"));
        }
        if self.hunt_stream_maxlen < 1000 {
            return Err(bad("HUNT_STREAM_MAXLEN", "must be at least 1000"));
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
    fn hunt_settings_are_checked() {
        let mut c = cfg();
        c.map_ms = 10;
        assert_eq!(c.validate().unwrap_err().setting, "MAP_MS");
        let mut c = cfg();
        c.hunt_partitions = 0;
        assert_eq!(c.validate().unwrap_err().setting, "HUNT_PARTITIONS");
        let mut c = cfg();
        c.claim_rate = 0;
        assert_eq!(c.validate().unwrap_err().setting, "CLAIM_RATE");
        let mut c = cfg();
        c.map_ms = 3_600_000;
        c.hunt_key_ttl_s = 3600;
        assert_eq!(c.validate().unwrap_err().setting, "HUNT_KEY_TTL");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("redis://u:secret@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(redact_url("redis://h:1"), "redis://h:1");
    }
}
