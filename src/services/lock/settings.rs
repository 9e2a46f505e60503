//! Settings of a Redlock, resource names, and the metric handles it feeds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Histogram};

use super::error::LockError;
use crate::redis::keys;

/// Settings of a [`Redlock`](super::Redlock): `LockConfig::default()` plus `with_*`.
#[derive(Debug, Clone)]
pub struct LockConfig {
    /// Lease time-to-live on each master (default 5 s).
    pub ttl: Duration,
    /// How long one master may take to answer one command before it counts as failed
    /// (default 50 ms). redis-rs's default of 500 ms would let one frozen master stall
    /// every acquisition that long.
    pub node_timeout: Duration,
    /// Renew the lease while it is held (default true).
    pub renew: bool,
    /// Renewal period (default a third of the TTL).
    pub renew_every: Option<Duration>,
    /// First backoff of `acquire_until` (default 20 ms); it doubles up to
    /// `max_retry_delay` (default 250 ms), each sleep drawn from [d/2, d].
    pub retry_delay: Duration,
    pub max_retry_delay: Duration,
    /// Response timeout of the data connection that `Redlock::new` opens (default 500 ms).
    pub data_timeout: Duration,
}

impl Default for LockConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(5),
            node_timeout: Duration::from_millis(50),
            renew: true,
            renew_every: None,
            retry_delay: Duration::from_millis(20),
            max_retry_delay: Duration::from_millis(250),
            data_timeout: Duration::from_millis(500),
        }
    }
}

impl LockConfig {
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
    pub fn with_node_timeout(mut self, timeout: Duration) -> Self {
        self.node_timeout = timeout;
        self
    }
    /// Renew every `every`, or not at all with `None` (the lease then simply runs out).
    pub fn with_renewal(mut self, every: Option<Duration>) -> Self {
        self.renew = every.is_some();
        self.renew_every = every;
        self
    }
    pub fn with_retry_delay(mut self, first: Duration, max: Duration) -> Self {
        self.retry_delay = first;
        self.max_retry_delay = max;
        self
    }

    /// Clock drift allowance: 1% of the TTL + 2 ms.
    pub fn drift(&self) -> Duration {
        self.ttl / 100 + Duration::from_millis(2)
    }

    pub(super) fn renew_interval(&self) -> Duration {
        self.renew_every.unwrap_or(self.ttl / 3)
    }

    /// The smallest TTL (ms) that passes [`check`](Self::check) with this node timeout:
    /// an acquire round (up to two node timeouts) plus the drift must fit inside it.
    pub fn min_ttl_ms(&self) -> u64 {
        (10..=3_600_000)
            .find(|&t| {
                let ttl = Duration::from_millis(t);
                self.node_timeout * 2 + ttl / 100 + Duration::from_millis(2) < ttl
            })
            .unwrap_or(u64::MAX)
    }

    /// Refuse settings under which a lease could not work (one line saying why).
    pub fn check(&self) -> Result<(), LockError> {
        let bad = |m: String| Err(LockError::Config(m));
        if self.ttl < Duration::from_millis(10) {
            return bad(format!("ttl {:?} is below the minimum of 10ms", self.ttl));
        }
        if self.node_timeout.is_zero() {
            return bad("node_timeout must be above zero".into());
        }
        if self.node_timeout * 2 + self.drift() >= self.ttl {
            return bad(format!(
                "ttl {:?} must exceed 2 × node_timeout {:?} + drift {:?}, or an acquire \
                 round can use up the whole lease",
                self.ttl,
                self.node_timeout,
                self.drift()
            ));
        }
        if self.renew && self.renew_interval() * 2 > self.ttl {
            return bad(format!(
                "renew_every {:?} must be at most half the ttl {:?}",
                self.renew_interval(),
                self.ttl
            ));
        }
        if self.retry_delay.is_zero() || self.max_retry_delay < self.retry_delay {
            return bad("retry_delay must be above zero and at most max_retry_delay".into());
        }
        Ok(())
    }
}

/// The name of a lockable resource: 1–128 chars `[A-Za-z0-9_:.-]`. It becomes the hash
/// tag `{lock:<name>}` of the lease, the fence and the guarded data keys — unless the
/// owner moves the fence (and so the guarded data) into a hash tag of its own with
/// [`Resource::with_fence_key`], e.g. to append to a stream shared by many resources in
/// the same atomic step as the fenced write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    name: Arc<str>,
    /// Where the fencing counter lives on the data Redis; `None`: `arena:{lock:<r>}:fence`.
    fence: Option<Arc<str>>,
}

impl Resource {
    pub fn parse(name: &str) -> Result<Self, LockError> {
        let invalid = |reason| LockError::InvalidResource {
            name: name.chars().take(64).collect(),
            reason,
        };
        if name.is_empty() || name.len() > 128 {
            return Err(invalid("must be 1 to 128 characters"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_:.-".contains(&b))
        {
            return Err(invalid("allowed characters are A-Z a-z 0-9 _ : . -"));
        }
        Ok(Self {
            name: name.into(),
            fence: None,
        })
    }

    /// Keep this resource's fencing counter at `key` (on the data Redis) instead of
    /// `arena:{lock:<r>}:fence`. The key must carry a hash tag: fenced writes then accept
    /// only keys in that tag. Every holder of the resource must name the same key.
    pub fn with_fence_key(mut self, key: String) -> Result<Self, LockError> {
        if keys::hash_tag(&key).is_none() {
            return Err(LockError::InvalidResource {
                name: key.chars().take(64).collect(),
                reason: "a fence key needs a {hash tag}",
            });
        }
        self.fence = Some(key.into());
        Ok(self)
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The fencing counter's key on the data Redis (INCR at every acquire).
    pub fn fence_key(&self) -> String {
        match &self.fence {
            Some(k) => k.to_string(),
            None => keys::lock_fence(&self.name),
        }
    }

    /// A data key guarded by this resource (`arena:{lock:<r>}:data:<name>`): fenced
    /// writes accept any key in the fence's hash tag.
    pub fn data_key(&self, name: &str) -> String {
        keys::lock_data(&self.name, name)
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Metric handles a [`Redlock`](super::Redlock) feeds (`arena_lock_acquire_duration_seconds`,
/// `arena_lock_lost_total`); no-ops by default.
#[derive(Clone)]
pub struct LockMetrics {
    /// Seconds from the call to a granted lease (successful acquisitions only).
    pub acquire_duration: Histogram,
    /// Leases whose loss was signalled to their holder.
    pub lost: Counter,
}

impl Default for LockMetrics {
    fn default() -> Self {
        Self {
            acquire_duration: Histogram::noop(),
            lost: Counter::noop(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::error::ErrorCode;

    #[test]
    fn resource_names_are_checked() {
        assert!(Resource::parse("battle:pair.1-a_b").is_ok());
        for bad in ["", "has space", "brace{", "x}", &"a".repeat(129)] {
            let e = Resource::parse(bad).unwrap_err();
            assert!(matches!(e, LockError::InvalidResource { .. }), "{bad}: {e}");
            assert_eq!(e.code(), ErrorCode::BAD_REQUEST);
        }
    }

    #[test]
    fn settings_are_checked() {
        assert!(LockConfig::default().check().is_ok());
        let tiny = LockConfig::default().with_ttl(Duration::from_millis(200));
        assert!(tiny.clone().check().is_ok());
        let e = tiny
            .with_node_timeout(Duration::from_millis(100))
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("2 × node_timeout"), "{e}");
        let slow_renewal = LockConfig::default().with_renewal(Some(Duration::from_secs(3)));
        assert!(slow_renewal.check().is_err());
    }

    #[test]
    fn drift_is_one_percent_plus_two_ms() {
        let c = LockConfig::default().with_ttl(Duration::from_secs(1));
        assert_eq!(c.drift(), Duration::from_millis(12));
    }
}
