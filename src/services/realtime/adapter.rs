//! Cross-instance rooms: a socketioxide-redis [`Driver`] that survives Redis restarts and
//! only publishes while the path to the other instances is live.
//!
//! The stock standalone driver shares one connection for publish and subscribe and stays
//! broken after a Redis restart. This one keeps them apart:
//! - publishes go over their own [`ConnectionManager`] (reconnects on demand, bounded by a
//!   timeout so a dead Redis fails a broadcast quickly instead of hanging a handler);
//! - subscriptions live on a RESP3 [`ConnectionManager`] with automatic re-subscription and
//!   unbounded reconnect retries (one quick retry on a cluster, where the watchdog moves
//!   the connections instead: below), so after a restart every
//!   channel is subscribed again.
//!   The per-channel queues handed to the adapter outlive reconnects, so the adapter never
//!   notices. A full queue drops the message and counts it (`arena_pubsub_dropped_total`).
//!
//! Honest outcomes. Redis answers a PUBLISH that reaches no subscriber like any other,
//! and after a restart the publisher is back long before the subscribers have
//! re-subscribed; a frozen Redis keeps a timed-out PUBLISH and runs it when it resumes.
//! So a publish is refused before anything is sent ([`DriverError::nothing_done`]) while
//! [`Health`] says the path is not live (subscriber lost and not yet re-subscribed,
//! publisher stalled, peers not yet back), and an error after the command was sent is
//! reported as such ([`DriverError::Timeout`], [`DriverError::Unknown`]): its outcome is
//! unknown. A watchdog task re-subscribes, pings the publisher and waits for the peers,
//! then lets publishes through again.
//!
//! On a Redis Cluster both connections go to one node, the master of
//! [`crate::redis::PUBSUB_SLOT`] (`Endpoint::pubsub_node`), and follow it: when the path
//! is lost, and every [`PLACE_EVERY`] while it is live, the watchdog asks the live
//! cluster which node that is now, and after a failover opens both connections there,
//! subscribes every channel again and settles as after any loss. Every instance reads
//! the same map, so all of them meet on the promoted replica.
//!
//! Why classic channels on one node rather than sharded channels (SPUBLISH/SSUBSCRIBE
//! on each channel's slot owner, as the room bus does): a cluster copies a classic
//! PUBLISH to every node, which costs cluster-bus traffic, but the namespace's traffic
//! is small beside the rooms' (ticks, mode broadcasts, admin requests: the rooms' events
//! go over the room bus), and one node keeps the driver's honest outcomes as they are:
//! one subscriber connection whose loss is one `Disconnection`, one `PUBSUB NUMSUB` that
//! counts every peer, one publisher to ping. Sharded channels would spread this over up
//! to one node per request channel, each with its own loss, settling and count.
//!
//! No crate does both parts, hence this module.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use redis::aio::{AsyncPushSender, ConnectionManager, ConnectionManagerConfig, SendError};
use redis::{ErrorKind, PushInfo, PushKind, RedisError, Value};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

use super::drops;
use super::health::{Health, Refusal, Snapshot};
use crate::redis::{Conn, Endpoint};
use crate::services::metrics::Metrics;

type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// How often the watchdog samples the subscriber counts while the path is live.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How often it tries to bring the path back while it is not.
const RECOVER_EVERY: Duration = Duration::from_millis(100);
/// On a cluster, how often the watchdog checks, while the path is live, that the pub/sub
/// node is still the one the cluster names (a manual failover leaves the old master up).
pub const PLACE_EVERY: Duration = Duration::from_secs(5);

/// Errors of the pub/sub driver. [`DriverError::nothing_done`] tells the two kinds apart.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Refused before sending: the path is not live.
    #[error("not published: {0}")]
    Refused(#[from] Refusal),
    /// Redis took it and delivered it to nobody, not even our own subscriber.
    #[error("not published: no subscriber received it (ours included)")]
    Unheard,
    /// Redis refused the command, or could not be reached to send it.
    #[error("not sent: redis: {0}")]
    NotSent(RedisError),
    /// The command may have been sent (the connection failed while it was in flight).
    #[error("outcome unknown: redis: {0}")]
    Unknown(RedisError),
    /// Sent, and no answer in time: Redis may still run it.
    #[error("outcome unknown: no answer from redis within {0:?}")]
    Timeout(Duration),
}

impl DriverError {
    /// Did the operation certainly not happen? (`false`: its outcome is unknown.)
    pub fn nothing_done(&self) -> bool {
        matches!(self, Self::Refused(_) | Self::Unheard | Self::NotSent(_))
    }
}

impl From<RedisError> for DriverError {
    fn from(e: RedisError) -> Self {
        let not_sent = e.is_connection_refusal()
            || matches!(
                e.kind(),
                // Redis answered with an error: it did not run the command.
                ErrorKind::Server(_) | ErrorKind::Extension
                // Caught on the client or while connecting, before anything was sent.
                | ErrorKind::Client
                | ErrorKind::InvalidClientConfig
                | ErrorKind::AuthenticationFailed
                | ErrorKind::RESP3NotSupported
            );
        if not_sent {
            Self::NotSent(e)
        } else {
            Self::Unknown(e)
        }
    }
}

/// A reconnecting Redis pub/sub driver for socketioxide-redis. Clones share connections.
#[derive(Clone)]
pub struct ReconnectingDriver {
    inner: Arc<Inner>,
}

struct Inner {
    handlers: Handlers,
    /// The two connections, replaced when the pub/sub node moves (cluster only).
    link: RwLock<Arc<Link>>,
    /// The generation of `link`: pushes of an older link are ignored.
    current: Arc<AtomicU64>,
    /// On a cluster: how to find the node the connections belong on.
    cluster: Option<Cluster>,
    /// When the watchdog next checks the node while live.
    next_place: Mutex<Instant>,
    publish_timeout: Duration,
    health: Health,
    metrics: Metrics,
}

/// A publisher and a subscriber on one server.
struct Link {
    node: Endpoint,
    publisher: ConnectionManager,
    subscriber: ConnectionManager,
}

/// The cluster the pub/sub node is chosen from.
struct Cluster {
    endpoint: Endpoint,
    conn: Conn,
}

/// Routes push messages from the subscriber connection to the adapter's queues.
struct PushRouter {
    handlers: Handlers,
    metrics: Metrics,
    health: Health,
    generation: u64,
    current: Arc<AtomicU64>,
}

impl AsyncPushSender for PushRouter {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        // A link being replaced: its messages come over the new one once subscribed, and
        // its loss is not the path's.
        if self.current.load(Ordering::SeqCst) != self.generation {
            return Ok(());
        }
        match info.kind {
            PushKind::Message | PushKind::SMessage => {
                let mut data = info.data.into_iter();
                let (Some(Value::BulkString(chan)), Some(Value::BulkString(msg))) =
                    (data.next(), data.next())
                else {
                    return Ok(());
                };
                let Ok(chan) = String::from_utf8(chan) else {
                    return Ok(());
                };
                // A poisoned lock only means a writer panicked; the map itself is intact.
                let handlers = self.handlers.read().unwrap_or_else(|e| e.into_inner());
                if let Some(tx) = handlers.get(&chan)
                    && tx.try_send((chan, msg)).is_err()
                {
                    self.metrics.pubsub_dropped.increment(1);
                }
            }
            PushKind::Disconnection => {
                // First, so no publish gets through between the loss and the log line.
                self.health.subscriber_lost();
                self.metrics.pubsub_reconnects.increment(1);
                tracing::warn!(
                    "redis pub/sub connection lost; reconnecting and re-subscribing (publishes refused until then)"
                );
            }
            _ => {}
        }
        Ok(())
    }
}

impl Link {
    /// Connect both sides to `node`; the subscriber's pushes go to `router`.
    async fn open(
        node: Endpoint,
        router: PushRouter,
        timeout: Duration,
        follows_cluster: bool,
    ) -> Result<Self, RedisError> {
        let publisher = ConnectionManager::new_with_config(
            node.client(false)?,
            ConnectionManagerConfig::new()
                .set_response_timeout(Some(timeout))
                .set_connection_timeout(Some(timeout))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(200)),
        )
        .await?;
        // Standalone: keep trying for as long as Redis is away, nothing else would revive
        // a connection that only receives. Cluster: one quick retry, then the watchdog
        // asks the cluster where to go (the node may be gone for good: a failover, and a
        // link left behind must not retry a dead address for ever); its next re-subscribe
        // tries again, so a node that comes back is found within a round.
        let (retries, max_delay) = if follows_cluster {
            (1, Duration::from_millis(100))
        } else {
            (usize::MAX, Duration::from_millis(500))
        };
        let subscriber = ConnectionManager::new_with_config(
            node.client(true)?,
            ConnectionManagerConfig::new()
                .set_push_sender(router)
                .set_automatic_resubscription()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(Duration::from_secs(5)))
                .set_number_of_retries(retries)
                .set_max_delay(max_delay),
        )
        .await?;
        Ok(Self {
            node,
            publisher,
            subscriber,
        })
    }
}

impl ReconnectingDriver {
    /// Connect both sides. Fails if Redis cannot be reached now (start-up needs it once).
    /// Starts the watchdog, which ends when the last clone of the driver is dropped.
    pub async fn connect(
        endpoint: &Endpoint,
        timeout: Duration,
        metrics: Metrics,
    ) -> Result<Self, RedisError> {
        Self::start(endpoint.clone(), None, timeout, metrics).await
    }

    /// On a Redis Cluster (`endpoint` a cluster URL, `conn` its command connection):
    /// connect both sides to the master of the pub/sub slot, and follow it to whichever
    /// node serves that slot after a failover.
    pub async fn connect_cluster(
        endpoint: &Endpoint,
        conn: Conn,
        timeout: Duration,
        metrics: Metrics,
    ) -> Result<Self, RedisError> {
        let within = timeout.max(Duration::from_secs(2));
        let node = endpoint.pubsub_node(&conn, within).await?;
        let cluster = Cluster {
            endpoint: endpoint.clone(),
            conn,
        };
        Self::start(node, Some(cluster), timeout, metrics).await
    }

    async fn start(
        node: Endpoint,
        cluster: Option<Cluster>,
        timeout: Duration,
        metrics: Metrics,
    ) -> Result<Self, RedisError> {
        let handlers: Handlers = Arc::default();
        let health = Health::new(metrics.pubsub_live.clone());
        let current = Arc::new(AtomicU64::new(0));
        let router = PushRouter {
            handlers: handlers.clone(),
            metrics: metrics.clone(),
            health: health.clone(),
            generation: 0,
            current: current.clone(),
        };
        let link = Link::open(node, router, timeout, cluster.is_some()).await?;
        tracing::info!(node = %link.node, "pub/sub connected");
        let inner = Arc::new(Inner {
            handlers,
            link: RwLock::new(Arc::new(link)),
            current,
            cluster,
            next_place: Mutex::new(Instant::now() + PLACE_EVERY),
            publish_timeout: timeout,
            health,
            metrics,
        });
        tokio::spawn(watch(Arc::downgrade(&inner), inner.health.wake()));
        Ok(Self { inner })
    }

    /// `PING` on the subscriber connection (a failed ping also triggers its reconnect).
    pub async fn ping_subscriber(&self) -> Result<(), RedisError> {
        let link = self.inner.link();
        crate::redis::ping(&link.subscriber, self.inner.publish_timeout * 4).await
    }

    /// A message published to our own channel did not come back: the subscriptions are in
    /// doubt (a half-open connection sends no `Disconnection`). Publishes are refused
    /// until the watchdog has subscribed every channel again.
    pub fn subscriber_suspect(&self) {
        if self.inner.health.check().is_ok() {
            tracing::warn!(
                "pub/sub subscriber in doubt; re-subscribing (publishes refused until then)"
            );
        }
        self.inner.health.subscriber_lost();
    }
}

impl Inner {
    /// The current link (a clone of the `Arc`: a round keeps the link it started with).
    fn link(&self) -> Arc<Link> {
        self.link.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn channels(&self) -> Vec<String> {
        self.handlers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// `PUBSUB NUMSUB` of `chans` on the publisher, within the timeout.
    async fn numsub(&self, chans: &[String]) -> Result<HashMap<String, u64>, DriverError> {
        if chans.is_empty() {
            return Ok(HashMap::new());
        }
        let mut conn = self.link().publisher.clone();
        let mut cmd = redis::cmd("PUBSUB");
        cmd.arg("NUMSUB").arg(chans);
        match tokio::time::timeout(self.publish_timeout, cmd.query_async(&mut conn)).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(DriverError::Timeout(self.publish_timeout)),
        }
    }

    /// One round of the watchdog; returns how long to wait before the next.
    async fn tend(&self) -> Duration {
        let now = Instant::now;
        let mut seen = self.health.snapshot();
        if seen.live() {
            self.sample(&seen).await;
            let due = {
                let mut next = self.next_place.lock().unwrap_or_else(|e| e.into_inner());
                let due = now() >= *next;
                if due {
                    *next = now() + PLACE_EVERY;
                }
                due
            };
            if !(due && self.follow().await) {
                return SAMPLE_EVERY;
            }
            seen = self.health.snapshot();
        } else if self.follow().await {
            seen = self.health.snapshot();
        }
        let link = self.link();
        if !seen.sub_ok {
            // Subscribing again is harmless for channels redis-rs already re-subscribed,
            // and it is the proof that every channel is subscribed on the live connection.
            let chans = self.channels();
            let again = async {
                if !chans.is_empty() {
                    link.subscriber.clone().subscribe(&chans).await?;
                }
                Ok::<_, RedisError>(())
            };
            // On a cluster a round must not wait on a dead node: the next asks the
            // cluster again whether another node serves the slot now.
            let bound = if self.cluster.is_some() {
                self.publish_timeout
            } else {
                self.publish_timeout * 4
            };
            match tokio::time::timeout(bound, again).await {
                Ok(Ok(())) => {
                    if self.health.subscriber_back(seen.sub_epoch, now()) {
                        tracing::info!(channels = chans.len(), "pub/sub subscriber re-subscribed");
                    }
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "re-subscribe failed; retrying"),
                Err(_) => tracing::debug!("re-subscribe timed out; retrying"),
            }
        }
        if !seen.pub_ok
            && crate::redis::ping(&link.publisher, self.publish_timeout)
                .await
                .is_ok()
        {
            self.health.publisher_back(seen.pub_epoch, now());
        }
        let seen = self.health.snapshot();
        if seen.sub_ok && seen.pub_ok && !seen.settled {
            let chans: Vec<String> = seen.expected.keys().cloned().collect();
            match self.numsub(&chans).await {
                Ok(counts) => {
                    self.health.settle(&seen, &counts, now());
                }
                Err(e) => tracing::debug!(error = %e, "PUBSUB NUMSUB failed while settling"),
            }
        }
        RECOVER_EVERY
    }

    /// On a cluster: move both connections to the node that serves the pub/sub slot now,
    /// if that is not the one they are on. Returns whether they moved; the path is then
    /// lost (publishes refused) until the round after has subscribed every channel on
    /// the new node and the peers are back there.
    async fn follow(&self) -> bool {
        let Some(cluster) = &self.cluster else {
            return false;
        };
        let within = self.publish_timeout.max(Duration::from_secs(1));
        let node = match cluster.endpoint.pubsub_node(&cluster.conn, within).await {
            Ok(node) => node,
            Err(e) => {
                tracing::debug!(error = %e, "pub/sub node not known yet; retrying");
                return false;
            }
        };
        let old = self.link();
        if node.same_url(&old.node) {
            return false;
        }
        let generation = self.current.load(Ordering::SeqCst) + 1;
        let router = PushRouter {
            handlers: self.handlers.clone(),
            metrics: self.metrics.clone(),
            health: self.health.clone(),
            generation,
            current: self.current.clone(),
        };
        let open = Link::open(node, router, self.publish_timeout, true);
        let link = match tokio::time::timeout(self.publish_timeout * 4, open).await {
            Ok(Ok(link)) => link,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "new pub/sub node not reachable yet; retrying");
                return false;
            }
            Err(_) => {
                tracing::debug!("new pub/sub node did not answer in time; retrying");
                return false;
            }
        };
        // Lost first, so no publish goes out on the new node before every channel is
        // subscribed there; then the swap (the old link's pushes are ignored from here).
        self.health.subscriber_lost();
        self.health.publisher_stalled();
        tracing::warn!(from = %old.node, to = %link.node, "pub/sub moving to the node that serves its slot now; re-subscribing (publishes refused until then)");
        *self.link.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(link);
        self.current.store(generation, Ordering::SeqCst);
        self.metrics.pubsub_reconnects.increment(1);
        true
    }

    /// While live: how many subscribers each of our channels has (what settling after
    /// the next loss waits for). A sample that times out means the publisher stalled.
    async fn sample(&self, seen: &Snapshot) {
        match self.numsub(&self.channels()).await {
            Ok(counts) => self.health.observe_all(seen, counts),
            Err(e) if e.nothing_done() => {}
            Err(e) => {
                tracing::warn!(error = %e, "pub/sub publisher stalled; publishes refused until redis answers");
                self.health.publisher_stalled();
            }
        }
    }
}

/// The watchdog: a round every [`SAMPLE_EVERY`] while live, every [`RECOVER_EVERY`]
/// otherwise, and at once after a loss. Holds the driver only during a round.
async fn watch(inner: Weak<Inner>, wake: Arc<tokio::sync::Notify>) {
    loop {
        let pause = match inner.upgrade() {
            Some(inner) => inner.tend().await,
            None => return,
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

impl Driver for ReconnectingDriver {
    type Error = DriverError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        let inner = &self.inner;
        inner.health.check()?;
        let mut conn = inner.link().publisher.clone();
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&chan).arg(val);
        let publish = cmd.query_async::<u64>(&mut conn);
        let outcome = tokio::time::timeout(inner.publish_timeout, publish).await;
        let ours = || inner.handlers.read().is_ok_and(|h| h.contains_key(&chan));
        match outcome {
            Ok(Ok(0)) if ours() => {
                // We subscribe to this channel, so Redis should have counted us: our
                // subscription is gone although no `Disconnection` said so.
                inner.health.subscriber_lost();
                Err(DriverError::Unheard)
            }
            Ok(Ok(receivers)) => {
                if ours() {
                    inner.health.observe(&chan, receivers);
                }
                Ok(())
            }
            Ok(Err(e)) => {
                let e = DriverError::from(e);
                if !e.nothing_done() {
                    inner.health.publisher_stalled();
                }
                Err(e)
            }
            Err(_) => {
                inner.health.publisher_stalled();
                Err(DriverError::Timeout(inner.publish_timeout))
            }
        }
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        let inner = &self.inner;
        let (tx, rx) = mpsc::channel(size);
        // Register before subscribing so no message between the two is lost.
        inner
            .handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(chan.clone(), tx);
        if let Some(uid) = drops::uid_of_request_channel(&chan) {
            drops::register(uid, &inner.metrics);
        }
        inner.link().subscriber.clone().subscribe(&chan).await?;
        // Sample the subscriber counts now, so settling after an early loss knows them.
        inner.health.wake().notify_one();
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        let inner = &self.inner;
        inner
            .handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&chan);
        if let Some(uid) = drops::uid_of_request_channel(&chan) {
            drops::unregister(uid);
        }
        inner.link().subscriber.clone().unsubscribe(chan).await?;
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let mut conn = self.inner.link().publisher.clone();
        let (_, count): (String, u16) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(chan)
            .query_async(&mut conn)
            .await?;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(generation: u64, current: &Arc<AtomicU64>, handlers: &Handlers) -> PushRouter {
        let metrics = Metrics::new();
        PushRouter {
            handlers: handlers.clone(),
            health: Health::new(metrics.pubsub_live.clone()),
            metrics,
            generation,
            current: current.clone(),
        }
    }

    fn push(kind: PushKind, data: Vec<Value>) -> PushInfo {
        PushInfo { kind, data }
    }

    /// After a move to another node, the old link's loss and late messages are not the
    /// path's: only the current link's pushes count.
    #[test]
    fn only_the_current_link_is_heard() -> Result<(), SendError> {
        let current = Arc::new(AtomicU64::new(1));
        let handlers: Handlers = Arc::default();
        let (tx, mut rx) = mpsc::channel(4);
        handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert("c".into(), tx);
        let message = || {
            let data = vec![
                Value::BulkString(b"c".to_vec()),
                Value::BulkString(b"m".to_vec()),
            ];
            push(PushKind::Message, data)
        };

        let old = router(0, &current, &handlers);
        old.send(push(PushKind::Disconnection, vec![]))?;
        assert_eq!(old.health.check(), Ok(()));
        old.send(message())?;
        assert!(rx.try_recv().is_err());

        let new = router(1, &current, &handlers);
        new.send(message())?;
        assert_eq!(rx.try_recv().ok(), Some(("c".to_string(), b"m".to_vec())));
        new.send(push(PushKind::Disconnection, vec![]))?;
        assert_eq!(new.health.check(), Err(Refusal::SubscriberDown));
        Ok(())
    }
}
