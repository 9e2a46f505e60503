//! The one wrapper every socket event handler goes through: it admits the event under the
//! connection's limits (`intake`), decodes the payload, runs the handler, delivers the
//! ack envelope, records the duration and counts the error.
//!
//! Handlers receive `Result<T, AckError>` (a payload of the wrong shape is already a
//! `bad_request` there), so a malformed payload gets an ack instead of a handler that
//! silently never runs, and a mode can still count it in its own metrics. A payload must
//! be a JSON object: serde would otherwise map an array such as `["r1"]` onto a struct's
//! fields in order. An event no mode registered gets `unknown_event` ([`on_unknown`]).

use std::future::{Future, ready};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::Either;
use metrics::{Counter, Histogram};
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketioxide::extract::{AckSender, TryData};
use socketioxide::handler::{FromMessage, FromMessageParts, Value as RawValue};
use socketioxide::{SendError, SocketError};

use super::intake::{self, InflightGuard, Intake, IntakeMetrics, Refusal, Verdict};
use super::{Adapter, Socket};
use crate::base::error::{AckError, ErrorCode, ack_value};
use crate::services::metrics::Metrics;

/// The ack code of an event no handler is registered for.
pub const UNKNOWN_EVENT: ErrorCode = ErrorCode::new("unknown_event", 404);

/// The first retry of an ack that found the client's queue full comes after this; the
/// wait doubles up to [`ACK_RETRY_MAX`].
const ACK_RETRY_MIN: Duration = Duration::from_millis(1);
const ACK_RETRY_MAX: Duration = Duration::from_millis(16);
/// An ack still not queued after this long is given up (the engine's heartbeat closes a
/// connection whose queue stays full well before: its ping finds no room either).
const ACK_PATIENCE: Duration = Duration::from_secs(60);
/// How often the disconnect of a flooding connection is retried while its queue is full.
const DISCONNECT_RETRY: Duration = Duration::from_millis(50);

/// socketioxide's socket, as its extractors see it.
type Inner = socketioxide::socket::Socket<Adapter>;

/// One event as socketioxide hands it over: not decoded yet, so an event that is refused
/// costs no parsing.
pub struct Incoming {
    socket: Arc<Inner>,
    data: RawValue,
    ack_id: Option<i64>,
}

impl FromMessage<Adapter> for Incoming {
    type Error = std::convert::Infallible;
    fn from_message(
        socket: Arc<Inner>,
        data: RawValue,
        ack_id: Option<i64>,
    ) -> Result<Self, Self::Error> {
        Ok(Self {
            socket,
            data,
            ack_id,
        })
    }
}

impl Incoming {
    fn socket(&self) -> Socket {
        Socket::from(self.socket.clone())
    }

    /// The payload as `T`; it must be a JSON object.
    fn decode<T: DeserializeOwned>(&mut self, event: &str) -> Result<T, AckError> {
        let Ok(TryData(v)) =
            TryData::<serde_json::Value>::from_message_parts(&self.socket, &mut self.data, &None);
        let v = v.map_err(|e| AckError::bad_request(format!("{event} payload: {e}")))?;
        if !v.is_object() {
            return Err(AckError::bad_request(format!(
                "{event} payload must be a JSON object, not {}",
                kind(&v)
            )));
        }
        serde_json::from_value(v)
            .map_err(|e| AckError::bad_request(format!("{event} payload: {e}")))
    }

    /// The event's name, at most 64 characters of it (for messages and logs).
    fn name(&mut self) -> String {
        match socketioxide::extract::Event::from_message_parts(&self.socket, &mut self.data, &None)
        {
            Ok(socketioxide::extract::Event(name)) => name.chars().take(64).collect(),
            Err(_) => String::new(),
        }
    }

    fn ack(&self) -> Ack {
        Ack {
            socket: self.socket.clone(),
            id: self.ack_id,
        }
    }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null (or nothing)",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The ack one event asked for (if it asked).
///
/// Why not `AckSender::send` alone: socketioxide queues an ack like any other packet,
/// with a `try_reserve` on the connection's one bounded queue (`CLIENT_BUFFER`), which
/// broadcasts fill too. When a busy room keeps that queue full, the ack is dropped
/// although its action happened (10–26 of 50 acks were lost in a room of 20 senders).
/// socketioxide has no priority lane for acks and no awaitable reserve on that queue, so
/// an ack that finds it full is retried here, on the handler's task, until it is queued
/// or the connection closes; broadcasts are still dropped for a full queue (and counted
/// in `arena_client_send_dropped_total`). The handler's in-flight slot is held meanwhile,
/// so a connection has at most `SOCKET_MAX_INFLIGHT` acks waiting.
struct Ack {
    socket: Arc<Inner>,
    id: Option<i64>,
}

impl Ack {
    fn try_send(&self, v: &serde_json::Value) -> Result<(), SendError> {
        // AckSender ignores the payload it is extracted from.
        let mut unused = RawValue::Bytes(Default::default());
        let Ok(sender) =
            AckSender::<Adapter>::from_message_parts(&self.socket, &mut unused, &self.id);
        sender.send(v)
    }

    /// Queue the ack, retrying while the client's queue is full (see [`Ack`]).
    async fn deliver(&self, v: &serde_json::Value, m: &IntakeMetrics) {
        if self.id.is_none() {
            return;
        }
        let started = Instant::now();
        let mut wait = ACK_RETRY_MIN;
        let mut retried = false;
        loop {
            match self.try_send(v) {
                Ok(()) => {
                    if retried {
                        m.acks_retried.increment(1);
                    }
                    return;
                }
                Err(SendError::Socket(SocketError::InternalChannelFull))
                    if self.socket.connected() =>
                {
                    if started.elapsed() > ACK_PATIENCE {
                        m.acks_dropped_stalled.increment(1);
                        return;
                    }
                    retried = true;
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(ACK_RETRY_MAX);
                }
                Err(SendError::Socket(_)) => {
                    m.acks_dropped_closed.increment(1);
                    return;
                }
                Err(SendError::Serialize(e)) => {
                    tracing::error!(error = %e, "ack could not be serialized");
                    return;
                }
            }
        }
    }

    /// One try only: the answer to a refused event. A connection that floods and does
    /// not read must not pile these up.
    fn send_once(&self, v: &serde_json::Value, m: &IntakeMetrics) {
        if self.id.is_some() && self.try_send(v).is_err() {
            m.acks_dropped_refused.increment(1);
        }
    }
}

/// A connection's intake and what a refusal costs: shared by [`Event::on`] and
/// [`on_unknown`].
#[derive(Clone)]
struct Gate {
    intake: Arc<Intake>,
    rate_limited: Counter,
}

impl Gate {
    fn new(s: &Socket, metrics: &Metrics) -> Self {
        Self {
            intake: intake::of(s, metrics),
            rate_limited: metrics.event_error(ErrorCode::RATE_LIMITED),
        }
    }

    /// Admit `incoming`, or answer the refusal (`rate_limited` when an ack was asked,
    /// dropped and counted otherwise) and disconnect a connection that keeps flooding.
    fn admit(&self, incoming: &Incoming) -> Option<InflightGuard> {
        let reason = match self.intake.admit(Instant::now()) {
            Verdict::Admit(guard) => return Some(guard),
            Verdict::Refuse(Refusal::Closing) => return None,
            Verdict::Refuse(r) => r,
            Verdict::Disconnect => {
                disconnect_flooder(incoming.socket.clone(), self.intake.limits().flood);
                Refusal::Rate
            }
        };
        self.rate_limited.increment(1);
        let limits = self.intake.limits();
        let message = match reason {
            Refusal::Inflight => format!(
                "{} events of this connection are still being handled (SOCKET_MAX_INFLIGHT); wait for their acks",
                limits.max_inflight
            ),
            _ => format!(
                "over {} events per second, burst {} (SOCKET_EVENT_RATE, SOCKET_EVENT_BURST); slow down",
                limits.rate, limits.burst
            ),
        };
        let r: Result<(), AckError> = Err(AckError::new(ErrorCode::RATE_LIMITED, message));
        incoming
            .ack()
            .send_once(&ack_value(&r), self.intake.metrics());
        None
    }
}

/// Disconnect a connection that flooded for `SOCKET_FLOOD_SECS`. socketioxide refuses to
/// while the connection's queue is full (the disconnect packet must fit), so it is
/// retried until it goes through or the connection is gone. Whatever the client sends
/// after that closes its transport (its socket is no longer in the namespace).
fn disconnect_flooder(socket: Arc<Inner>, flood: Duration) {
    tracing::warn!(sid = %socket.id, ?flood, "disconnecting a connection that keeps flooding");
    tokio::spawn(async move {
        while let Err(SocketError::InternalChannelFull) = Socket::from(socket.clone()).disconnect()
        {
            if !socket.connected() {
                break;
            }
            tokio::time::sleep(DISCONNECT_RETRY).await;
        }
    });
}

/// One socket event of a mode: its name and the metrics each call feeds. Built once per
/// mode (not per socket), registered on every socket with [`Event::on`]. A handle: every
/// socket's handler holds a copy, and [`Metrics`] by value is hundreds of bytes.
#[derive(Clone)]
pub struct Event(Arc<EventParts>);

struct EventParts {
    name: &'static str,
    duration: Histogram,
    metrics: Metrics,
}

impl Event {
    pub fn new(metrics: &Metrics, name: &'static str) -> Self {
        Self(Arc::new(EventParts {
            name,
            duration: metrics.handler(name),
            metrics: metrics.clone(),
        }))
    }

    pub fn name(&self) -> &'static str {
        self.0.name
    }

    /// Register this event on socket `s`: `handler(state, socket, payload)` answers the ack.
    pub fn on<S, T, R, F, Fut>(&self, s: &Socket, state: &S, handler: F)
    where
        S: Clone + Send + Sync + 'static,
        T: DeserializeOwned + Send + Sync + 'static,
        R: Serialize,
        F: Fn(S, Socket, Result<T, AckError>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<R, AckError>> + Send + 'static,
    {
        let event = self.clone();
        let state = state.clone();
        let gate = Gate::new(s, &self.0.metrics);
        // Called in the connection's read path; socketioxide spawns the future it returns.
        s.on(self.0.name, move |mut incoming: Incoming| {
            let Some(slot) = gate.admit(&incoming) else {
                return Either::Right(ready(()));
            };
            let (event, state, handler, gate) =
                (event.clone(), state.clone(), handler.clone(), gate.clone());
            // Boxed: socketioxide spawns whatever this returns, and a refused event's task
            // should cost a few bytes, not the size of the handler's state machine.
            Either::Left(Box::pin(async move {
                let start = Instant::now();
                let data = incoming.decode::<T>(event.0.name);
                let answer = {
                    let r = handler(state, incoming.socket(), data).await;
                    event.count(&r);
                    ack_value(&r)
                };
                event.0.duration.record(start.elapsed());
                incoming.ack().deliver(&answer, gate.intake.metrics()).await;
                drop(slot);
            }))
        });
    }

    /// Count the error if any.
    fn count<R>(&self, r: &Result<R, AckError>) {
        if let Err(e) = r {
            self.0.metrics.event_error(e.code).increment(1);
            tracing::debug!(event = self.0.name, code = e.code.as_str(), message = %e.message, "event rejected");
        }
    }
}

/// Answer every event no handler is registered for on socket `s` with `unknown_event`
/// (under the same limits as the others). Register it after the modes' events.
pub fn on_unknown(s: &Socket, metrics: &Metrics) {
    let gate = Gate::new(s, metrics);
    let unknown = metrics.event_error(UNKNOWN_EVENT);
    s.on_fallback(move |mut incoming: Incoming| {
        let Some(slot) = gate.admit(&incoming) else {
            return Either::Right(ready(()));
        };
        unknown.increment(1);
        let gate = gate.clone();
        Either::Left(async move {
            let name = incoming.name();
            let r: Result<(), AckError> = Err(AckError::new(
                UNKNOWN_EVENT,
                format!("no event named {name:?}"),
            ));
            incoming
                .ack()
                .deliver(&ack_value(&r), gate.intake.metrics())
                .await;
            drop(slot);
        })
    });
}
