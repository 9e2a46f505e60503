//! Is the cross-instance path live? The state the pub/sub driver consults before every
//! publish, so that an `ok` ack means the event went out while it was.
//!
//! The path is **live** when all three hold:
//! - the subscriber is subscribed: no connection loss since it last (re-)subscribed to
//!   every channel (a loss is the subscriber's `Disconnection` push, or a probe message
//!   that did not come back);
//! - the publisher answers: no publish or command on it has timed out since it last
//!   answered a `PING` (a frozen Redis keeps what was sent and runs it when it resumes);
//! - after any loss, the peers are back: `PUBSUB NUMSUB` shows at least as many
//!   subscribers on our channels as before the loss, or [`SETTLE_MAX`] has passed (a
//!   peer that has not re-subscribed by then is taken as gone). Without this an instance
//!   whose own subscriber came back first would publish to a peer still re-subscribing,
//!   and Redis answers a PUBLISH that reaches nobody like any other.
//!
//! While the path is not live the driver refuses to publish ([`Refusal`]): nothing is
//! sent, and the event is acked `unavailable`. The driver's watchdog brings it back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use metrics::Gauge;
use tokio::sync::Notify;

/// How long after a recovery the driver waits for peers to re-subscribe before it takes
/// the missing ones as gone. Subscribers retry every 500 ms at most, so a peer that
/// shared the outage is back well within this.
pub const SETTLE_MAX: Duration = Duration::from_secs(3);

/// Why a publish was refused before anything was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the pub/sub subscriber is reconnecting or re-subscribing")]
    SubscriberDown,
    #[error("redis has not answered since a command timed out")]
    PublisherStalled,
    #[error("waiting for the other instances to re-subscribe")]
    Settling,
}

/// One look at the state, for the watchdog.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub sub_epoch: u64,
    pub pub_epoch: u64,
    pub sub_ok: bool,
    pub pub_ok: bool,
    pub settled: bool,
    /// Subscribers per channel before the latest loss (what settling waits for).
    pub expected: HashMap<String, u64>,
}

impl Snapshot {
    pub fn live(&self) -> bool {
        self.sub_ok && self.pub_ok && self.settled
    }
}

#[derive(Debug)]
struct State {
    /// Bumped at every subscriber loss; a recovery counts only for the epoch it began in.
    sub_epoch: u64,
    /// Bumped at every publisher stall.
    pub_epoch: u64,
    sub_ok: bool,
    pub_ok: bool,
    settled: bool,
    /// When both connections were last found good after a loss: settling started.
    settling_since: Option<Instant>,
    /// Subscribers per channel we subscribe to, as last seen while live.
    expected: HashMap<String, u64>,
}

/// The health of the pub/sub path. Clones share it.
#[derive(Clone)]
pub struct Health {
    state: Arc<Mutex<State>>,
    wake: Arc<Notify>,
    live: Gauge,
}

impl Health {
    /// Live from the start (the driver connects both sides before it is used).
    pub fn new(live: Gauge) -> Self {
        live.set(1.0);
        Self {
            state: Arc::new(Mutex::new(State {
                sub_epoch: 0,
                pub_epoch: 0,
                sub_ok: true,
                pub_ok: true,
                settled: true,
                settling_since: None,
                expected: HashMap::new(),
            })),
            wake: Arc::default(),
            live,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a holder panicked; the state itself is consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Woken at every loss (the watchdog waits on it between rounds).
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// May a publish go out now?
    pub fn check(&self) -> Result<(), Refusal> {
        let s = self.lock();
        if !s.sub_ok {
            Err(Refusal::SubscriberDown)
        } else if !s.pub_ok {
            Err(Refusal::PublisherStalled)
        } else if !s.settled {
            Err(Refusal::Settling)
        } else {
            Ok(())
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let s = self.lock();
        Snapshot {
            sub_epoch: s.sub_epoch,
            pub_epoch: s.pub_epoch,
            sub_ok: s.sub_ok,
            pub_ok: s.pub_ok,
            settled: s.settled,
            expected: s.expected.clone(),
        }
    }

    /// The subscriber lost its connection, or its subscriptions are in doubt.
    pub fn subscriber_lost(&self) {
        let mut s = self.lock();
        s.sub_epoch += 1;
        s.sub_ok = false;
        s.settled = false;
        s.settling_since = None;
        drop(s);
        self.live.set(0.0);
        self.wake.notify_one();
    }

    /// A command on the publisher timed out (or its connection failed mid-command).
    pub fn publisher_stalled(&self) {
        let mut s = self.lock();
        s.pub_epoch += 1;
        s.pub_ok = false;
        s.settled = false;
        s.settling_since = None;
        drop(s);
        self.live.set(0.0);
        self.wake.notify_one();
    }

    /// Every channel was subscribed again, by a round that began in `epoch`.
    pub fn subscriber_back(&self, epoch: u64, now: Instant) -> bool {
        let mut s = self.lock();
        if s.sub_epoch != epoch {
            return false;
        }
        s.sub_ok = true;
        Self::maybe_start_settling(&mut s, now);
        true
    }

    /// The publisher answered a `PING` sent in `epoch`.
    pub fn publisher_back(&self, epoch: u64, now: Instant) -> bool {
        let mut s = self.lock();
        if s.pub_epoch != epoch {
            return false;
        }
        s.pub_ok = true;
        Self::maybe_start_settling(&mut s, now);
        true
    }

    fn maybe_start_settling(s: &mut State, now: Instant) {
        if s.sub_ok && s.pub_ok && !s.settled && s.settling_since.is_none() {
            s.settling_since = Some(now);
        }
    }

    /// Settling: `counts` (`PUBSUB NUMSUB` now, asked in the epochs of `seen`) against
    /// what was expected. Live again once every channel has its subscribers back, or
    /// once [`SETTLE_MAX`] has passed. Returns whether the path is live.
    pub fn settle(&self, seen: &Snapshot, counts: &HashMap<String, u64>, now: Instant) -> bool {
        let mut s = self.lock();
        if s.sub_epoch != seen.sub_epoch || s.pub_epoch != seen.pub_epoch {
            return false;
        }
        if s.settled {
            return true;
        }
        let Some(since) = s.settling_since else {
            return false;
        };
        let missing: Vec<(&String, u64, u64)> = s
            .expected
            .iter()
            .filter_map(|(chan, &want)| {
                let have = counts.get(chan).copied().unwrap_or(0);
                (have < want).then_some((chan, have, want))
            })
            .collect();
        if !missing.is_empty() {
            if now.duration_since(since) < SETTLE_MAX {
                return false;
            }
            tracing::warn!(
                ?missing,
                "peers did not re-subscribe within {SETTLE_MAX:?}; taking them as gone"
            );
        }
        s.expected = counts.clone();
        s.settled = true;
        s.settling_since = None;
        drop(s);
        self.live.set(1.0);
        tracing::info!("pub/sub path live again");
        true
    }

    /// Subscriber counts seen while live (a `PUBSUB NUMSUB` sample, in the epochs of
    /// `seen`): what the next settling waits for.
    pub fn observe_all(&self, seen: &Snapshot, counts: HashMap<String, u64>) {
        let mut s = self.lock();
        if s.sub_epoch == seen.sub_epoch && s.pub_epoch == seen.pub_epoch && s.settled {
            s.expected = counts;
        }
    }

    /// A publish on `chan`, a channel we subscribe to, reached `receivers` subscribers
    /// (ours included) while live.
    pub fn observe(&self, chan: &str, receivers: u64) {
        let mut s = self.lock();
        if s.settled {
            s.expected.insert(chan.to_string(), receivers);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health() -> Health {
        let m = crate::services::metrics::Metrics::new();
        Health::new(m.gauge("test_live"))
    }

    fn counts(n: u64) -> HashMap<String, u64> {
        HashMap::from([("req".to_string(), n)])
    }

    #[test]
    fn a_loss_refuses_until_resubscribed_and_settled() {
        let h = health();
        let t0 = Instant::now();
        h.observe_all(&h.snapshot(), counts(2));
        assert_eq!(h.check(), Ok(()));
        h.subscriber_lost();
        assert_eq!(h.check(), Err(Refusal::SubscriberDown));
        let seen = h.snapshot();
        assert!(h.subscriber_back(seen.sub_epoch, t0));
        assert_eq!(h.check(), Err(Refusal::Settling));
        // Our subscriber is back, the peer's is not: still refused.
        assert!(!h.settle(&h.snapshot(), &counts(1), t0));
        assert_eq!(h.check(), Err(Refusal::Settling));
        assert!(h.settle(&h.snapshot(), &counts(2), t0 + Duration::from_millis(300)));
        assert_eq!(h.check(), Ok(()));
    }

    #[test]
    fn a_peer_that_never_returns_is_taken_as_gone_after_settle_max() {
        let h = health();
        let t0 = Instant::now();
        h.observe_all(&h.snapshot(), counts(3));
        h.subscriber_lost();
        assert!(h.subscriber_back(h.snapshot().sub_epoch, t0));
        assert!(!h.settle(&h.snapshot(), &counts(2), t0 + SETTLE_MAX / 2));
        assert!(h.settle(&h.snapshot(), &counts(2), t0 + SETTLE_MAX));
        assert_eq!(h.snapshot().expected, counts(2));
    }

    #[test]
    fn a_recovery_from_an_older_epoch_does_not_count() {
        let h = health();
        let t0 = Instant::now();
        h.subscriber_lost();
        let seen = h.snapshot();
        h.subscriber_lost(); // lost again while the round was under way
        assert!(!h.subscriber_back(seen.sub_epoch, t0));
        assert_eq!(h.check(), Err(Refusal::SubscriberDown));
    }

    #[test]
    fn a_stalled_publisher_refuses_until_it_answers() {
        let h = health();
        let t0 = Instant::now();
        h.publisher_stalled();
        assert_eq!(h.check(), Err(Refusal::PublisherStalled));
        let seen = h.snapshot();
        assert!(h.publisher_back(seen.pub_epoch, t0));
        assert!(h.settle(&h.snapshot(), &HashMap::new(), t0));
        assert_eq!(h.check(), Ok(()));
    }

    #[test]
    fn publishes_keep_the_expected_count_current() {
        let h = health();
        h.observe_all(&h.snapshot(), counts(3));
        h.observe("req", 2); // a peer left
        assert_eq!(h.snapshot().expected, counts(2));
        // Not while recovering: settling compares against the counts before the loss.
        h.subscriber_lost();
        h.observe("req", 1);
        assert_eq!(h.snapshot().expected, counts(2));
    }
}
