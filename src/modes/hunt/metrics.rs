//! The treasure hunt's metrics.

use metrics::{Counter, Gauge, Histogram};

use crate::services::metrics::Metrics;

pub const CLAIMS_TOTAL: &str = "arena_claims_total";
pub const CLAIM_DURATION_SECONDS: &str = "arena_claim_duration_seconds";
pub const MAPS_GENERATED_TOTAL: &str = "arena_maps_generated_total";
pub const STREAM_PENDING: &str = "arena_stream_pending";
pub const DEAD_LETTERS_TOTAL: &str = "arena_dead_letters_total";
pub const LEADERBOARD_LAG_SECONDS: &str = "arena_leaderboard_lag_seconds";
pub const RATE_LIMITED_TOTAL: &str = "arena_rate_limited_total";
pub const CLAIMS_NOT_DURABLE_TOTAL: &str = "arena_claims_not_durable_total";
pub const HUNT_CHANNELS_SUBSCRIBED: &str = "arena_hunt_channels_subscribed";

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

#[derive(Clone)]
pub struct HuntMetrics {
    claims: [Counter; 7],
    pub claim_duration: Histogram,
    pub maps_generated: Counter,
    pub dead_letters: Counter,
    pub leaderboard_lag: Histogram,
    /// `arena_rate_limited_total{action="claim"}`.
    pub claims_rate_limited: Counter,
    /// Claims acked `durable: false` (CLAIM_DURABILITY=replica).
    pub claims_not_durable: Counter,
    /// `tile_claimed` shard channels this instance holds (one per partition when whole).
    pub channels: Gauge,
}

impl HuntMetrics {
    pub fn new(m: &Metrics) -> Self {
        m.describe(CLAIMS_TOTAL, "Tile claims by result.");
        m.describe(CLAIM_DURATION_SECONDS, "Claim handler duration, from the event to its ack.");
        m.describe(MAPS_GENERATED_TOTAL, "Maps this instance generated as the period's leader.");
        m.describe(STREAM_PENDING, "Claim entries delivered to the leaderboard projection and not yet acked, by partition.");
        m.describe(DEAD_LETTERS_TOTAL, "Claim entries dead-lettered after repeated failures.");
        m.describe(LEADERBOARD_LAG_SECONDS, "Time from a claim to its application to the leaderboard.");
        m.describe(RATE_LIMITED_TOTAL, "Requests refused by the shared per-player rate limit, by action.");
        m.describe(CLAIMS_NOT_DURABLE_TOTAL, "Claims acknowledged without a replica's confirmation within CLAIM_WAIT_MS (CLAIM_DURABILITY=replica).");
        m.describe(HUNT_CHANNELS_SUBSCRIBED, "tile_claimed shard channels (one per hunt partition) this instance holds.");
        Self {
            claims: ClaimResult::ALL.map(|r| m.counter_with(CLAIMS_TOTAL, "result", r.label())),
            claim_duration: m.histogram(CLAIM_DURATION_SECONDS),
            maps_generated: m.counter(MAPS_GENERATED_TOTAL),
            dead_letters: m.counter(DEAD_LETTERS_TOTAL),
            leaderboard_lag: m.histogram(LEADERBOARD_LAG_SECONDS),
            claims_rate_limited: m.counter_with(RATE_LIMITED_TOTAL, "action", "claim"),
            claims_not_durable: m.counter(CLAIMS_NOT_DURABLE_TOTAL),
            channels: m.gauge(HUNT_CHANNELS_SUBSCRIBED),
        }
    }

    pub fn claim(&self, result: ClaimResult) -> &Counter {
        &self.claims[result as usize]
    }
}
