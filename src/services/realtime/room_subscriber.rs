//! The subscription supervisor of the room bus: one RESP3 connection holding the SSUBSCRIBEs
//! of the rooms that have members on this instance, kept equal to the wanted set by our
//! own code.
//!
//! redis-rs does not restore sharded subscriptions (its cluster connection lost them for
//! 12-20 s after a failover or a slot move, silently), so nothing here relies on it: the
//! connection has no automatic re-subscription, and this module
//! - re-subscribes every wanted channel after a `Disconnection` push (publishes are
//!   refused until it has), then asks the bus to catch every room up from its history;
//! - re-subscribes a channel that Redis unsubscribed without being asked (an unrequested
//!   `sunsubscribe` push: its slot moved), and catches that room up;
//! - keeps a channel whose SSUBSCRIBE failed (MOVED, CLUSTERDOWN, a timeout) in the
//!   missing set and retries it every [`RETRY_EVERY`];
//! - reconciles the whole wanted set every [`RECONCILE_EVERY`]: every wanted channel is
//!   SSUBSCRIBEd again (idempotent on Redis) and channels no longer wanted are dropped,
//!   so a subscription lost without any push comes back within that period.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{Counter, Gauge};
use redis::aio::{AsyncPushSender, ConnectionManager, ConnectionManagerConfig, SendError};
use redis::{PushInfo, PushKind, RedisError, Value};
use tokio::sync::{Notify, OnceCell, mpsc};
use tokio_util::sync::CancellationToken;

use super::room_channel::RoomKeys;
use super::room_history::RoomEvent;
use crate::redis::Endpoint;
use crate::services::metrics::{self as m, Metrics};

/// How often the whole wanted set is subscribed again.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(5);
/// How often missing channels are retried while some are missing.
pub const RETRY_EVERY: Duration = Duration::from_millis(100);

/// What the supervisor hands to the bus's delivery task.
#[derive(Debug)]
pub enum Incoming {
    /// A live message of a room channel (already parsed).
    Event { room: String, event: RoomEvent },
    /// These rooms were (re-)subscribed after a loss: deliver what they missed.
    CatchUp(Vec<String>),
}

/// The supervisor. Cheap to share (`Arc`).
pub struct RoomSubscriber {
    endpoint: Endpoint,
    timeout: Duration,
    conn: OnceCell<ConnectionManager>,
    state: Arc<Shared>,
}

/// What the push router and the supervisor share.
struct Shared {
    /// Channels with members here.
    wanted: Mutex<HashSet<String>>,
    /// Channels Redis confirmed (`ssubscribe` push) and has not dropped since.
    subscribed: Mutex<HashSet<String>>,
    /// Wanted channels to subscribe (again) at the next round.
    missing: Mutex<HashSet<String>>,
    /// A `Disconnection` was seen: every wanted channel must be subscribed again.
    lost: AtomicBool,
    /// False from a loss until every wanted channel is subscribed again.
    live: AtomicBool,
    wake: Notify,
    to_bus: mpsc::Sender<Incoming>,
    channels: Gauge,
    resubscribes: Counter,
    reconnects: Counter,
    dropped: Counter,
    corrupt: Counter,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a holder panicked; the sets stay usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Routes pushes of the subscriber connection (runs on redis-rs's reader: never blocks).
struct PushRouter(Arc<Shared>);

fn bulk(v: Option<Value>) -> Option<Vec<u8>> {
    match v {
        Some(Value::BulkString(b)) => Some(b),
        _ => None,
    }
}

impl AsyncPushSender for PushRouter {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        let s = &self.0;
        let mut data = info.data.into_iter();
        match info.kind {
            PushKind::SMessage => {
                let (Some(chan), Some(payload)) = (bulk(data.next()), bulk(data.next())) else {
                    s.corrupt.increment(1);
                    return Ok(());
                };
                let chan = String::from_utf8_lossy(&chan);
                let (Some(room), Some(event)) = (
                    RoomKeys::room_of_channel(&chan),
                    RoomEvent::parse_message(&payload),
                ) else {
                    s.corrupt.increment(1);
                    return Ok(());
                };
                let item = Incoming::Event {
                    room: room.to_string(),
                    event,
                };
                // A full queue loses the live copy only: the next event of the room finds
                // the gap and reads it from the history.
                if s.to_bus.try_send(item).is_err() {
                    s.dropped.increment(1);
                }
            }
            PushKind::SSubscribe => {
                if let Some(chan) = bulk(data.next()) {
                    let chan = String::from_utf8_lossy(&chan).into_owned();
                    let mut sub = lock(&s.subscribed);
                    sub.insert(chan);
                    s.channels.set(sub.len() as f64);
                }
            }
            PushKind::SUnsubscribe => {
                if let Some(chan) = bulk(data.next()) {
                    let chan = String::from_utf8_lossy(&chan).into_owned();
                    {
                        let mut sub = lock(&s.subscribed);
                        sub.remove(&chan);
                        s.channels.set(sub.len() as f64);
                    }
                    // Still wanted: Redis dropped it unasked (its slot moved).
                    if lock(&s.wanted).contains(&chan) {
                        tracing::warn!(channel = %chan, "room channel unsubscribed by redis; subscribing again");
                        lock(&s.missing).insert(chan);
                        s.wake.notify_one();
                    }
                }
            }
            PushKind::Disconnection => {
                s.live.store(false, Ordering::SeqCst);
                s.lost.store(true, Ordering::SeqCst);
                lock(&s.subscribed).clear();
                s.channels.set(0.0);
                s.reconnects.increment(1);
                tracing::warn!("room bus subscriber lost; re-subscribing every room channel");
                s.wake.notify_one();
            }
            _ => {}
        }
        Ok(())
    }
}

impl RoomSubscriber {
    pub fn new(
        endpoint: Endpoint,
        timeout: Duration,
        metrics: &Metrics,
        to_bus: mpsc::Sender<Incoming>,
    ) -> Self {
        let corrupt = metrics.counter_with(m::CORRUPT_VALUES_TOTAL, "what", "room_message");
        Self {
            endpoint,
            timeout,
            conn: OnceCell::new(),
            state: Arc::new(Shared {
                wanted: Mutex::default(),
                subscribed: Mutex::default(),
                missing: Mutex::default(),
                lost: AtomicBool::new(false),
                live: AtomicBool::new(true),
                wake: Notify::new(),
                to_bus,
                channels: metrics.gauge(m::ROOM_CHANNELS_SUBSCRIBED),
                resubscribes: metrics.counter(m::ROOM_RESUBSCRIBES_TOTAL),
                reconnects: metrics.counter(m::PUBSUB_RECONNECTS_TOTAL),
                dropped: metrics.counter(m::PUBSUB_DROPPED_TOTAL),
                corrupt,
            }),
        }
    }

    /// Is every wanted channel subscribed on a live connection (no loss pending)?
    pub fn live(&self) -> bool {
        self.state.live.load(Ordering::SeqCst)
    }

    /// The subscriber connection, made on first use.
    async fn conn(&self) -> Result<ConnectionManager, RedisError> {
        let made = self
            .conn
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_push_sender(PushRouter(self.state.clone()))
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout * 4))
                    // Keep trying for as long as Redis is away: a connection that only
                    // receives has no command of its own to revive it.
                    .set_number_of_retries(usize::MAX)
                    .set_max_delay(Duration::from_millis(500));
                ConnectionManager::new_with_config(self.endpoint.client(true)?, config).await
            })
            .await?;
        Ok(made.clone())
    }

    /// One SSUBSCRIBE or SUNSUBSCRIBE of one channel (one confirmation: redis-rs takes
    /// the confirmation push as the reply), bounded by the timeout.
    async fn command(&self, name: &str, chan: &str) -> Result<(), RedisError> {
        let mut conn = self.conn().await?;
        let mut cmd = redis::cmd(name);
        cmd.arg(chan);
        match tokio::time::timeout(self.timeout * 4, cmd.query_async::<Value>(&mut conn)).await {
            Ok(Ok(Value::ServerError(e))) => Err(e.into()),
            Ok(r) => r.map(|_| ()),
            Err(_) => Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("{name} {chan}: no answer"),
            ))),
        }
    }

    /// Want `chan` and make sure it is subscribed before returning (a join is acked only
    /// once the room's events reach this instance).
    pub async fn want(&self, chan: &str) -> Result<(), RedisError> {
        lock(&self.state.wanted).insert(chan.to_string());
        if lock(&self.state.subscribed).contains(chan) {
            return Ok(());
        }
        match self.command("SSUBSCRIBE", chan).await {
            Ok(()) => Ok(()),
            Err(e) => {
                // Still wanted: the supervisor retries.
                lock(&self.state.missing).insert(chan.to_string());
                self.state.wake.notify_one();
                Err(e)
            }
        }
    }

    /// Stop wanting `chan` (its last local member left).
    pub async fn unwant(&self, chan: &str) {
        lock(&self.state.wanted).remove(chan);
        lock(&self.state.missing).remove(chan);
        if let Err(e) = self.command("SUNSUBSCRIBE", chan).await {
            // The reconciliation drops it later.
            tracing::debug!(channel = chan, error = %e, "SUNSUBSCRIBE failed");
        }
    }

    /// Subscribe `chans`; returns the rooms now subscribed and the channels that failed.
    async fn subscribe_all(&self, chans: Vec<String>) -> (Vec<String>, Vec<String>) {
        let results = futures_util::future::join_all(chans.into_iter().map(|c| async move {
            let r = self.command("SSUBSCRIBE", &c).await;
            (c, r)
        }))
        .await;
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        for (chan, r) in results {
            match r {
                Ok(()) => {
                    if let Some(room) = RoomKeys::room_of_channel(&chan) {
                        ok.push(room.to_string());
                    }
                }
                Err(e) => {
                    tracing::debug!(channel = %chan, error = %e, "SSUBSCRIBE failed; retrying");
                    failed.push(chan);
                }
            }
        }
        (ok, failed)
    }

    /// The supervisor loop, until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let s = &self.state;
        let mut next_full = tokio::time::Instant::now() + RECONCILE_EVERY;
        loop {
            let missing_any = s.lost.load(Ordering::SeqCst) || !lock(&s.missing).is_empty();
            let pause = if missing_any {
                RETRY_EVERY
            } else {
                next_full.saturating_duration_since(tokio::time::Instant::now())
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = s.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
            if s.lost.swap(false, Ordering::SeqCst) {
                // After a loss: everything wanted, then let publishes through again.
                let all: Vec<String> = lock(&s.wanted).iter().cloned().collect();
                let (ok, failed) = self.subscribe_all(all).await;
                if !failed.is_empty() || self.conn().await.is_err() {
                    lock(&s.missing).extend(failed);
                    s.lost.store(true, Ordering::SeqCst);
                    continue;
                }
                s.resubscribes.increment(1);
                s.live.store(true, Ordering::SeqCst);
                tracing::info!(channels = ok.len(), "room bus re-subscribed");
                self.catch_up(ok).await;
                continue;
            }
            let now = tokio::time::Instant::now();
            let full = now >= next_full;
            let chans: Vec<String> = if full {
                next_full = now + RECONCILE_EVERY;
                self.drop_unwanted().await;
                lock(&s.wanted).iter().cloned().collect()
            } else {
                lock(&s.missing).drain().collect()
            };
            if chans.is_empty() {
                continue;
            }
            // Channels not confirmed before this round were not receiving: catch them up.
            let unconfirmed: HashSet<String> = {
                let sub = lock(&s.subscribed);
                chans
                    .iter()
                    .filter(|c| !sub.contains(*c))
                    .cloned()
                    .collect()
            };
            let (ok, failed) = self.subscribe_all(chans).await;
            let wanted = lock(&s.wanted).clone();
            lock(&s.missing).extend(failed.into_iter().filter(|c| wanted.contains(c)));
            let back: Vec<String> = ok
                .into_iter()
                .filter(|room| {
                    unconfirmed
                        .iter()
                        .any(|c| RoomKeys::room_of_channel(c) == Some(room))
                })
                .collect();
            if !back.is_empty() {
                s.resubscribes.increment(1);
                self.catch_up(back).await;
            }
        }
    }

    /// SUNSUBSCRIBE channels that are subscribed but no longer wanted.
    async fn drop_unwanted(&self) {
        let extra: Vec<String> = {
            let wanted = lock(&self.state.wanted);
            lock(&self.state.subscribed)
                .iter()
                .filter(|c| !wanted.contains(*c))
                .cloned()
                .collect()
        };
        for chan in extra {
            if let Err(e) = self.command("SUNSUBSCRIBE", &chan).await {
                tracing::debug!(channel = %chan, error = %e, "SUNSUBSCRIBE failed");
            }
        }
    }

    async fn catch_up(&self, rooms: Vec<String>) {
        if !rooms.is_empty()
            && self
                .state
                .to_bus
                .send(Incoming::CatchUp(rooms))
                .await
                .is_err()
        {
            tracing::debug!("room bus gone; no catch-up");
        }
    }
}
