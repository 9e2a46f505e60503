//! Counts the packets dropped for slow clients when the broadcast came from *another*
//! instance (`arena_pubsub_client_dropped_total`, also added to
//! `arena_client_send_dropped_total`).
//!
//! A broadcast from this instance reports its full client queues to the caller
//! (`BroadcastError::Socket`), which counts them. A broadcast from another instance
//! arrives through socketioxide-redis, which hands it to socketioxide-core's
//! `recv_broadcast`; that sends it to the local sockets and, when queues are full, only
//! logs `remote request broadcast handler: Socket([InternalChannelFull, ...])` at WARN
//! (target `socketioxide_core::adapter::request`, field `node_id` = the receiving
//! adapter's uid). Neither crate offers a hook: the emitter type is fixed by socketioxide
//! (`socketioxide::adapter::Emitter`) and the error never leaves that function. So this
//! module is a small `tracing` [`Layer`] that reads exactly those events, counts one drop
//! per `InternalChannelFull`, and charges them to the instance whose adapter uid is named
//! (several instances may share a process, as in the tests). The driver registers each
//! adapter uid when the adapter subscribes to its own request channel.
//!
//! The layer must be part of the global subscriber (`base::telemetry::init_with`); it
//! filters by its own target list, so `RUST_LOG` cannot switch the counting off.
//! The undecodable requests socketioxide-redis drops (`request handler error`, WARN,
//! target `socketioxide_redis`) are counted as `arena_corrupt_values_total{what=
//! "pubsub_request"}`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{LazyLock, RwLock};

use metrics::Counter;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::services::metrics::Metrics;

/// Where socketioxide-core logs a remote broadcast's failed local sends.
const CORE_TARGET: &str = "socketioxide_core::adapter::request";
/// Where socketioxide-redis logs a request it could not decode.
const REDIS_TARGET: &str = "socketioxide_redis";
/// The messages of remote broadcasts (without and with acks) whose local sends failed.
const BROADCAST_FAILED: [&str; 2] = [
    "remote request broadcast handler",
    "remote request broadcast with ack handler errors",
];
const UNDECODABLE: &str = "request handler error";
/// One per client whose queue was full.
const FULL: &str = "InternalChannelFull";

/// The counters of one instance, by its adapter uid.
#[derive(Clone)]
struct Sink {
    remote_dropped: Counter,
    client_dropped: Counter,
    metrics: Metrics,
}

static SINKS: LazyLock<RwLock<HashMap<String, Sink>>> = LazyLock::new(Default::default);

/// Charge drops logged for adapter `uid` to `metrics`.
pub fn register(uid: &str, metrics: &Metrics) {
    let sink = Sink {
        remote_dropped: metrics.pubsub_client_dropped.clone(),
        client_dropped: metrics.client_send_dropped.clone(),
        metrics: metrics.clone(),
    };
    SINKS
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(uid.to_string(), sink);
}

pub fn unregister(uid: &str) {
    SINKS.write().unwrap_or_else(|e| e.into_inner()).remove(uid);
}

/// The adapter uid in socketioxide-redis's per-server request channel
/// (`<prefix>-request#<namespace>#<uid>#`), if `chan` is one.
pub fn uid_of_request_channel(chan: &str) -> Option<&str> {
    let (_, rest) = chan.split_once("-request#")?;
    let rest = rest.strip_suffix('#')?;
    let (_, uid) = rest.rsplit_once('#')?;
    (!uid.is_empty()).then_some(uid)
}

/// The counting layer, for the global subscriber.
pub fn layer<S>() -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    DropCounter.with_filter(
        Targets::new()
            .with_target(CORE_TARGET, Level::WARN)
            .with_target(REDIS_TARGET, Level::WARN),
    )
}

struct DropCounter;

impl<S: Subscriber> Layer<S> for DropCounter {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let Some(message) = f.message else { return };
        let sinks = SINKS.read().unwrap_or_else(|e| e.into_inner());
        if BROADCAST_FAILED.iter().any(|m| message.starts_with(m)) {
            let full = message.matches(FULL).count() as u64;
            if full == 0 {
                return;
            }
            if let Some(sink) = f.node_id.as_deref().and_then(|uid| sinks.get(uid)) {
                sink.remote_dropped.increment(full);
                sink.client_dropped.increment(full);
            }
        } else if message.starts_with(UNDECODABLE)
            && let Some(sink) = f.uid.as_deref().and_then(|uid| sinks.get(uid))
        {
            sink.metrics.corrupt("pubsub_request", &message);
        }
    }
}

/// The fields these events carry.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    /// `%node_id` (socketioxide-core).
    node_id: Option<String>,
    /// `?uid` (socketioxide-redis), from its Debug form `Uid(...)`.
    uid: Option<String>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.message = Some(format!("{value:?}")),
            "node_id" => self.node_id = Some(format!("{value:?}")),
            "uid" => {
                let shown = format!("{value:?}");
                // `Uid(abc)` in Debug form; the uid itself is base64url.
                let inner = shown
                    .strip_prefix("Uid(")
                    .and_then(|s| s.strip_suffix(')'))
                    .map(str::to_string);
                self.uid = inner.or(Some(shown));
            }
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uid_comes_from_the_per_server_request_channel() {
        assert_eq!(
            uid_of_request_channel("arena-request#/#Abc123xyz#"),
            Some("Abc123xyz")
        );
        assert_eq!(uid_of_request_channel("arena-request#/#"), None);
        assert_eq!(uid_of_request_channel("arena-response#/#Abc#"), None);
        assert_eq!(uid_of_request_channel("arena-probe#i0"), None);
    }
}
