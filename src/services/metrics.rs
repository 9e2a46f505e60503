//! The metrics registry of one instance, and the metrics of the shared services.
//!
//! The registry is a `metrics-exporter-prometheus` recorder that is *not* installed
//! globally: each instance owns its own, so several instances in one test process keep
//! separate figures. Histograms get explicit buckets (not summaries) so they can be
//! summed across instances. Each mode names and registers its own metrics in its
//! `metrics.rs` through [`Metrics::counter`] and friends; label sets stay closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, SharedString,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::base::error::ErrorCode;

pub const CONNECTED_CLIENTS: &str = "arena_connected_clients";
pub const ACTIVE_ROOMS: &str = "arena_active_rooms";
pub const HANDLER_DURATION_SECONDS: &str = "arena_handler_duration_seconds";
pub const EVENT_ERRORS_TOTAL: &str = "arena_event_errors_total";
pub const PUBSUB_ROUNDTRIP_SECONDS: &str = "arena_redis_pubsub_roundtrip_seconds";
pub const PUBSUB_DROPPED_TOTAL: &str = "arena_pubsub_dropped_total";
pub const PUBSUB_RECONNECTS_TOTAL: &str = "arena_pubsub_reconnects_total";
/// 1 while publishes to other instances are let through (subscriber subscribed,
/// publisher answering, peers back after a loss), 0 while they are refused.
pub const PUBSUB_LIVE: &str = "arena_pubsub_live";
/// Packets from other instances dropped for local clients whose queue was full (also
/// counted in `arena_client_send_dropped_total`); see `services::realtime::drops`.
pub const PUBSUB_CLIENT_DROPPED_TOTAL: &str = "arena_pubsub_client_dropped_total";
pub const CLIENT_SEND_DROPPED_TOTAL: &str = "arena_client_send_dropped_total";
// --- The room bus (services/realtime/room_*.rs) ---
pub const ROOM_CHANNELS_SUBSCRIBED: &str = "arena_room_channels_subscribed";
pub const ROOM_RESUBSCRIBES_TOTAL: &str = "arena_room_resubscribes_total";
pub const ROOM_REPLAYED_TOTAL: &str = "arena_room_replayed_total";
pub const ROOM_RESYNCS_TOTAL: &str = "arena_room_resyncs_total";
/// Fed through `lock::LockMetrics`.
pub const LOCK_ACQUIRE_DURATION_SECONDS: &str = "arena_lock_acquire_duration_seconds";
pub const LOCK_LOST_TOTAL: &str = "arena_lock_lost_total";
/// Host clock minus Redis's clock, as the period runner last measured it.
pub const CLOCK_SKEW_SECONDS: &str = "arena_clock_skew_seconds";
/// Stored values and script replies that did not parse (answered `unavailable`).
pub const CORRUPT_VALUES_TOTAL: &str = "arena_corrupt_values_total";

// --- What one connection may ask (services/realtime/intake.rs, admission.rs, events.rs) ---
/// Events refused by a connection's limits, by `reason`: `rate` (SOCKET_EVENT_RATE /
/// BURST, and everything a connection sends while it is being disconnected for
/// flooding), `inflight` (SOCKET_MAX_INFLIGHT).
pub const EVENTS_REFUSED_TOTAL: &str = "arena_events_refused_total";
/// Connections disconnected for flooding (over the rate for SOCKET_FLOOD_SECS).
pub const FLOOD_DISCONNECTS_TOTAL: &str = "arena_flood_disconnects_total";
/// Handshakes refused, by `reason`: `instance` (MAX_CONNECTIONS), `address`
/// (MAX_CONNECTIONS_PER_IP).
pub const CONNECTIONS_REFUSED_TOTAL: &str = "arena_connections_refused_total";
/// Socket disconnects, by `reason` (see [`DISCONNECT_REASONS`]).
pub const DISCONNECTS_TOTAL: &str = "arena_disconnects_total";
/// Acks that found the client's queue full and were queued on a later try.
pub const ACKS_RETRIED_TOTAL: &str = "arena_acks_retried_total";
/// Acks not delivered, by `reason`: `refused` (the answer to a refused event found the
/// queue full), `closed` (the connection closed first), `stalled` (the client's queue
/// stayed full for a minute).
pub const ACKS_DROPPED_TOTAL: &str = "arena_acks_dropped_total";
/// The closed label set of `arena_disconnects_total{reason}`; `transport_error` includes
/// a WebSocket frame or message over the engine cap.
pub const DISCONNECT_REASONS: [&str; 8] = [
    "transport_close",
    "transport_error",
    "packet_parsing_error",
    "heartbeat_timeout",
    "multiple_http_polling",
    "client_disconnect",
    "server_disconnect",
    "closing_server",
];

const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Histograms named `*_wait_seconds` time people waiting (a matchmaking queue), seconds to
/// minutes, where the latency buckets would put nearly everything in `+Inf`.
const WAIT_SUFFIX: &str = "_wait_seconds";
const WAIT_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

/// Histograms named `*_lag_seconds` (the leaderboard projection, the battle outbox) time
/// how far a consumer trails its log; the leaderboard's target is p99 < 50 ms, where the
/// latency buckets jump 10 -> 25 -> 50 ms, so quantiles came out on those edges. These
/// step by 1-5 ms from 1 to 50 ms, then coarser up to the same 5 s.
const LAG_SUFFIX: &str = "_lag_seconds";
const LAG_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.012, 0.015, 0.02, 0.025, 0.03, 0.035,
    0.04, 0.045, 0.05, 0.06, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Error codes counted before any error happened, so `arena_event_errors_total{code}`
/// shows them at 0 from the start; a mode adds its own with [`Metrics::declare_codes`].
const COMMON_CODES: [ErrorCode; 7] = [
    ErrorCode::BAD_REQUEST,
    ErrorCode::NOT_IN_ROOM,
    ErrorCode::RATE_LIMITED,
    ErrorCode::PAYLOAD_TOO_LARGE,
    ErrorCode::UNAVAILABLE,
    ErrorCode::TIMEOUT,
    ErrorCode::INTERNAL,
];

/// `# HELP` of the shared services' metrics; each mode describes its own beside their
/// names (`Metrics::describe`).
const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        ROOM_CHANNELS_SUBSCRIBED,
        "Room shard channels this instance is subscribed to (rooms with local members).",
    ),
    (
        ROOM_RESUBSCRIBES_TOTAL,
        "Rounds in which the room bus subscribed lost room channels again (after a disconnection, an unrequested sunsubscribe or a failed SSUBSCRIBE).",
    ),
    (
        ROOM_REPLAYED_TOTAL,
        "Room events delivered from the room history instead of live (gaps, catch-ups, client recoveries).",
    ),
    (
        ROOM_RESYNCS_TOTAL,
        "resync events sent because the room history no longer covered what a socket or this instance missed.",
    ),
    (
        CONNECTED_CLIENTS,
        "Socket.IO clients connected to this instance.",
    ),
    (
        ACTIVE_ROOMS,
        "Rooms with at least one member on this instance (personal player rooms not counted).",
    ),
    (
        HANDLER_DURATION_SECONDS,
        "Socket event handler duration, from the event to its ack, by event.",
    ),
    (
        EVENT_ERRORS_TOTAL,
        "Socket events answered with an error ack, by error code.",
    ),
    (
        PUBSUB_ROUNDTRIP_SECONDS,
        "Redis pub/sub round trip of this instance's probe message.",
    ),
    (
        PUBSUB_DROPPED_TOTAL,
        "Cross-instance messages dropped because this instance's pub/sub queue was full.",
    ),
    (
        PUBSUB_RECONNECTS_TOTAL,
        "Pub/sub connection losses (re-subscribed automatically).",
    ),
    (
        CLIENT_SEND_DROPPED_TOTAL,
        "Packets dropped for clients whose send queue was full (slow clients are skipped, never awaited).",
    ),
    (
        LOCK_ACQUIRE_DURATION_SECONDS,
        "Time to acquire a Redlock lease, including waits.",
    ),
    (
        LOCK_LOST_TOTAL,
        "Redlock leases lost while held (renewal failed before validity ran out).",
    ),
    (
        CLOCK_SKEW_SECONDS,
        "This host's clock minus Redis's clock, as the period runner last measured it.",
    ),
    (
        CORRUPT_VALUES_TOTAL,
        "Stored values or script replies that did not parse (answered unavailable), by what.",
    ),
    (
        PUBSUB_LIVE,
        "1 while publishes to other instances are let through, 0 while they are refused.",
    ),
    (
        PUBSUB_CLIENT_DROPPED_TOTAL,
        "Packets from other instances dropped for local clients whose queue was full.",
    ),
    (
        EVENTS_REFUSED_TOTAL,
        "Events refused by a connection's limits, by reason (rate, inflight).",
    ),
    (
        FLOOD_DISCONNECTS_TOTAL,
        "Connections disconnected for flooding (over the event rate for SOCKET_FLOOD_SECS).",
    ),
    (
        CONNECTIONS_REFUSED_TOTAL,
        "Handshakes refused, by reason (instance: MAX_CONNECTIONS, address: MAX_CONNECTIONS_PER_IP).",
    ),
    (DISCONNECTS_TOTAL, "Socket disconnects, by reason."),
    (
        ACKS_RETRIED_TOTAL,
        "Acks that found the client's queue full and were queued on a later try.",
    ),
    (
        ACKS_DROPPED_TOTAL,
        "Acks not delivered, by reason (refused, closed, stalled).",
    ),
];

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The registry and the shared services' metrics. Cheap to clone (all handles are `Arc`s).
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    recorder: Arc<PrometheusRecorder>,
    pub connected_clients: Gauge,
    pub active_rooms: Gauge,
    pub pubsub_roundtrip: Histogram,
    pub pubsub_dropped: Counter,
    pub pubsub_reconnects: Counter,
    pub pubsub_live: Gauge,
    pub pubsub_client_dropped: Counter,
    pub client_send_dropped: Counter,
    pub lock_acquire_duration: Histogram,
    pub lock_lost: Counter,
    pub clock_skew: Gauge,
    /// The standard `process_*` metrics (CPU seconds as a counter, resident and virtual
    /// memory, open and max file descriptors, threads, start time), from the
    /// `metrics-process` crate, recorded into this instance's registry at each render.
    process: metrics_process::Collector,
    /// `arena_event_errors_total{code}`, one counter per code seen or declared. Codes are
    /// constants, so the label set stays closed.
    event_errors: Arc<RwLock<HashMap<&'static str, Counter>>>,
    /// Mirrors `arena_connected_clients` for /status (a gauge handle cannot be read back).
    connected: Arc<AtomicI64>,
}

impl Metrics {
    pub fn new() -> Self {
        let recorder: PrometheusRecorder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Suffix(WAIT_SUFFIX.into()), WAIT_BUCKETS)
            })
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix(LAG_SUFFIX.into()), LAG_BUCKETS))
            .map(|b| b.build_recorder())
            // Only fails on an empty bucket list, which none of the lists is.
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let r = &recorder;
        let counter =
            |name: &'static str| r.register_counter(&Key::from_static_name(name), &METADATA);
        let gauge = |name: &'static str| r.register_gauge(&Key::from_static_name(name), &METADATA);
        let histogram =
            |name: &'static str| r.register_histogram(&Key::from_static_name(name), &METADATA);
        let m = Self {
            connected_clients: gauge(CONNECTED_CLIENTS),
            active_rooms: gauge(ACTIVE_ROOMS),
            pubsub_roundtrip: histogram(PUBSUB_ROUNDTRIP_SECONDS),
            pubsub_dropped: counter(PUBSUB_DROPPED_TOTAL),
            pubsub_reconnects: counter(PUBSUB_RECONNECTS_TOTAL),
            pubsub_live: gauge(PUBSUB_LIVE),
            pubsub_client_dropped: counter(PUBSUB_CLIENT_DROPPED_TOTAL),
            client_send_dropped: counter(CLIENT_SEND_DROPPED_TOTAL),
            lock_acquire_duration: histogram(LOCK_ACQUIRE_DURATION_SECONDS),
            lock_lost: counter(LOCK_LOST_TOTAL),
            clock_skew: gauge(CLOCK_SKEW_SECONDS),
            process: metrics_process::Collector::default(),
            event_errors: Default::default(),
            connected: Default::default(),
            handle: recorder.handle(),
            recorder: Arc::new(recorder),
        };
        m.declare_codes(&COMMON_CODES);
        for (name, help) in DESCRIPTIONS {
            m.describe(name, help);
        }
        // The collector records through the `metrics` macros, so point them at this
        // instance's registry (not a global one) while it runs.
        metrics::with_local_recorder(m.recorder.as_ref(), || m.process.describe());
        m
    }

    /// The `# HELP` line of metric `name` (every series of it, whatever its type).
    pub fn describe(&self, name: &'static str, help: &'static str) {
        self.recorder.describe_counter(
            KeyName::from_const_str(name),
            None,
            SharedString::const_str(help),
        );
    }

    /// A counter `name` without labels.
    pub fn counter(&self, name: &'static str) -> Counter {
        self.recorder
            .register_counter(&Key::from_static_name(name), &METADATA)
    }

    /// A counter `name{label="value"}`.
    pub fn counter_with(&self, name: &'static str, label: &'static str, value: &str) -> Counter {
        let key = Key::from_parts(name, vec![Label::new(label, value.to_string())]);
        self.recorder.register_counter(&key, &METADATA)
    }

    /// A counter `name{k="v",...}` (a closed label set: the caller's constants).
    pub fn counter_labels(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
        let labels = labels
            .iter()
            .map(|(k, v)| Label::new(*k, v.to_string()))
            .collect::<Vec<_>>();
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    /// A histogram `name{k="v",...}` (latency buckets, in seconds).
    pub fn histogram_labels(
        &self,
        name: &'static str,
        labels: &[(&'static str, &str)],
    ) -> Histogram {
        let labels = labels
            .iter()
            .map(|(k, v)| Label::new(*k, v.to_string()))
            .collect::<Vec<_>>();
        self.recorder
            .register_histogram(&Key::from_parts(name, labels), &METADATA)
    }

    /// A gauge `name` without labels.
    pub fn gauge(&self, name: &'static str) -> Gauge {
        self.recorder
            .register_gauge(&Key::from_static_name(name), &METADATA)
    }

    /// A gauge `name{label="value"}`.
    pub fn gauge_with(&self, name: &'static str, label: &'static str, value: &str) -> Gauge {
        let key = Key::from_parts(name, vec![Label::new(label, value.to_string())]);
        self.recorder.register_gauge(&key, &METADATA)
    }

    /// A histogram `name` without labels (latency buckets, in seconds).
    pub fn histogram(&self, name: &'static str) -> Histogram {
        self.recorder
            .register_histogram(&Key::from_static_name(name), &METADATA)
    }

    /// `arena_handler_duration_seconds{handler}` of one socket event (or `connect`).
    pub fn handler(&self, event: &'static str) -> Histogram {
        let key = Key::from_parts(HANDLER_DURATION_SECONDS, vec![Label::new("handler", event)]);
        self.recorder.register_histogram(&key, &METADATA)
    }

    /// Show these codes in `arena_event_errors_total` at 0 before they first happen.
    pub fn declare_codes(&self, codes: &[ErrorCode]) {
        for &code in codes {
            let _ = self.event_error(code);
        }
    }

    /// `arena_event_errors_total{code}`.
    pub fn event_error(&self, code: ErrorCode) -> Counter {
        let name = code.as_str();
        if let Ok(map) = self.event_errors.read()
            && let Some(c) = map.get(name)
        {
            return c.clone();
        }
        let c = self.counter_with(EVENT_ERRORS_TOTAL, "code", name);
        if let Ok(mut map) = self.event_errors.write() {
            map.insert(name, c.clone());
        }
        c
    }

    /// A stored value or script reply that does not parse: logged and counted in
    /// `arena_corrupt_values_total{what}`; the caller answers `unavailable`.
    pub fn corrupt(&self, what: &'static str, detail: &dyn std::fmt::Display) {
        tracing::error!(what, %detail, "corrupt value or unknown reply from redis");
        self.counter_with(CORRUPT_VALUES_TOTAL, "what", what)
            .increment(1);
    }

    /// Log a Redis failure once where it is handled: an unknown script reply counts as
    /// corrupt, anything else is Redis being unavailable.
    pub fn redis_failure(&self, what: &'static str, e: &redis::RedisError) {
        if e.kind() == redis::ErrorKind::UnexpectedReturnType {
            self.corrupt(what, e);
        } else {
            tracing::warn!(what, error = %e, "redis unavailable");
        }
    }

    pub fn client_connected(&self) {
        self.connected.fetch_add(1, Ordering::Relaxed);
        self.connected_clients.increment(1.0);
    }

    pub fn client_disconnected(&self) {
        self.connected.fetch_sub(1, Ordering::Relaxed);
        self.connected_clients.decrement(1.0);
    }

    pub fn connected(&self) -> i64 {
        self.connected.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition, with the process metrics refreshed.
    pub fn render(&self) -> String {
        metrics::with_local_recorder(self.recorder.as_ref(), || self.process.collect());
        self.handle.render()
    }

    /// Drain histogram buckets that the exporter keeps; call periodically.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
