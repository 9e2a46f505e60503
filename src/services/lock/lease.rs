//! A held lock: the [`Lease`] guard and its renewal watchdog.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::masters::{Masters, Released};
use super::settings::Resource;

/// A lock held on a quorum of masters.
///
/// - **At most one holder per resource while valid**: while [`is_valid`](Self::is_valid)
///   is true no other lease of the same resource is valid (see the module docs for the
///   timing assumptions).
/// - **Renewed while held**: a watchdog extends the lease on every master in parallel
///   about every third of the TTL; each renewal that reaches a quorum moves the end of
///   validity to `round start + TTL − drift`.
/// - **A lost lease is signalled before validity runs out**: when renewal cannot reach a
///   quorum before one node timeout ahead of the end of validity, or too many masters
///   answer that the key is gone, [`lost`](Self::lost) resolves and `is_valid` turns false.
///   A paused process can still miss the signal: that is what the fencing token is for.
/// - **A stale fencing token can never commit**: [`fenced_set`](Self::fenced_set) and
///   [`fenced_incr_by`](Self::fenced_incr_by) commit only while no newer lease of the
///   resource has been granted its token.
///
/// Dropping the lease, or [`release`](Self::release), stops the watchdog and deletes the
/// key on every master where it still holds this lease's token (never another holder's).
pub struct Lease {
    /// The masters it was granted on, to renew and release it.
    pub(super) lock: Masters,
    pub(super) resource: Resource,
    token: Arc<str>,
    pub(super) fencing_token: u64,
    state: Arc<State>,
    stop: CancellationToken,
    watchdog: Option<JoinHandle<Released>>,
}

/// Why a lease was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LossReason {
    /// Too many masters answered that the key no longer holds our token.
    #[error(
        "{refused} of {masters} masters no longer hold the lease; a quorum of {quorum} is out of reach"
    )]
    Refused {
        refused: usize,
        masters: usize,
        quorum: usize,
    },
    /// No renewal reached a quorum in time (masters down, frozen or slow), or renewal is off.
    #[error("validity ran out before a renewal reached a quorum")]
    Expired,
}

/// Shared between the guard and its watchdog.
struct State {
    /// End of validity; only moves forward. A std mutex: held for a copy, never across await.
    valid_until: Mutex<Instant>,
    lost: CancellationToken,
    reason: OnceLock<LossReason>,
}

impl State {
    fn valid_until(&self) -> Instant {
        *self.valid_until.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn extend_to(&self, until: Instant) {
        let mut v = self.valid_until.lock().unwrap_or_else(|p| p.into_inner());
        *v = (*v).max(until);
    }
}

impl Lease {
    pub(super) fn start(
        lock: Masters,
        resource: Resource,
        key: Arc<str>,
        token: Arc<str>,
        fencing_token: u64,
        acquired_at: Instant,
        valid_until: Instant,
    ) -> Self {
        let state = Arc::new(State {
            valid_until: Mutex::new(valid_until),
            lost: CancellationToken::new(),
            reason: OnceLock::new(),
        });
        let stop = CancellationToken::new();
        let watchdog = tokio::spawn(watchdog(
            lock.clone(),
            resource.clone(),
            key,
            token.clone(),
            state.clone(),
            stop.clone(),
            acquired_at,
        ));
        Self {
            lock,
            resource,
            token,
            fencing_token,
            state,
            stop,
            watchdog: Some(watchdog),
        }
    }

    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The random 128-bit token stored on the masters (32 hex digits).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// This lease's fencing token: larger than that of every lease of the resource granted
    /// before it (by the same data Redis).
    pub fn fencing_token(&self) -> u64 {
        self.fencing_token
    }

    /// Not lost, and the validity has not run out.
    pub fn is_valid(&self) -> bool {
        !self.state.lost.is_cancelled() && Instant::now() < self.state.valid_until()
    }

    /// Validity left (zero once lost).
    pub fn remaining(&self) -> Duration {
        if self.state.lost.is_cancelled() {
            return Duration::ZERO;
        }
        self.state
            .valid_until()
            .saturating_duration_since(Instant::now())
    }

    /// Resolves when the lease is lost (at once if it already is). Not on release or drop.
    pub async fn lost(&self) {
        self.state.lost.cancelled().await;
    }

    /// A token cancelled when the lease is lost, to hand to tasks doing the guarded work.
    pub fn lost_token(&self) -> CancellationToken {
        self.state.lost.clone()
    }

    /// Why the lease was lost, once it is.
    pub fn loss(&self) -> Option<LossReason> {
        self.state.reason.get().copied()
    }

    /// Stop renewing and delete the lease on every master that still holds its token.
    pub async fn release(mut self) -> Released {
        self.stop.cancel();
        match self.watchdog.take() {
            Some(task) => task.await.unwrap_or_default(),
            None => Released::default(),
        }
    }
}

impl Drop for Lease {
    /// The watchdog task sees the stop and releases on its own.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("resource", &self.resource)
            .field("fencing_token", &self.fencing_token)
            .field("valid", &self.is_valid())
            .finish_non_exhaustive()
    }
}

/// Renew until stopped or lost; on stop, release. Owns the release so that dropping the
/// guard (which cannot await) releases too.
async fn watchdog(
    lock: Masters,
    resource: Resource,
    key: Arc<str>,
    token: Arc<str>,
    state: Arc<State>,
    stop: CancellationToken,
    acquired_at: Instant,
) -> Released {
    let cfg = lock.config().clone();
    let every = cfg.renew.then(|| cfg.renew_interval());
    let mut renew_at = every.map(|e| acquired_at + e);
    loop {
        // Give up one node timeout before the end: a last round could not finish in time.
        let lost_at = state.valid_until() - cfg.node_timeout.min(cfg.ttl / 4);
        let wake = renew_at.map_or(lost_at, |r| r.min(lost_at));
        tokio::select! {
            biased;
            _ = stop.cancelled() => return lock.release_round(&key, &token, None).await,
            _ = tokio::time::sleep_until(wake) => {}
        }
        let now = Instant::now();
        if now >= lost_at {
            lose(&lock, &resource, &state, LossReason::Expired);
            break;
        }
        let Some(every) = every else { continue };
        let tally = lock
            .extend_round(&key, &token, cfg.node_timeout.min(lost_at - now))
            .await;
        if tally.granted >= lock.quorum() {
            state.extend_to(now + cfg.ttl - cfg.drift());
            renew_at = Some(now + every);
        } else if tally.refused > lock.masters() - lock.quorum() {
            let reason = LossReason::Refused {
                refused: tally.refused,
                masters: lock.masters(),
                quorum: lock.quorum(),
            };
            lose(&lock, &resource, &state, reason);
            break;
        } else {
            tracing::debug!(resource = %resource, granted = tally.granted, failed = tally.failed,
                "lease renewal missed the quorum, retrying");
            renew_at = Some(Instant::now() + cfg.retry_delay.min(every / 2));
        }
    }
    stop.cancelled().await;
    lock.release_round(&key, &token, None).await
}

fn lose(lock: &Masters, resource: &Resource, state: &State, reason: LossReason) {
    let _ = state.reason.set(reason);
    state.lost.cancel();
    lock.lost_metric().increment(1);
    tracing::warn!(resource = %resource, %reason, "lease lost");
}
