//! How an arena instance reaches the judges: `JUDGE_URL` picks the backend, and the
//! `JUDGE_BREAKER_*` settings tune the fleet-wide breaker around it (every instance of a
//! fleet should be given the same values: they share one breaker state).

use std::time::Duration;

use clap::Args;

use super::breaker::BreakerConfig;
use crate::base::config::{ConfigError, bad, in_range, redact_url};

const D: BreakerConfig = BreakerConfig::DEFAULT;
pub const JUDGE_BREAKER_WINDOW_S: u64 = D.window.as_secs();
pub const JUDGE_BREAKER_MIN_CALLS: u32 = D.min_calls;
pub const JUDGE_BREAKER_FAILURE_RATE: f64 = D.failure_rate;
pub const JUDGE_BREAKER_OPEN_MS: u64 = D.open_for.as_millis() as u64;
pub const JUDGE_BREAKER_HEARTBEAT_MS: u64 = D.heartbeat_within.as_millis() as u64;
pub const JUDGE_BREAKER_PROBE_TIMEOUT_MS: u64 = D.probe_timeout.as_millis() as u64;
pub const JUDGE_BREAKER_QUEUE_WAIT_MS: u64 = D.max_queue_wait.as_millis() as u64;

/// The execution service as this instance uses it (flags or env vars).
#[derive(Debug, Clone, Args)]
#[group(id = "judge_client")]
pub struct Settings {
    /// An external Piston (`http://host:port`) to run submissions; empty: the built-in
    /// queue, consumed by `arena judge` processes on REDIS_URL [default: the queue].
    #[arg(long, env = "JUDGE_URL", default_value = "", hide_env_values = true)]
    pub judge_url: String,

    /// The judge breaker's rolling window of outcomes, in seconds.
    #[arg(long, env = "JUDGE_BREAKER_WINDOW_S", default_value_t = JUDGE_BREAKER_WINDOW_S)]
    pub judge_breaker_window_s: u64,

    /// Outcomes needed in the window before the failure rate can open the breaker.
    #[arg(long, env = "JUDGE_BREAKER_MIN_CALLS", default_value_t = JUDGE_BREAKER_MIN_CALLS)]
    pub judge_breaker_min_calls: u32,

    /// Failure rate (over 0, up to 1) in the window that opens the breaker.
    #[arg(long, env = "JUDGE_BREAKER_FAILURE_RATE", default_value_t = JUDGE_BREAKER_FAILURE_RATE)]
    pub judge_breaker_failure_rate: f64,

    /// How long the breaker stays open before one probe (or a peek) tries again, in ms.
    #[arg(long, env = "JUDGE_BREAKER_OPEN_MS", default_value_t = JUDGE_BREAKER_OPEN_MS)]
    pub judge_breaker_open_ms: u64,

    /// No judge heartbeat within this many ms opens the breaker (a judge beats every
    /// JUDGE_HEARTBEAT_MS, 1000 by default).
    #[arg(long, env = "JUDGE_BREAKER_HEARTBEAT_MS", default_value_t = JUDGE_BREAKER_HEARTBEAT_MS)]
    pub judge_breaker_heartbeat_ms: u64,

    /// How long the fleet's one probe holds its slot before another may go, in ms.
    #[arg(long, env = "JUDGE_BREAKER_PROBE_TIMEOUT_MS", default_value_t = JUDGE_BREAKER_PROBE_TIMEOUT_MS)]
    pub judge_breaker_probe_timeout_ms: u64,

    /// A job waiting longer than this for a judge opens the breaker, in ms; 0: never.
    #[arg(long, env = "JUDGE_BREAKER_QUEUE_WAIT_MS", default_value_t = JUDGE_BREAKER_QUEUE_WAIT_MS)]
    pub judge_breaker_queue_wait_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            judge_url: String::new(),
            judge_breaker_window_s: JUDGE_BREAKER_WINDOW_S,
            judge_breaker_min_calls: JUDGE_BREAKER_MIN_CALLS,
            judge_breaker_failure_rate: JUDGE_BREAKER_FAILURE_RATE,
            judge_breaker_open_ms: JUDGE_BREAKER_OPEN_MS,
            judge_breaker_heartbeat_ms: JUDGE_BREAKER_HEARTBEAT_MS,
            judge_breaker_probe_timeout_ms: JUDGE_BREAKER_PROBE_TIMEOUT_MS,
            judge_breaker_queue_wait_ms: JUDGE_BREAKER_QUEUE_WAIT_MS,
        }
    }
}

impl Settings {
    /// Check every value; the error names the setting and the reason.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.judge_url.is_empty() {
            // The Piston backend speaks plain HTTP/1 to one host:port (piston_client.rs).
            let rest = self.judge_url.strip_prefix("http://").unwrap_or("");
            if rest.is_empty() || rest.starts_with('/') {
                return Err(bad(
                    "JUDGE_URL",
                    format!(
                        "must be http://host:port or empty, got {:?}",
                        redact_url(&self.judge_url)
                    ),
                ));
            }
        }
        in_range(
            "JUDGE_BREAKER_WINDOW_S",
            self.judge_breaker_window_s,
            1,
            3600,
        )?;
        in_range(
            "JUDGE_BREAKER_MIN_CALLS",
            self.judge_breaker_min_calls,
            1,
            100_000,
        )?;
        if !(self.judge_breaker_failure_rate > 0.0 && self.judge_breaker_failure_rate <= 1.0) {
            return Err(bad(
                "JUDGE_BREAKER_FAILURE_RATE",
                format!(
                    "must be over 0 and at most 1 (got {})",
                    self.judge_breaker_failure_rate
                ),
            ));
        }
        in_range(
            "JUDGE_BREAKER_OPEN_MS",
            self.judge_breaker_open_ms,
            50,
            3_600_000,
        )?;
        in_range(
            "JUDGE_BREAKER_HEARTBEAT_MS",
            self.judge_breaker_heartbeat_ms,
            100,
            3_600_000,
        )?;
        in_range(
            "JUDGE_BREAKER_PROBE_TIMEOUT_MS",
            self.judge_breaker_probe_timeout_ms,
            100,
            3_600_000,
        )?;
        in_range(
            "JUDGE_BREAKER_QUEUE_WAIT_MS",
            self.judge_breaker_queue_wait_ms,
            0,
            3_600_000,
        )?;
        Ok(())
    }

    /// `JUDGE_URL`, or `None` for the built-in queue.
    pub fn url(&self) -> Option<&str> {
        (!self.judge_url.is_empty()).then_some(self.judge_url.as_str())
    }

    /// The breaker's tuning from these settings.
    pub fn breaker(&self) -> BreakerConfig {
        BreakerConfig {
            window: Duration::from_secs(self.judge_breaker_window_s),
            min_calls: self.judge_breaker_min_calls,
            failure_rate: self.judge_breaker_failure_rate,
            open_for: Duration::from_millis(self.judge_breaker_open_ms),
            heartbeat_within: Duration::from_millis(self.judge_breaker_heartbeat_ms),
            probe_timeout: Duration::from_millis(self.judge_breaker_probe_timeout_ms),
            max_queue_wait: Duration::from_millis(self.judge_breaker_queue_wait_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_breakers_and_valid() {
        let s = Settings::default();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.url(), None);
        let (a, b) = (s.breaker(), BreakerConfig::default());
        assert_eq!(
            (a.window, a.min_calls, a.open_for, a.heartbeat_within),
            (b.window, b.min_calls, b.open_for, b.heartbeat_within)
        );
        assert_eq!(
            (a.probe_timeout, a.max_queue_wait),
            (b.probe_timeout, b.max_queue_wait)
        );
    }

    #[test]
    fn bad_values_are_named() {
        for url in ["https://piston:2000", "piston:2000", "http://", "http:///x"] {
            let s = Settings {
                judge_url: url.into(),
                ..Settings::default()
            };
            assert_eq!(s.validate().unwrap_err().setting, "JUDGE_URL", "{url}");
        }
        let s = Settings {
            judge_url: "http://piston:2000".into(),
            ..Settings::default()
        };
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.url(), Some("http://piston:2000"));
        for rate in [0.0, 1.5, f64::NAN] {
            let s = Settings {
                judge_breaker_failure_rate: rate,
                ..Settings::default()
            };
            let e = s.validate().unwrap_err();
            assert_eq!(e.setting, "JUDGE_BREAKER_FAILURE_RATE", "{rate}");
        }
        let s = Settings {
            judge_breaker_open_ms: 0,
            ..Settings::default()
        };
        assert_eq!(s.validate().unwrap_err().setting, "JUDGE_BREAKER_OPEN_MS");
    }
}
