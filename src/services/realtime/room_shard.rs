//! One Redis node's pub/sub connection of the room bus: a RESP3 connection that holds the
//! SSUBSCRIBEs of the room channels whose slot that node serves (`room_subscriber` keeps
//! one per master of a Cluster, one in all on a standalone Redis).
//!
//! The connection does not reconnect or re-subscribe by itself: the subscriber decides
//! what is subscribed where. When it breaks (a `Disconnection` push, or a command that
//! failed on the transport), the shard forgets it, tells the sink once, and the next use
//! opens a new one. Pushes of an older connection are told apart by a generation number:
//! a late `Disconnection` or `sunsubscribe` of a replaced connection changes nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{AsyncPushSender, MultiplexedConnection, SendError};
use redis::{AsyncConnectionConfig, Cmd, PushInfo, PushKind, RedisError, Value};

use crate::redis::Endpoint;

/// What a shard reports (the subscriber implements it). Called on redis-rs's reader task:
/// must not block.
pub trait ShardSink: Send + Sync + 'static {
    /// A message of a shard channel.
    fn message(&self, channel: &[u8], payload: &[u8]);
    /// `node` confirmed a subscription (an `ssubscribe` push).
    fn confirmed(&self, node: &Arc<str>, channel: String);
    /// `node` dropped a subscription (an `sunsubscribe` push, asked for or not).
    fn dropped(&self, node: &Arc<str>, channel: String);
    /// `node`'s connection is gone, and with it every subscription it held.
    fn lost(&self, node: &Arc<str>);
}

/// One node's pub/sub connection, opened on first use and again after a loss.
pub struct Shard {
    node: Arc<str>,
    endpoint: Endpoint,
    timeout: Duration,
    sink: Arc<dyn ShardSink>,
    /// The open connection and its generation.
    conn: Mutex<Option<(u64, MultiplexedConnection)>>,
    /// Serialises connecting, so two callers do not open two connections.
    connecting: tokio::sync::Mutex<()>,
    generation: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a holder panicked; the value stays usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Did the command fail on the transport (the connection is unusable), rather than with
/// an answer from Redis?
fn transport_failure(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()
}

/// Routes the pushes of one connection (generation `generation`) to the shard's sink.
struct Router {
    shard: std::sync::Weak<Shard>,
    generation: u64,
}

fn bulk(v: Option<&Value>) -> Option<&[u8]> {
    match v {
        Some(Value::BulkString(b)) => Some(b),
        _ => None,
    }
}

impl AsyncPushSender for Router {
    fn send(&self, info: PushInfo) -> Result<(), SendError> {
        let Some(shard) = self.shard.upgrade() else {
            return Err(SendError);
        };
        let current = shard.generation.load(Ordering::SeqCst) == self.generation;
        let (first, second) = (info.data.first(), info.data.get(1));
        match info.kind {
            // Messages of a replaced connection are still events: the bus drops repeats.
            PushKind::SMessage => match (bulk(first), bulk(second)) {
                (Some(chan), Some(payload)) => shard.sink.message(chan, payload),
                _ => shard.sink.message(&[], &[]),
            },
            PushKind::SSubscribe if current => {
                if let Some(chan) = bulk(first) {
                    let chan = String::from_utf8_lossy(chan).into_owned();
                    shard.sink.confirmed(&shard.node, chan);
                }
            }
            PushKind::SUnsubscribe if current => {
                if let Some(chan) = bulk(first) {
                    let chan = String::from_utf8_lossy(chan).into_owned();
                    shard.sink.dropped(&shard.node, chan);
                }
            }
            PushKind::Disconnection => shard.forget(self.generation),
            _ => {}
        }
        Ok(())
    }
}

impl Shard {
    /// The shard of `node` (`host:port`, or the standalone server), reached at `endpoint`.
    pub fn new(
        node: Arc<str>,
        endpoint: Endpoint,
        timeout: Duration,
        sink: Arc<dyn ShardSink>,
    ) -> Arc<Self> {
        Arc::new(Self {
            node,
            endpoint,
            timeout,
            sink,
            conn: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
        })
    }

    /// The node this shard talks to.
    pub fn node(&self) -> &Arc<str> {
        &self.node
    }

    /// Is a connection open (as far as anyone has noticed)?
    pub fn is_open(&self) -> bool {
        lock(&self.conn).is_some()
    }

    /// Connection `generation` is gone: forget it and tell the sink (once per connection).
    fn forget(&self, generation: u64) {
        let was = {
            let mut conn = lock(&self.conn);
            match &*conn {
                Some((g, _)) if *g == generation => conn.take().is_some(),
                _ => false,
            }
        };
        if was {
            tracing::warn!(node = %self.node, "room bus subscriber connection lost");
            self.sink.lost(&self.node);
        }
    }

    /// The open connection and its generation, opening one if none is.
    async fn conn(self: &Arc<Self>) -> Result<(u64, MultiplexedConnection), RedisError> {
        if let Some(c) = lock(&self.conn).clone() {
            return Ok(c);
        }
        let _one = self.connecting.lock().await;
        if let Some(c) = lock(&self.conn).clone() {
            return Ok(c);
        }
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let config = AsyncConnectionConfig::new()
            .set_push_sender(Router {
                shard: Arc::downgrade(self),
                generation,
            })
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout * 4));
        let client = self.endpoint.client(true)?;
        let connect = client.get_multiplexed_async_connection_with_config(&config);
        let conn = match tokio::time::timeout(self.timeout * 2, connect).await {
            Ok(r) => r?,
            Err(_) => return Err(timed_out("connect", &self.node)),
        };
        *lock(&self.conn) = Some((generation, conn.clone()));
        Ok((generation, conn))
    }

    /// Send `cmd`, bounded by the timeout; a transport failure closes the connection (the
    /// sink hears `lost`). A server error is returned as an error.
    pub async fn query(self: &Arc<Self>, cmd: &Cmd) -> Result<Value, RedisError> {
        let (generation, mut conn) = self.conn().await?;
        let r = match tokio::time::timeout(self.timeout * 4, cmd.query_async::<Value>(&mut conn))
            .await
        {
            Ok(Ok(Value::ServerError(e))) => Err(e.into()),
            Ok(r) => r,
            Err(_) => Err(timed_out("command", &self.node)),
        };
        if let Err(e) = &r
            && transport_failure(e)
        {
            self.forget(generation);
        }
        r
    }

    /// One SSUBSCRIBE or SUNSUBSCRIBE of one channel (redis-rs returns when the node's
    /// confirmation arrives; the sink has seen it by then).
    pub async fn command(self: &Arc<Self>, name: &str, chan: &str) -> Result<(), RedisError> {
        let mut cmd = redis::cmd(name);
        cmd.arg(chan);
        self.query(&cmd).await.map(drop)
    }

    /// How many shard channels this connection holds on the node (`CLIENT INFO`'s
    /// `ssub`): the reconciliation compares it with what the subscriber believes.
    pub async fn held(self: &Arc<Self>) -> Result<usize, RedisError> {
        let info = self
            .query(&redis::cmd("CLIENT").arg("INFO").clone())
            .await?;
        let text = match &info {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            Value::VerbatimString { text, .. } => text.clone(),
            Value::SimpleString(s) => s.clone(),
            _ => String::new(),
        };
        text.split_whitespace()
            .find_map(|f| f.strip_prefix("ssub="))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| {
                RedisError::from((
                    redis::ErrorKind::UnexpectedReturnType,
                    "CLIENT INFO without ssub= (Redis older than 7.0?)",
                ))
            })
    }
}

fn timed_out(what: &str, node: &str) -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("{what} on {node}: no answer in time"),
    ))
}
