//! Claims: parse `claim {mapId, tile}`, run the one atomic claim script (the player's
//! rate limit included, and the `tile_claimed` it publishes: one round trip), and turn
//! its outcome into an ack.
//!
//! Guarantee: an acknowledged claim (`{ok:true}`) is in its partition's stream exactly
//! once, and its tile has exactly that owner; every refusal wrote nothing to the map, its
//! owners or the log (an attempt past the limit still spends the player's budget). With
//! `CLAIM_DURABILITY=replica` an ack with `durable: true` also means a replica of the
//! claim's master had it, so it outlives that master's death (`durability.rs`).

use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use super::keys;
use super::metrics::ClaimResult;
use super::scripts::{self, ClaimArgs, ClaimKeys, ClaimOutcome};
use super::state::Hunt;
use crate::base::clock::unix_ms;
use crate::base::error::{AckError, ErrorCode};
use crate::base::ids::PlayerId;

/// The tile already has an owner (named in `error.owner`).
pub const TILE_TAKEN: ErrorCode = ErrorCode::new("tile_taken", 409);
/// The map can no longer be claimed.
pub const MAP_EXPIRED: ErrorCode = ErrorCode::new("map_expired", 410);
/// The tile is not on the map.
pub const INVALID_TILE: ErrorCode = ErrorCode::new("invalid_tile", 400);
/// No such map (never created, or its keys expired).
pub const UNKNOWN_MAP: ErrorCode = ErrorCode::new("unknown_map", 404);

/// A validated `claim` payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimReq {
    pub map_id: u64,
    /// Any integer: the range check needs the map's size, so it happens in the script.
    pub tile: i64,
}

impl ClaimReq {
    /// `{mapId: non-negative integer, tile: integer}`; anything else is `bad_request`.
    pub fn parse(v: &Value) -> Result<Self, AckError> {
        let Value::Object(o) = v else {
            return Err(AckError::bad_request("claim payload must be {mapId, tile}"));
        };
        let map_id = o
            .get("mapId")
            .and_then(Value::as_u64)
            .ok_or_else(|| AckError::bad_request("mapId must be a non-negative integer"))?;
        let tile = o
            .get("tile")
            .and_then(Value::as_i64)
            .ok_or_else(|| AckError::bad_request("tile must be an integer"))?;
        Ok(Self { map_id, tile })
    }
}

/// Why a claim was refused.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("{0}")]
    BadRequest(AckError),
    #[error("tile already claimed by {owner}")]
    Taken { owner: String },
    #[error("map has expired")]
    Expired,
    #[error("tile is not on the map")]
    InvalidTile,
    #[error("no such map (never created, or gone)")]
    NoMap,
    #[error("over the claim rate limit; retry in {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl ClaimError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ClaimError::BadRequest(_) => ErrorCode::BAD_REQUEST,
            ClaimError::Taken { .. } => TILE_TAKEN,
            ClaimError::Expired => MAP_EXPIRED,
            ClaimError::InvalidTile => INVALID_TILE,
            ClaimError::NoMap => UNKNOWN_MAP,
            ClaimError::RateLimited { .. } => ErrorCode::RATE_LIMITED,
            ClaimError::Redis(_) => ErrorCode::UNAVAILABLE,
        }
    }

    fn result(&self) -> ClaimResult {
        match self {
            ClaimError::BadRequest(_) => ClaimResult::BadRequest,
            ClaimError::Taken { .. } => ClaimResult::Taken,
            ClaimError::Expired => ClaimResult::Expired,
            ClaimError::InvalidTile | ClaimError::NoMap => ClaimResult::Invalid,
            ClaimError::RateLimited { .. } => ClaimResult::RateLimited,
            ClaimError::Redis(_) => ClaimResult::Unavailable,
        }
    }
}

impl From<ClaimError> for AckError {
    fn from(e: ClaimError) -> Self {
        match e {
            ClaimError::BadRequest(a) => a,
            ClaimError::Taken { owner } => AckError::new(
                TILE_TAKEN,
                format!("tile already claimed by {owner}"),
            )
            .with_detail("owner", owner),
            ClaimError::Redis(_) => AckError::unavailable(),
            e => AckError::new(e.code(), e.to_string()),
        }
    }
}

/// The ack body of a successful claim: `{ok:true, value}`, and with
/// `CLAIM_DURABILITY=replica` `durable`: did a replica confirm it in time?
#[derive(Debug, Serialize)]
pub struct ClaimAck {
    pub value: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable: Option<bool>,
}

/// Claim `req.tile` of `req.map_id` for `player`: one script call, rate limit included
/// (with `CLAIM_DURABILITY=replica`, and a `WAIT 1` in the same round trip).
pub async fn claim(h: &Hunt, player: &PlayerId, req: ClaimReq) -> Result<ClaimAck, ClaimError> {
    let cfg = &h.settings;
    let claim_keys = ClaimKeys::new(req.map_id, cfg.hunt_partitions, player.as_str());
    let args = ClaimArgs {
        map_id: req.map_id,
        tile: req.tile,
        player: player.as_str(),
        now_ms: unix_ms(),
        stream_maxlen: cfg.hunt_stream_maxlen,
        ttl_s: cfg.hunt_key_ttl_s,
        rate_per_s: cfg.claim_rate,
    };
    let (outcome, durable) = match &h.durable {
        None => {
            let mut conn = h.ctx.app.redis.clone();
            (scripts::claim(&mut conn, &claim_keys, &args).await?, None)
        }
        Some(d) => {
            let p = keys::partition_of(req.map_id, cfg.hunt_partitions);
            if d.should_wait(p) {
                let waited =
                    scripts::claim_and_wait(&mut d.conn(), &claim_keys, &args, d.wait).await;
                let (outcome, replicas) = waited.inspect_err(|_| d.no_replica(p))?;
                let confirmed = match replicas {
                    Ok(n) => n >= 1,
                    Err(e) => {
                        // The claim happened; only its confirmation is missing.
                        tracing::warn!(error = %e, "WAIT after a claim failed; acked durable: false");
                        false
                    }
                };
                if confirmed {
                    d.confirmed(p);
                } else {
                    d.no_replica(p);
                }
                (outcome, Some(confirmed))
            } else {
                // Its master had no replica a moment ago (`durability.rs`): no wait.
                let mut conn = h.ctx.app.redis.clone();
                (scripts::claim(&mut conn, &claim_keys, &args).await?, Some(false))
            }
        }
    };
    match outcome {
        ClaimOutcome::Claimed { value, .. } => {
            if durable == Some(false) {
                h.metrics.claims_not_durable.increment(1);
            }
            // Its `tile_claimed` left with the script (`lua/claim.lua`, `broadcast.rs`).
            Ok(ClaimAck { value, durable })
        }
        ClaimOutcome::Taken { owner } => Err(ClaimError::Taken { owner }),
        ClaimOutcome::Expired => Err(ClaimError::Expired),
        ClaimOutcome::InvalidTile => Err(ClaimError::InvalidTile),
        ClaimOutcome::NoMap => Err(ClaimError::NoMap),
        ClaimOutcome::RateLimited { retry_after_ms } => {
            h.metrics.claims_rate_limited.increment(1);
            Err(ClaimError::RateLimited { retry_after_ms })
        }
    }
}

/// The whole `claim` event: parse the raw payload, claim, count it. On success returns the
/// ack: the value from the script's reply and, with `CLAIM_DURABILITY=replica`, durability.
pub async fn handle(
    h: &Hunt,
    player: &PlayerId,
    raw: Result<Value, AckError>,
) -> Result<ClaimAck, AckError> {
    let start = Instant::now();
    let r = async {
        let v = raw.map_err(ClaimError::BadRequest)?;
        let req = ClaimReq::parse(&v).map_err(ClaimError::BadRequest)?;
        claim(h, player, req).await
    }
    .await;
    let result = match &r {
        Ok(_) => ClaimResult::Ok,
        Err(e) => e.result(),
    };
    if let Err(ClaimError::Redis(e)) = &r {
        h.ctx.app.metrics.redis_failure("claim", e);
    }
    h.metrics.claim(result).increment(1);
    h.metrics.claim_duration.record(start.elapsed());
    r.map_err(AckError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_claims() {
        assert_eq!(
            ClaimReq::parse(&json!({"mapId": 3, "tile": 7})).unwrap(),
            ClaimReq { map_id: 3, tile: 7 }
        );
        // Out-of-range tiles parse: the script knows the map's size.
        assert_eq!(
            ClaimReq::parse(&json!({"mapId": 3, "tile": -1}))
                .unwrap()
                .tile,
            -1
        );
        for bad in [
            json!("x"),
            json!([1, 2]),
            json!({"mapId": 3}),
            json!({"tile": 3}),
            json!({"mapId": -1, "tile": 3}),
            json!({"mapId": 1.5, "tile": 3}),
            json!({"mapId": 1, "tile": "3"}),
            json!({"mapId": 1, "tile": 2.5}),
        ] {
            assert_eq!(
                ClaimReq::parse(&bad).unwrap_err().code,
                ErrorCode::BAD_REQUEST,
                "{bad}"
            );
        }
    }

    #[test]
    fn taken_names_the_owner_next_to_the_code() {
        let ack: AckError = ClaimError::Taken {
            owner: "bob".into(),
        }
        .into();
        let r: Result<(), _> = Err(ack);
        let v = crate::base::error::ack_value(&r);
        assert_eq!(v["error"]["code"], "tile_taken");
        assert_eq!(v["error"]["owner"], "bob");
        assert!(v["error"]["message"].is_string());
    }

    proptest::proptest! {
        /// Any JSON as a claim: never a panic; an accepted one carries exactly its fields.
        #[test]
        fn any_claim_payload_is_parsed_or_refused(v in crate::base::arbitrary::json()) {
            if let Ok(c) = ClaimReq::parse(&v) {
                proptest::prop_assert_eq!(v["mapId"].as_u64(), Some(c.map_id));
                proptest::prop_assert_eq!(v["tile"].as_i64(), Some(c.tile));
            }
        }
    }
}
