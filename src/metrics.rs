//! Every metric arena exports, named once (DESIGN.md), in one registry per instance.
//!
//! The registry is a `metrics-exporter-prometheus` recorder that is *not* installed
//! globally: each `App` owns its own, so several instances in one test process keep
//! separate figures. Histograms get explicit buckets (not summaries) so they can be
//! summed across instances.

use std::sync::atomic::{AtomicI64, Ordering};

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

pub const CONNECTED_CLIENTS: &str = "arena_connected_clients";
pub const ACTIVE_ROOMS: &str = "arena_active_rooms";
pub const ATTACKS_TOTAL: &str = "arena_attacks_total";
pub const TICKS_ACQUIRED_TOTAL: &str = "arena_ticks_acquired_total";
pub const TICKS_SKIPPED_TOTAL: &str = "arena_ticks_skipped_total";
pub const TICK_ERRORS_TOTAL: &str = "arena_tick_errors_total";
pub const HANDLER_DURATION_SECONDS: &str = "arena_handler_duration_seconds";
pub const PUBSUB_ROUNDTRIP_SECONDS: &str = "arena_redis_pubsub_roundtrip_seconds";
pub const PUBSUB_DROPPED_TOTAL: &str = "arena_pubsub_dropped_total";
pub const PUBSUB_RECONNECTS_TOTAL: &str = "arena_pubsub_reconnects_total";
pub const CLIENT_SEND_DROPPED_TOTAL: &str = "arena_client_send_dropped_total";
pub const EVENT_ERRORS_TOTAL: &str = "arena_event_errors_total";
pub const RESIDENT_MEMORY_BYTES: &str = "arena_process_resident_memory_bytes";
pub const CPU_SECONDS_TOTAL: &str = "arena_process_cpu_seconds_total";
/// Fed through `lock::LockMetrics`.
pub const LOCK_ACQUIRE_DURATION_SECONDS: &str = "arena_lock_acquire_duration_seconds";
pub const LOCK_LOST_TOTAL: &str = "arena_lock_lost_total";
/// Battles and the worker cluster.
pub const BATTLES_CREATED_TOTAL: &str = "arena_battles_created_total";
pub const BATTLE_START_CONFLICTS_TOTAL: &str = "arena_battle_start_conflicts_total";
pub const ACTIVE_BATTLES: &str = "arena_active_battles";
pub const WARMUPS_TOTAL: &str = "arena_warmups_total";
/// Treasure hunt.
pub const CLAIMS_TOTAL: &str = "arena_claims_total";
pub const CLAIM_DURATION_SECONDS: &str = "arena_claim_duration_seconds";
pub const MAPS_GENERATED_TOTAL: &str = "arena_maps_generated_total";
pub const STREAM_PENDING: &str = "arena_stream_pending";
pub const DEAD_LETTERS_TOTAL: &str = "arena_dead_letters_total";
pub const LEADERBOARD_LAG_SECONDS: &str = "arena_leaderboard_lag_seconds";
pub const RATE_LIMITED_TOTAL: &str = "arena_rate_limited_total";

const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The socket event handlers whose duration is measured (a closed label set).
#[derive(Debug, Clone, Copy)]
pub enum Handler {
    Connect,
    JoinRoom,
    LeaveRoom,
    Attack,
    Claim,
    StartBattle,
    EndBattle,
}

impl Handler {
    const ALL: [Handler; 7] = [
        Handler::Connect,
        Handler::JoinRoom,
        Handler::LeaveRoom,
        Handler::Attack,
        Handler::Claim,
        Handler::StartBattle,
        Handler::EndBattle,
    ];
    fn label(self) -> &'static str {
        match self {
            Handler::Connect => "connect",
            Handler::JoinRoom => "join_room",
            Handler::LeaveRoom => "leave_room",
            Handler::Attack => "attack",
            Handler::Claim => "claim",
            Handler::StartBattle => "start_battle",
            Handler::EndBattle => "end_battle",
        }
    }
}

/// The `result` label of `arena_claims_total` (a closed set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimResult {
    Ok,
    Taken,
    Expired,
    /// A tile off the map, or an unknown map.
    Invalid,
    RateLimited,
    BadRequest,
    /// Redis did not answer: the claim may not have happened; the client should retry.
    Unavailable,
}

impl ClaimResult {
    const ALL: [ClaimResult; 7] = [
        ClaimResult::Ok,
        ClaimResult::Taken,
        ClaimResult::Expired,
        ClaimResult::Invalid,
        ClaimResult::RateLimited,
        ClaimResult::BadRequest,
        ClaimResult::Unavailable,
    ];
    fn label(self) -> &'static str {
        match self {
            ClaimResult::Ok => "ok",
            ClaimResult::Taken => "taken",
            ClaimResult::Expired => "expired",
            ClaimResult::Invalid => "invalid",
            ClaimResult::RateLimited => "rate_limited",
            ClaimResult::BadRequest => "bad_request",
            ClaimResult::Unavailable => "unavailable",
        }
    }
}

/// Error codes counted in `arena_event_errors_total{code}` (a closed label set).
const ERROR_CODES: [crate::error::ErrorCode; 11] = [
    crate::error::ErrorCode::BadRequest,
    crate::error::ErrorCode::NotInRoom,
    crate::error::ErrorCode::RateLimited,
    crate::error::ErrorCode::PayloadTooLarge,
    crate::error::ErrorCode::Unavailable,
    crate::error::ErrorCode::TileTaken,
    crate::error::ErrorCode::MapExpired,
    crate::error::ErrorCode::InvalidTile,
    crate::error::ErrorCode::UnknownMap,
    crate::error::ErrorCode::NotFound,
    // Last: the fallback of `event_error`.
    crate::error::ErrorCode::Internal,
];

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Handles to every metric of one instance. Cheap to clone (all handles are `Arc`s).
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    pub connected_clients: Gauge,
    pub active_rooms: Gauge,
    pub attacks: Counter,
    pub ticks_acquired: Counter,
    pub ticks_skipped: Counter,
    pub tick_errors: Counter,
    pub pubsub_roundtrip: Histogram,
    pub pubsub_dropped: Counter,
    pub pubsub_reconnects: Counter,
    pub client_send_dropped: Counter,
    resident_memory: Gauge,
    cpu_seconds: Gauge,
    handlers: [Histogram; 7],
    event_errors: [Counter; 11],
    claims: [Counter; 7],
    pub claim_duration: Histogram,
    pub maps_generated: Counter,
    pub dead_letters: Counter,
    pub leaderboard_lag: Histogram,
    rate_limited: [Counter; 1],
    pub battles_created: Counter,
    pub battle_start_conflicts: Counter,
    pub active_battles: Gauge,
    pub warmups: Counter,
    pub lock_acquire_duration: Histogram,
    pub lock_lost: Counter,
    /// Kept to register `arena_stream_pending{partition}` once the partition count is known.
    recorder: std::sync::Arc<PrometheusRecorder>,
    /// Mirrors `arena_connected_clients` for /status (a gauge handle cannot be read back).
    connected: std::sync::Arc<AtomicI64>,
}

impl Metrics {
    pub fn new() -> Self {
        let recorder: PrometheusRecorder = PrometheusBuilder::new()
            .set_buckets(LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(PUBSUB_ROUNDTRIP_SECONDS.into()),
                    LATENCY_BUCKETS,
                )
            })
            .map(|b| b.build_recorder())
            // Only fails on an empty bucket list, which LATENCY_BUCKETS is not.
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let r = &recorder;
        let counter =
            |name: &'static str| r.register_counter(&Key::from_static_name(name), &METADATA);
        let gauge = |name: &'static str| r.register_gauge(&Key::from_static_name(name), &METADATA);
        let handlers = Handler::ALL.map(|h| {
            let key = Key::from_parts(
                HANDLER_DURATION_SECONDS,
                vec![Label::new("handler", h.label())],
            );
            r.register_histogram(&key, &METADATA)
        });
        let event_errors = ERROR_CODES.map(|c| {
            let key = Key::from_parts(EVENT_ERRORS_TOTAL, vec![Label::new("code", c.as_str())]);
            r.register_counter(&key, &METADATA)
        });
        let claims = ClaimResult::ALL.map(|c| {
            let key = Key::from_parts(CLAIMS_TOTAL, vec![Label::new("result", c.label())]);
            r.register_counter(&key, &METADATA)
        });
        let rate_limited = [crate::limiter::Action::Claim].map(|a| {
            let key = Key::from_parts(RATE_LIMITED_TOTAL, vec![Label::new("action", a.as_str())]);
            r.register_counter(&key, &METADATA)
        });
        let histogram =
            |name: &'static str| r.register_histogram(&Key::from_static_name(name), &METADATA);
        Self {
            battles_created: counter(BATTLES_CREATED_TOTAL),
            battle_start_conflicts: counter(BATTLE_START_CONFLICTS_TOTAL),
            active_battles: gauge(ACTIVE_BATTLES),
            warmups: counter(WARMUPS_TOTAL),
            lock_acquire_duration: histogram(LOCK_ACQUIRE_DURATION_SECONDS),
            lock_lost: counter(LOCK_LOST_TOTAL),
            claims,
            claim_duration: histogram(CLAIM_DURATION_SECONDS),
            maps_generated: counter(MAPS_GENERATED_TOTAL),
            dead_letters: counter(DEAD_LETTERS_TOTAL),
            leaderboard_lag: histogram(LEADERBOARD_LAG_SECONDS),
            rate_limited,
            connected_clients: gauge(CONNECTED_CLIENTS),
            active_rooms: gauge(ACTIVE_ROOMS),
            attacks: counter(ATTACKS_TOTAL),
            ticks_acquired: counter(TICKS_ACQUIRED_TOTAL),
            ticks_skipped: counter(TICKS_SKIPPED_TOTAL),
            tick_errors: counter(TICK_ERRORS_TOTAL),
            pubsub_roundtrip: r
                .register_histogram(&Key::from_static_name(PUBSUB_ROUNDTRIP_SECONDS), &METADATA),
            pubsub_dropped: counter(PUBSUB_DROPPED_TOTAL),
            pubsub_reconnects: counter(PUBSUB_RECONNECTS_TOTAL),
            client_send_dropped: counter(CLIENT_SEND_DROPPED_TOTAL),
            resident_memory: gauge(RESIDENT_MEMORY_BYTES),
            cpu_seconds: gauge(CPU_SECONDS_TOTAL),
            handlers,
            event_errors,
            handle: recorder.handle(),
            recorder: std::sync::Arc::new(recorder),
            connected: Default::default(),
        }
    }

    pub fn handler(&self, h: Handler) -> &Histogram {
        &self.handlers[h as usize]
    }

    pub fn event_error(&self, code: crate::error::ErrorCode) -> &Counter {
        let i = ERROR_CODES
            .iter()
            .position(|c| *c == code)
            .unwrap_or(ERROR_CODES.len() - 1);
        &self.event_errors[i]
    }

    pub fn claim(&self, result: ClaimResult) -> &Counter {
        &self.claims[result as usize]
    }

    pub fn rate_limited(&self, action: crate::limiter::Action) -> &Counter {
        match action {
            crate::limiter::Action::Claim => &self.rate_limited[0],
        }
    }

    /// `arena_stream_pending{partition}`: entries of partition `p` delivered, not yet acked.
    pub fn stream_pending(&self, p: u32) -> Gauge {
        let key = Key::from_parts(STREAM_PENDING, vec![Label::new("partition", p.to_string())]);
        self.recorder.register_gauge(&key, &METADATA)
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

    /// The Prometheus text exposition, with process gauges refreshed.
    pub fn render(&self) -> String {
        let p = crate::process::usage();
        self.resident_memory.set(p.rss_bytes as f64);
        self.cpu_seconds.set(p.cpu_seconds);
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
