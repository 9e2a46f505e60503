//! The Redlock client: parallel rounds over the masters, bounded per master, quorum
//! counting, the fencing INCR, and retries with jittered backoff.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use metrics::Counter;
use redis::RedisError;
use redis::aio::ConnectionManager;
use tokio::time::Instant;

use super::{Lease, LockConfig, LockError, LockMetrics, Released, Resource};
use crate::redis::{keys, scripts};

/// A Redlock client: one connection per master plus one to the data Redis. Cheap to
/// clone; clones share the connections.
#[derive(Clone)]
pub struct Redlock {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    masters: Vec<ConnectionManager>,
    data: ConnectionManager,
    config: LockConfig,
    metrics: LockMetrics,
}

/// One master's answer within a round.
#[derive(Clone, Copy)]
enum Reply {
    Ok(bool),
    /// An error or a timeout.
    Failed,
    /// Not asked, or not waited for once a quorum had answered.
    Pending,
}

/// How the masters answered a SET NX or an extend round.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tally {
    pub(crate) granted: usize,
    /// Answered "not yours" (held by another holder, or expired).
    pub(crate) refused: usize,
    /// Errors and timeouts.
    pub(crate) failed: usize,
}

impl Redlock {
    /// Masters at `urls` (connections open lazily: masters may be down at start); the
    /// data Redis is the first one. Errors: a bad URL, a URL listed twice, bad settings,
    /// no URL. Call it inside a Tokio runtime (the connections start tasks).
    pub fn new<S: AsRef<str>>(urls: &[S], config: LockConfig) -> Result<Self, LockError> {
        config.check()?;
        let first = urls
            .first()
            .ok_or_else(|| LockError::Config("at least one master URL is needed".into()))?;
        for (i, url) in urls.iter().enumerate() {
            if urls[..i].iter().any(|u| u.as_ref() == url.as_ref()) {
                return Err(LockError::Config(format!(
                    "master {} is listed twice: one master would count twice toward the quorum",
                    crate::config::redact_url(url.as_ref())
                )));
            }
        }
        let open = |url: &str, timeout| {
            crate::redis::command_connection(url, timeout).map_err(|source| LockError::Url {
                url: crate::config::redact_url(url),
                source,
            })
        };
        let masters = urls
            .iter()
            .map(|u| open(u.as_ref(), config.node_timeout))
            .collect::<Result<Vec<_>, _>>()?;
        let data = open(first.as_ref(), config.data_timeout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                masters,
                data,
                config,
                metrics: LockMetrics::default(),
            }),
        })
    }

    /// Use `data` as the data Redis (fencing counters and fenced writes), e.g. the app's
    /// main connection. Every lease of every Redlock guarding the same data must use the
    /// same data Redis.
    pub fn with_data(mut self, data: ConnectionManager) -> Self {
        Arc::make_mut(&mut self.inner).data = data;
        self
    }

    pub fn with_metrics(mut self, metrics: LockMetrics) -> Self {
        Arc::make_mut(&mut self.inner).metrics = metrics;
        self
    }

    pub fn config(&self) -> &LockConfig {
        &self.inner.config
    }

    /// Number of masters N.
    pub fn masters(&self) -> usize {
        self.inner.masters.len()
    }

    /// Masters needed for a lease: N/2 + 1.
    pub fn quorum(&self) -> usize {
        self.masters() / 2 + 1
    }

    /// A handle to the data Redis connection.
    pub fn data(&self) -> ConnectionManager {
        self.inner.data.clone()
    }

    /// One attempt, zero retries: a lease, or why not (`NoQuorum` when held elsewhere).
    pub async fn try_acquire(&self, resource: &Resource) -> Result<Lease, LockError> {
        let started = Instant::now();
        let lease = self.attempt(resource).await?;
        self.inner
            .metrics
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
                    self.inner
                        .metrics
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
            self.release_in_background(key, token, taken);
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
        incr_cmd.arg(keys::lock_fence(resource.as_str()));
        let incr = incr_cmd.query_async::<u64>(&mut data);
        let fencing_token = match tokio::time::timeout(cfg.node_timeout, incr).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                self.release_in_background(key, token, taken);
                return Err(LockError::Fence(e.to_string()));
            }
            Err(_) => {
                self.release_in_background(key, token, taken);
                return Err(LockError::Fence(format!(
                    "no answer within {:?}",
                    cfg.node_timeout
                )));
            }
        };
        let elapsed = start.elapsed();
        if elapsed + cfg.drift() >= cfg.ttl {
            self.release_in_background(key, token, taken);
            return Err(LockError::NoValidity {
                elapsed,
                ttl: cfg.ttl,
            });
        }
        let valid_until = start + cfg.ttl - cfg.drift();
        Ok(Lease::start(
            self.clone(),
            resource.clone(),
            key,
            token,
            fencing_token,
            start,
            valid_until,
        ))
    }

    /// Run `op` on the masters `which` (all when `None`) in parallel, each bounded by
    /// `budget`; the replies in master order. With `until_quorum`, return once a quorum
    /// said yes: one frozen master then delays nobody. The unfinished commands still run to
    /// completion (or their timeout) in the background, so every reachable master gets its
    /// copy, which keeps the lease alive through the failure of one more master.
    async fn on_masters<F, Fut>(
        &self,
        which: Option<&[usize]>,
        budget: Duration,
        until_quorum: bool,
        op: F,
    ) -> Vec<Reply>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<bool, RedisError>> + Send + 'static,
    {
        let mut running: FuturesUnordered<_> = (self.inner.masters.iter().enumerate())
            .filter(|(i, _)| which.is_none_or(|w| w.contains(i)))
            .map(|(i, conn)| {
                let fut = tokio::time::timeout(budget, op(conn.clone()));
                async move { (i, fut.await) }
            })
            .collect();
        let mut replies = vec![Reply::Pending; self.masters()];
        let mut granted = 0;
        while let Some((i, reply)) = running.next().await {
            replies[i] = match reply {
                Ok(Ok(yes)) => Reply::Ok(yes),
                Ok(Err(e)) => {
                    tracing::debug!(master = i, error = %e, "redlock master failed");
                    Reply::Failed
                }
                Err(_) => {
                    tracing::debug!(master = i, ?budget, "redlock master timed out");
                    Reply::Failed
                }
            };
            granted += usize::from(matches!(replies[i], Reply::Ok(true)));
            if until_quorum && granted >= self.quorum() && !running.is_empty() {
                tokio::spawn(async move { while running.next().await.is_some() {} });
                break;
            }
        }
        replies
    }

    /// Reset the lease TTL on every master that still holds `token`.
    pub(crate) async fn extend_round(
        &self,
        key: &Arc<str>,
        token: &Arc<str>,
        budget: Duration,
    ) -> Tally {
        let ttl_ms = self.config().ttl.as_millis() as u64;
        let replies = self
            .on_masters(None, budget, true, |mut conn| {
                let (key, token) = (key.clone(), token.clone());
                async move { scripts::lock_extend(&mut conn, &key, &token, ttl_ms).await }
            })
            .await;
        Tally::of(&replies)
    }

    /// Delete the lease on the masters `which` (all when `None`) where it still holds `token`.
    pub(crate) async fn release_round(
        &self,
        key: &Arc<str>,
        token: &Arc<str>,
        which: Option<&[usize]>,
    ) -> Released {
        let replies = self
            .on_masters(which, self.config().node_timeout, false, |mut conn| {
                let (key, token) = (key.clone(), token.clone());
                async move { scripts::lock_release(&mut conn, &key, &token).await }
            })
            .await;
        let tally = Tally::of(&replies);
        Released {
            deleted: tally.granted,
            failed: tally.failed,
        }
    }

    /// Release a failed attempt without making the caller wait for slow masters.
    fn release_in_background(&self, key: Arc<str>, token: Arc<str>, which: Vec<usize>) {
        if which.is_empty() {
            return;
        }
        let lock = self.clone();
        tokio::spawn(async move { lock.release_round(&key, &token, Some(&which)).await });
    }

    pub(crate) fn lost_metric(&self) -> &Counter {
        &self.inner.metrics.lost
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

impl Tally {
    fn of(replies: &[Reply]) -> Self {
        replies.iter().fold(Tally::default(), |mut t, r| {
            match r {
                Reply::Ok(true) => t.granted += 1,
                Reply::Ok(false) => t.refused += 1,
                Reply::Failed => t.failed += 1,
                Reply::Pending => {}
            }
            t
        })
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
