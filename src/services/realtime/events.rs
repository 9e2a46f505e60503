//! The one wrapper every socket event handler goes through: it parses the payload,
//! runs the handler, sends the ack envelope, records the duration and counts the error.
//!
//! Handlers receive `Result<T, AckError>` (a payload of the wrong shape is already a
//! `bad_request` there), so a malformed payload gets an ack instead of a handler that
//! silently never runs, and a mode can still count it in its own metrics.

use std::future::Future;
use std::time::Instant;

use metrics::Histogram;
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketioxide::BroadcastError;
use socketioxide::extract::{AckSender, TryData};

use super::{Adapter, Socket};
use crate::base::error::{AckError, ack_value};
use crate::services::metrics::Metrics;

/// One socket event of a mode: its name and the metrics each call feeds. Built once per
/// mode (not per socket), registered on every socket with [`Event::on`].
#[derive(Clone)]
pub struct Event {
    name: &'static str,
    duration: Histogram,
    metrics: Metrics,
}

impl Event {
    pub fn new(metrics: &Metrics, name: &'static str) -> Self {
        Self {
            name,
            duration: metrics.handler(name),
            metrics: metrics.clone(),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
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
        s.on(
            self.name,
            move |s: Socket, TryData(data): TryData<T>, ack: AckSender<Adapter>| {
                let event = event.clone();
                let state = state.clone();
                let handler = handler.clone();
                async move {
                    let start = Instant::now();
                    let data = data
                        .map_err(|e| AckError::bad_request(format!("{} payload: {e}", event.name)));
                    let r = handler(state, s, data).await;
                    event.reply(ack, start, &r);
                }
            },
        );
    }

    /// Count the error if any, send the ack envelope, record the duration.
    fn reply<R: Serialize>(
        &self,
        ack: AckSender<Adapter>,
        start: Instant,
        r: &Result<R, AckError>,
    ) {
        if let Err(e) = r {
            self.metrics.event_error(e.code).increment(1);
            tracing::debug!(event = self.name, code = e.code.as_str(), message = %e.message, "event rejected");
        }
        // No ack requested, or the client is gone: nothing to do.
        let _ = ack.send(&ack_value(r));
        self.duration.record(start.elapsed());
    }
}

/// The outcome of a room broadcast, counted: local receivers whose queues were full are
/// skipped and counted in `arena_client_send_dropped_total` (never awaited); any other
/// failure means the broadcast did not go out.
pub fn broadcast_outcome(
    metrics: &Metrics,
    what: &'static str,
    r: Result<(), BroadcastError>,
) -> Result<(), AckError> {
    match r {
        Ok(()) => Ok(()),
        Err(BroadcastError::Socket(errs)) => {
            metrics.client_send_dropped.increment(errs.len() as u64);
            Ok(())
        }
        Err(e) => {
            tracing::warn!(error = %e, what, "broadcast failed");
            Err(AckError::unavailable())
        }
    }
}
