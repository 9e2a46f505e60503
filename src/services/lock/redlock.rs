//! The Redlock client: acquiring a lease (a SET NX round over the masters, quorum
//! counting, the fencing INCR) and retries with jittered backoff. The connections and
//! the rounds themselves live in `masters.rs`, shared with the leases.

use std::sync::Arc;
use std::time::Duration;

use crate::redis::Conn;
use tokio::time::Instant;

use super::error::LockError;
use super::lease::Lease;
use super::masters::{Masters, Reply, Tally};
use super::settings::{LockConfig, LockMetrics, Resource};
use crate::redis::{Endpoint, keys};

/// A Redlock client: one connection per master plus one to the data Redis. Cheap to
/// clone; clones share the connections.
#[derive(Clone)]
pub struct Redlock {
    masters: Masters,
}

impl Redlock {
    /// Masters at `masters` (connections open lazily: masters may be down at start); the
    /// data Redis is the first one. Errors: a bad URL, a URL listed twice, bad settings, no
    /// URL. Call it inside a Tokio runtime (the connections start tasks).
    pub fn new(endpoints: &[Endpoint], config: LockConfig) -> Result<Self, LockError> {
        config.check()?;
        let first = endpoints
            .first()
            .ok_or_else(|| LockError::Config("at least one master URL is needed".into()))?;
        for (i, e) in endpoints.iter().enumerate() {
            if endpoints[..i].iter().any(|o| o.same_url(e)) {
                return Err(LockError::Config(format!(
                    "master {e} is listed twice: one master would count twice toward the quorum"
                )));
            }
        }
        let open = |e: &Endpoint, timeout| {
            crate::redis::command_connection(e, timeout).map_err(|source| LockError::Url {
                url: e.redacted(),
                source,
            })
        };
        let masters = endpoints
            .iter()
            .map(|e| open(e, config.node_timeout))
            .collect::<Result<Vec<_>, _>>()?;
        let data = open(first, config.data_timeout)?;
        Ok(Self {
            masters: Masters::new(masters, data, config, LockMetrics::default()),
        })
    }

    /// Use `data` as the data Redis (fencing counters and fenced writes), e.g. the app's
    /// main connection. Every lease of every Redlock guarding the same data must use the
    /// same data Redis.
    pub fn with_data(mut self, data: Conn) -> Self {
        self.masters.set_data(data);
        self
    }

    pub fn with_metrics(mut self, metrics: LockMetrics) -> Self {
        self.masters.set_metrics(metrics);
        self
    }

    pub fn config(&self) -> &LockConfig {
        self.masters.config()
    }

    /// Number of masters N.
    pub fn masters(&self) -> usize {
        self.masters.masters()
    }

    /// Masters needed for a lease: N/2 + 1.
    pub fn quorum(&self) -> usize {
        self.masters.quorum()
    }

    /// A handle to the data Redis connection.
    pub fn data(&self) -> Conn {
        self.masters.data()
    }

    /// One attempt, zero retries: a lease, or why not (`NoQuorum` when held elsewhere).
    pub async fn try_acquire(&self, resource: &Resource) -> Result<Lease, LockError> {
        let started = Instant::now();
        let lease = self.attempt(resource).await?;
        self.masters
            .metrics()
            .acquire_duration
            .record(started.elapsed().as_secs_f64());
        Ok(lease)
    }

    /// Attempt until one succeeds, sleeping a jittered, doubling backoff in between; no
    /// attempt starts after `deadline`. Gives up early on errors a retry cannot fix.
    pub async fn acquire_until(
        &self,
        resource: &Resource,
        deadline: Instant,
    ) -> Result<Lease, LockError> {
        let started = Instant::now();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let last = match self.attempt(resource).await {
                Ok(lease) => {
                    self.masters
                        .metrics()
                        .acquire_duration
                        .record(started.elapsed().as_secs_f64());
                    return Ok(lease);
                }
                Err(e) if !e.is_retryable() => return Err(e),
                Err(e) => e,
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(LockError::NotAcquired {
                    resource: resource.to_string(),
                    waited: now - started,
                    attempts,
                    last: Box::new(last),
                });
            }
            tokio::time::sleep(backoff(self.config(), attempts).min(deadline - now)).await;
        }
    }

    /// [`acquire_until`](Self::acquire_until) `now + within`.
    pub async fn acquire_within(
        &self,
        resource: &Resource,
        within: Duration,
    ) -> Result<Lease, LockError> {
        self.acquire_until(resource, Instant::now() + within).await
    }

    async fn attempt(&self, resource: &Resource) -> Result<Lease, LockError> {
        let cfg = self.config();
        let key: Arc<str> = keys::lock_lease(resource.as_str()).into();
        let token: Arc<str> = format!("{:032x}", rand::random::<u128>()).into();
        let ttl_ms = cfg.ttl.as_millis() as u64;
        let start = Instant::now();
        let replies = self
            .masters
            .on_masters(None, cfg.node_timeout, true, |mut conn| {
                let (key, token) = (key.clone(), token.clone());
                async move {
                    let set: Option<String> = redis::cmd("SET")
                        .arg(&*key)
                        .arg(&*token)
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl_ms)
                        .query_async(&mut conn)
                        .await?;
                    Ok(set.is_some())
                }
            })
            .await;
        let tally = Tally::of(&replies);
        // Masters that granted, and those that did not answer (a late SET may still land).
        let taken: Vec<usize> = replies
            .iter()
            .enumerate()
            .filter(|(_, r)| !matches!(r, Reply::Ok(false)))
            .map(|(i, _)| i)
            .collect();
        if tally.granted < self.quorum() {
            self.masters.release_in_background(key, token, taken);
            return Err(LockError::NoQuorum {
                granted: tally.granted,
                held: tally.refused,
                failed: tally.failed,
                masters: self.masters(),
                quorum: self.quorum(),
            });
        }
        let mut data = self.data();
        let mut incr_cmd = redis::cmd("INCR");
        incr_cmd.arg(resource.fence_key());
        let incr = incr_cmd.query_async::<u64>(&mut data);
        let fencing_token = match tokio::time::timeout(cfg.node_timeout, incr).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                self.masters.release_in_background(key, token, taken);
                return Err(LockError::Fence(e.to_string()));
            }
            Err(_) => {
                self.masters.release_in_background(key, token, taken);
                return Err(LockError::Fence(format!(
                    "no answer within {:?}",
                    cfg.node_timeout
                )));
            }
        };
        let elapsed = start.elapsed();
        if elapsed + cfg.drift() >= cfg.ttl {
            self.masters.release_in_background(key, token, taken);
            return Err(LockError::NoValidity {
                elapsed,
                ttl: cfg.ttl,
            });
        }
        let valid_until = start + cfg.ttl - cfg.drift();
        Ok(Lease::start(
            self.masters.clone(),
            resource.clone(),
            key,
            token,
            fencing_token,
            start,
            valid_until,
        ))
    }
}

impl std::fmt::Debug for Redlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redlock")
            .field("masters", &self.masters())
            .field("config", self.config())
            .finish_non_exhaustive()
    }
}

/// The sleep before attempt `attempt + 1`: `retry_delay × 2^(attempt−1)` capped at
/// `max_retry_delay`, drawn uniformly from [d/2, d] so that racing callers spread out.
fn backoff(cfg: &LockConfig, attempt: u32) -> Duration {
    let d = cfg
        .retry_delay
        .saturating_mul(1 << attempt.saturating_sub(1).min(10))
        .min(cfg.max_retry_delay);
    d / 2 + d.mul_f64(rand::random::<f64>() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let c = LockConfig::default()
            .with_retry_delay(Duration::from_millis(20), Duration::from_millis(100));
        for _ in 0..100 {
            let first = backoff(&c, 1);
            assert!(first >= Duration::from_millis(10) && first <= Duration::from_millis(20));
            let third = backoff(&c, 3);
            assert!(third >= Duration::from_millis(40) && third <= Duration::from_millis(80));
            let capped = backoff(&c, 30);
            assert!(capped >= Duration::from_millis(50) && capped <= Duration::from_millis(100));
        }
    }
}
