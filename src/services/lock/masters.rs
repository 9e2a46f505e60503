//! The connections a Redlock works through (one per master, one to the data Redis) and
//! the rounds run on them: parallel, bounded per master, counted toward the quorum.
//! Separate from `redlock.rs` so that a `Lease` can renew and release through them
//! without depending on the client that acquired it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::redis::Conn;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use metrics::Counter;
use redis::RedisError;

use super::scripts;
use super::settings::{LockConfig, LockMetrics};

/// One connection per master plus one to the data Redis, with the settings and the
/// metric handles. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub(super) struct Masters {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    masters: Vec<Conn>,
    data: Conn,
    config: LockConfig,
    metrics: LockMetrics,
}

/// One master's answer within a round.
#[derive(Clone, Copy)]
pub(super) enum Reply {
    Ok(bool),
    /// An error or a timeout.
    Failed,
    /// Not asked, or not waited for once a quorum had answered.
    Pending,
}

/// What releasing did: masters where the key was ours and was deleted, and masters that
/// failed to answer (their copy expires with its TTL).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Released {
    pub deleted: usize,
    pub failed: usize,
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

impl Masters {
    /// `masters` in master order; `data` is the data Redis.
    pub(super) fn new(
        masters: Vec<Conn>,
        data: Conn,
        config: LockConfig,
        metrics: LockMetrics,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                masters,
                data,
                config,
                metrics,
            }),
        }
    }

    /// Replace the data Redis connection (only this handle and clones made after it see it).
    pub(super) fn set_data(&mut self, data: Conn) {
        Arc::make_mut(&mut self.inner).data = data;
    }

    /// Replace the metric handles (only this handle and clones made after it see them).
    pub(super) fn set_metrics(&mut self, metrics: LockMetrics) {
        Arc::make_mut(&mut self.inner).metrics = metrics;
    }

    pub(super) fn config(&self) -> &LockConfig {
        &self.inner.config
    }

    pub(super) fn metrics(&self) -> &LockMetrics {
        &self.inner.metrics
    }

    /// Number of masters N.
    pub(super) fn masters(&self) -> usize {
        self.inner.masters.len()
    }

    /// Masters needed for a lease: N/2 + 1.
    pub(super) fn quorum(&self) -> usize {
        self.masters() / 2 + 1
    }

    /// A handle to the data Redis connection.
    pub(super) fn data(&self) -> Conn {
        self.inner.data.clone()
    }

    /// Run `op` on the masters `which` (all when `None`) in parallel, each bounded by
    /// `budget`; the replies in master order. With `until_quorum`, return once a quorum
    /// said yes: one frozen master then delays nobody. The unfinished commands still run to
    /// completion (or their timeout) in the background, so every reachable master gets its
    /// copy, which keeps the lease alive through the failure of one more master.
    pub(super) async fn on_masters<F, Fut>(
        &self,
        which: Option<&[usize]>,
        budget: Duration,
        until_quorum: bool,
        op: F,
    ) -> Vec<Reply>
    where
        F: Fn(Conn) -> Fut,
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
    pub(super) fn release_in_background(&self, key: Arc<str>, token: Arc<str>, which: Vec<usize>) {
        if which.is_empty() {
            return;
        }
        let masters = self.clone();
        tokio::spawn(async move { masters.release_round(&key, &token, Some(&which)).await });
    }

    pub(crate) fn lost_metric(&self) -> &Counter {
        &self.inner.metrics.lost
    }
}

impl Tally {
    pub(super) fn of(replies: &[Reply]) -> Self {
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
