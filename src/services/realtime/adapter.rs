//! Cross-instance rooms: a socketioxide-redis [`Driver`] that survives Redis restarts.
//!
//! The stock standalone driver shares one connection for publish and subscribe and stays
//! broken after a Redis restart. This one keeps them apart:
//! - publishes go over their own [`ConnectionManager`] (reconnects on demand, bounded by a
//!   timeout so a dead Redis fails a broadcast quickly instead of hanging a handler);
//! - subscriptions live on a RESP3 [`ConnectionManager`] with automatic re-subscription and
//!   unbounded reconnect retries, so after a restart every channel is subscribed again.
//!   The per-channel queues handed to the adapter outlive reconnects, so the adapter never
//!   notices. A full queue drops the message and counts it (`arena_pubsub_dropped_total`).
//!
//! No crate does both parts, hence this module.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{AsyncPushSender, ConnectionManager, ConnectionManagerConfig, SendError};
use redis::{PushInfo, PushKind, RedisError, Value};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

use crate::services::metrics::Metrics;

type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// Errors of the pub/sub driver.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    #[error("redis publish timed out after {0:?}")]
    Timeout(Duration),
}

/// A reconnecting Redis pub/sub driver for socketioxide-redis. Clones share connections.
#[derive(Clone)]
pub struct ReconnectingDriver {
    handlers: Handlers,
    publisher: ConnectionManager,
    subscriber: ConnectionManager,
    publish_timeout: Duration,
}

/// Routes push messages from the subscriber connection to the adapter's queues.
struct PushRouter {
    handlers: Handlers,
    metrics: Metrics,
}

impl AsyncPushSender for PushRouter {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
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
                self.metrics.pubsub_reconnects.increment(1);
                tracing::warn!("redis pub/sub connection lost; reconnecting and re-subscribing");
            }
            _ => {}
        }
        Ok(())
    }
}

impl ReconnectingDriver {
    /// Connect both sides. Fails if Redis cannot be reached now (start-up needs it once).
    pub async fn connect(
        url: &str,
        timeout: Duration,
        metrics: Metrics,
    ) -> Result<Self, RedisError> {
        let handlers: Handlers = Arc::default();
        let publisher = ConnectionManager::new_with_config(
            crate::redis::client(url, false)?,
            ConnectionManagerConfig::new()
                .set_response_timeout(Some(timeout))
                .set_connection_timeout(Some(timeout))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(200)),
        )
        .await?;
        let subscriber = ConnectionManager::new_with_config(
            crate::redis::client(url, true)?,
            ConnectionManagerConfig::new()
                .set_push_sender(PushRouter {
                    handlers: handlers.clone(),
                    metrics,
                })
                .set_automatic_resubscription()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(Duration::from_secs(5)))
                // Keep trying for as long as Redis is away: nothing else would revive a
                // connection that only receives.
                .set_number_of_retries(usize::MAX)
                .set_max_delay(Duration::from_millis(500)),
        )
        .await?;
        Ok(Self {
            handlers,
            publisher,
            subscriber,
            publish_timeout: timeout,
        })
    }

    /// `PING` on the subscriber connection (a failed ping also triggers its reconnect).
    pub async fn ping_subscriber(&self) -> Result<(), RedisError> {
        crate::redis::ping(&self.subscriber, self.publish_timeout * 4).await
    }
}

impl Driver for ReconnectingDriver {
    type Error = DriverError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        let mut conn = self.publisher.clone();
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(chan).arg(val);
        let publish = cmd.exec_async(&mut conn);
        match tokio::time::timeout(self.publish_timeout, publish).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(DriverError::Timeout(self.publish_timeout)),
        }
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        let (tx, rx) = mpsc::channel(size);
        // Register before subscribing so no message between the two is lost.
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(chan.clone(), tx);
        self.subscriber.clone().subscribe(chan).await?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&chan);
        self.subscriber.clone().unsubscribe(chan).await?;
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let mut conn = self.publisher.clone();
        let (_, count): (String, u16) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(chan)
            .query_async(&mut conn)
            .await?;
        Ok(count)
    }
}
