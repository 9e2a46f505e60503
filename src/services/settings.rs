//! Settings of the shared services: Redis, Redlock, buffers and payload limits.
//!
//! Each default is a constant here, used by clap and by `Default` alike, so it is written
//! once; the README's settings table quotes them.

use std::path::PathBuf;

use clap::Args;

use crate::base::config::{ConfigError, bad, in_range, redact_url};
use crate::redis::{Endpoint, Tls, TlsFile};
use crate::services::lock::LockConfig;

pub const REDIS_URL: &str = "redis://127.0.0.1:6379";
pub const LOCK_TTL_MS: u64 = 1500;
pub const MAX_PAYLOAD_BYTES: usize = 65_536;
pub const CLIENT_BUFFER: usize = 128;
pub const REDIS_TIMEOUT_MS: u64 = 500;
pub const PUBSUB_BUFFER: usize = 8192;

/// Settings of the shared services (flags or env vars).
///
/// `Debug` is written by hand: the Redis URLs may carry a password.
#[derive(Clone, Args)]
#[group(id = "services")]
pub struct Settings {
    /// Redis URL shared by all instances: `redis://[user:password@]host:port[/db]`, or
    /// `rediss://…` for TLS; a Redis Cluster: `redis+cluster://host:port[,host:port…]`
    /// (or `rediss+cluster://`). The password is never printed (`--help` hides the value).
    #[arg(long, env = "REDIS_URL", default_value = REDIS_URL, hide_env_values = true)]
    pub redis_url: String,

    /// Comma-separated URLs of the independent Redis masters that Redlock leases need a
    /// quorum of (N/2+1), never a cluster; fencing counters stay on REDIS_URL [default:
    /// REDIS_URL alone].
    #[arg(long, env = "REDLOCK_URLS", hide_env_values = true)]
    pub redlock_urls: Option<String>,

    /// TLS files for `rediss://` URLs.
    #[command(flatten)]
    pub redis_tls: RedisTls,

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

    /// What one connection may ask of this instance (events, handlers, connections).
    #[command(flatten)]
    pub limits: SocketLimits,

    /// Who may connect and as whom (auth mode, token secret, allowed origins).
    #[command(flatten)]
    pub auth: crate::services::auth::Settings,

    /// Where the durable records are (SQLite file or PostgreSQL).
    #[command(flatten)]
    pub store: crate::services::store::Settings,

    /// How this instance reaches the judges (JUDGE_URL, the breaker's tuning).
    #[command(flatten)]
    pub judge: crate::services::judge::settings::Settings,

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

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured so that a new field must be placed here, redacted if secret.
        let Self {
            redis_url,
            redlock_urls,
            redis_tls,
            lock_ttl_ms,
            max_payload_bytes,
            client_buffer,
            redis_timeout_ms,
            pubsub_buffer,
            limits,
            auth,
            store,
            judge,
            test_clock_skew_ms,
        } = self;
        let masters = redlock_urls.as_ref().map(|u| {
            u.split(',')
                .map(|u| redact_url(u.trim()))
                .collect::<Vec<_>>()
        });
        f.debug_struct("Settings")
            .field("redis_url", &redact_url(redis_url))
            .field("redlock_urls", &masters)
            .field("redis_tls", redis_tls)
            .field("lock_ttl_ms", lock_ttl_ms)
            .field("max_payload_bytes", max_payload_bytes)
            .field("client_buffer", client_buffer)
            .field("redis_timeout_ms", redis_timeout_ms)
            .field("pubsub_buffer", pubsub_buffer)
            .field("limits", limits)
            .field("auth", auth)
            // Its own Debug redacts DATABASE_URL's password.
            .field("store", store)
            .field("judge_url", &redact_url(&judge.judge_url))
            .field("judge_breaker", &judge.breaker())
            .field("test_clock_skew_ms", test_clock_skew_ms)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            redis_url: REDIS_URL.into(),
            redlock_urls: None,
            redis_tls: RedisTls::default(),
            lock_ttl_ms: LOCK_TTL_MS,
            max_payload_bytes: MAX_PAYLOAD_BYTES,
            client_buffer: CLIENT_BUFFER,
            redis_timeout_ms: REDIS_TIMEOUT_MS,
            pubsub_buffer: PUBSUB_BUFFER,
            limits: SocketLimits::default(),
            auth: Default::default(),
            store: crate::services::store::Settings::default(),
            judge: Default::default(),
            test_clock_skew_ms: 0,
        }
    }
}

impl Settings {
    /// Check every value; the error names the setting and the reason.
    pub fn validate(&self) -> Result<(), ConfigError> {
        Endpoint::new(self.redis_url.as_str(), &Tls::default())
            .parse()
            .map_err(|e| {
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
                if Endpoint::new(url, &Tls::default()).is_cluster() {
                    return Err(bad(
                        "REDLOCK_URLS",
                        "takes independent masters, not a cluster URL (a cluster's failover can lose a lock)",
                    ));
                }
                Endpoint::new(url, &Tls::default()).parse().map_err(|e| {
                    bad(
                        "REDLOCK_URLS",
                        format!("cannot parse {:?}: {e}", redact_url(url)),
                    )
                })?;
            }
        }
        self.redis_tls.load()?;
        if self.redis_tls.is_set() && !self.redis_endpoints().iter().any(Endpoint::is_tls) {
            return Err(bad(
                self.redis_tls.first_set(),
                "applies to rediss:// URLs, and neither REDIS_URL nor REDLOCK_URLS is one",
            ));
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
        self.limits.validate()?;
        self.auth.validate()?;
        self.store.validate()?;
        self.judge.validate()?;
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

    /// The main Redis (`REDIS_URL`) and the Redlock masters (`REDLOCK_URLS`, or the main
    /// Redis alone), each with the TLS files, read once here.
    pub fn endpoints(&self) -> Result<(Endpoint, Vec<Endpoint>), ConfigError> {
        let tls = self.redis_tls.load()?;
        let main = Endpoint::new(self.redis_url.as_str(), &tls);
        let masters = self
            .lock_masters()
            .into_iter()
            .map(|u| Endpoint::new(u, &tls))
            .collect();
        Ok((main, masters))
    }

    /// The main Redis, then the Redlock masters, without TLS files (to look at the URLs).
    fn redis_endpoints(&self) -> Vec<Endpoint> {
        let mut all = vec![Endpoint::new(self.redis_url.as_str(), &Tls::default())];
        all.extend(
            self.lock_masters()
                .into_iter()
                .map(|u| Endpoint::new(u, &Tls::default())),
        );
        all
    }
}

// --- TLS files for rediss:// (redis/connect.rs) ------------------------------------------

/// The TLS files for `rediss://` URLs (REDIS_URL, REDLOCK_URLS, and the tools'). Without
/// them a TLS Redis is verified against the system's roots.
#[derive(Debug, Clone, Default, Args)]
#[group(id = "redis_tls")]
pub struct RedisTls {
    /// PEM file of the CA certificate(s) that signed the Redis server's certificate, to
    /// trust instead of the system's roots (a private CA) [default: the system's roots].
    #[arg(long, env = "REDIS_TLS_CA")]
    pub redis_tls_ca: Option<PathBuf>,

    /// PEM client certificate for mutual TLS (Redis's `tls-auth-clients yes`); needs
    /// REDIS_TLS_KEY [default: none].
    #[arg(long, env = "REDIS_TLS_CERT")]
    pub redis_tls_cert: Option<PathBuf>,

    /// PEM private key of REDIS_TLS_CERT [default: none].
    #[arg(long, env = "REDIS_TLS_KEY")]
    pub redis_tls_key: Option<PathBuf>,
}

impl RedisTls {
    /// Is any TLS file given?
    pub fn is_set(&self) -> bool {
        self.redis_tls_ca.is_some() || self.redis_tls_cert.is_some() || self.redis_tls_key.is_some()
    }

    /// The env var of the first file given (for messages).
    fn first_set(&self) -> &'static str {
        if self.redis_tls_ca.is_some() {
            "REDIS_TLS_CA"
        } else if self.redis_tls_cert.is_some() {
            "REDIS_TLS_CERT"
        } else {
            "REDIS_TLS_KEY"
        }
    }

    /// Read and check the files; the error names the setting.
    pub fn load(&self) -> Result<Tls, ConfigError> {
        let identity = match (&self.redis_tls_cert, &self.redis_tls_key) {
            (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
            (None, None) => None,
            (Some(_), None) => return Err(bad("REDIS_TLS_KEY", "is needed with REDIS_TLS_CERT")),
            (None, Some(_)) => return Err(bad("REDIS_TLS_CERT", "is needed with REDIS_TLS_KEY")),
        };
        Tls::load(self.redis_tls_ca.as_deref(), identity).map_err(|e| {
            let setting = match e.file() {
                TlsFile::Ca => "REDIS_TLS_CA",
                TlsFile::ClientCert => "REDIS_TLS_CERT",
                TlsFile::ClientKey => "REDIS_TLS_KEY",
            };
            bad(setting, e.to_string())
        })
    }

    /// `url` with these TLS files: for the tools, which take a URL of their own.
    pub fn endpoint(&self, url: &str) -> Result<Endpoint, ConfigError> {
        Ok(Endpoint::new(url, &self.load()?))
    }
}

// --- Per-connection limits (services/realtime/intake.rs and admission.rs) ---------------

pub const SOCKET_EVENT_RATE: u32 = 100;
pub const SOCKET_EVENT_BURST: u32 = 200;
pub const SOCKET_FLOOD_SECS: u64 = 5;
pub const SOCKET_MAX_INFLIGHT: usize = 32;
pub const MAX_CONNECTIONS: usize = 10_000;
pub const MAX_CONNECTIONS_PER_IP: usize = 1000;

/// What one connection may ask of an instance.
#[derive(Debug, Clone, Args)]
#[group(id = "socket_limits")]
pub struct SocketLimits {
    /// Events per second one connection may send (a token bucket); more get
    /// `rate_limited`, or are dropped and counted when they ask no ack.
    #[arg(long, env = "SOCKET_EVENT_RATE", default_value_t = SOCKET_EVENT_RATE)]
    pub socket_event_rate: u32,

    /// Events one connection may send at once after a quiet spell (the bucket's size).
    #[arg(long, env = "SOCKET_EVENT_BURST", default_value_t = SOCKET_EVENT_BURST)]
    pub socket_event_burst: u32,

    /// A connection over its event rate at least once a second for this many seconds in
    /// a row is disconnected.
    #[arg(long, env = "SOCKET_FLOOD_SECS", default_value_t = SOCKET_FLOOD_SECS)]
    pub socket_flood_secs: u64,

    /// Handlers of one connection running at once (an ack waiting for room in the
    /// client's queue holds its place); more get `rate_limited`, never a queue.
    #[arg(long, env = "SOCKET_MAX_INFLIGHT", default_value_t = SOCKET_MAX_INFLIGHT)]
    pub socket_max_inflight: usize,

    /// Socket.IO connections this instance takes; more are refused at the handshake
    /// (`server_full`).
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Socket.IO connections from one client address; more are refused at the handshake
    /// (`too_many_connections`). 0: no cap (behind a proxy every client has its address).
    #[arg(long, env = "MAX_CONNECTIONS_PER_IP", default_value_t = MAX_CONNECTIONS_PER_IP)]
    pub max_connections_per_ip: usize,
}

impl Default for SocketLimits {
    fn default() -> Self {
        Self {
            socket_event_rate: SOCKET_EVENT_RATE,
            socket_event_burst: SOCKET_EVENT_BURST,
            socket_flood_secs: SOCKET_FLOOD_SECS,
            socket_max_inflight: SOCKET_MAX_INFLIGHT,
            max_connections: MAX_CONNECTIONS,
            max_connections_per_ip: MAX_CONNECTIONS_PER_IP,
        }
    }
}

impl SocketLimits {
    /// Check every value; the error names the setting and the reason.
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("SOCKET_EVENT_RATE", self.socket_event_rate, 1, 1_000_000)?;
        in_range("SOCKET_EVENT_BURST", self.socket_event_burst, 1, 1_000_000)?;
        in_range("SOCKET_FLOOD_SECS", self.socket_flood_secs, 1, 3600)?;
        in_range("SOCKET_MAX_INFLIGHT", self.socket_max_inflight, 1, 65_536)?;
        in_range("MAX_CONNECTIONS", self.max_connections, 1, 10_000_000)?;
        in_range(
            "MAX_CONNECTIONS_PER_IP",
            self.max_connections_per_ip,
            0,
            10_000_000,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults, in dev auth mode (token mode needs a secret; tested in `auth`).
    fn dev() -> Settings {
        let mut s = Settings::default();
        s.auth.mode = crate::services::auth::AuthMode::Dev;
        s
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(dev().validate(), Ok(()));
    }

    #[test]
    fn bad_url_is_named() {
        let s = Settings {
            redis_url: "http//nope".into(),
            ..dev()
        };
        assert_eq!(s.validate().unwrap_err().setting, "REDIS_URL");
    }

    #[test]
    fn a_lock_ttl_below_the_redlock_bound_is_named() {
        for ttl in [10, 60, 103] {
            let s = Settings {
                lock_ttl_ms: ttl,
                ..dev()
            };
            let e = s.validate().unwrap_err();
            assert_eq!(e.setting, "LOCK_TTL_MS", "{ttl}");
            assert!(e.reason.contains("Redlock minimum of 104 ms"), "{e}");
        }
        let s = Settings {
            lock_ttl_ms: 104,
            ..dev()
        };
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn socket_limits_are_named() {
        let mut s = dev();
        s.limits.socket_event_rate = 0;
        assert_eq!(s.validate().unwrap_err().setting, "SOCKET_EVENT_RATE");
        let mut s = dev();
        s.limits.socket_max_inflight = 0;
        assert_eq!(s.validate().unwrap_err().setting, "SOCKET_MAX_INFLIGHT");
        let mut s = dev();
        s.limits.max_connections = 0;
        assert_eq!(s.validate().unwrap_err().setting, "MAX_CONNECTIONS");
        let mut s = dev();
        s.limits.max_connections_per_ip = 0;
        assert_eq!(s.validate(), Ok(()), "0 turns the per-address cap off");
    }

    #[test]
    fn debug_never_shows_a_password() {
        let s = Settings {
            redis_url: "rediss://arena:hunter2@h:6380".into(),
            redlock_urls: Some("redis://a:pw1@m1:1, redis://:pw2@m2:2".into()),
            ..Settings::default()
        };
        let mut s = s;
        s.auth.token_secret = Some("token-secret-token-secret-token-secret".into());
        let shown = format!("{s:?}");
        for secret in ["hunter2", "pw1", "pw2", "token-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("rediss://arena:***@h:6380"), "{shown}");
        assert!(shown.contains("redis://:***@m2:2"), "{shown}");
    }

    #[test]
    fn tls_files_are_named_and_need_a_tls_url() {
        let mut s = dev();
        s.redis_tls.redis_tls_cert = Some("/nonexistent/cert.pem".into());
        assert_eq!(s.validate().unwrap_err().setting, "REDIS_TLS_KEY");
        let mut s = Settings {
            redis_url: "rediss://h:6380".into(),
            ..dev()
        };
        s.redis_tls.redis_tls_ca = Some("/nonexistent/ca.pem".into());
        let e = s.validate().unwrap_err();
        assert_eq!(e.setting, "REDIS_TLS_CA");
        assert!(e.reason.contains("cannot read CA certificate"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["h".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(&ca, cert.pem()).unwrap();
        s.redis_tls.redis_tls_ca = Some(ca);
        assert_eq!(s.validate(), Ok(()));
        // The CA only applies to rediss:// URLs: with none, it is a mistake.
        s.redis_url = "redis://h:6379".into();
        let e = s.validate().unwrap_err();
        assert_eq!(e.setting, "REDIS_TLS_CA");
        assert!(e.reason.contains("rediss://"), "{e}");
    }

    #[test]
    fn masters_default_to_the_main_redis() {
        let mut s = Settings {
            redis_url: "redis://main:6379".into(),
            ..dev()
        };
        assert_eq!(s.lock_masters(), ["redis://main:6379"]);
        s.redlock_urls = Some("redis://a:1, redis://b:2,redis://c:3".into());
        assert_eq!(
            s.lock_masters(),
            ["redis://a:1", "redis://b:2", "redis://c:3"]
        );
    }
}
