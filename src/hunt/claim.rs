//! Claims: parse `claim {mapId, tile}`, apply the shared rate limit, run the one atomic
//! claim script, and turn its outcome into an ack and a `tile_claimed` delta.
//!
//! Guarantee: an acknowledged claim (`{ok:true}`) is in its partition's stream exactly
//! once, and its tile has exactly that owner; every refusal wrote nothing.

use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use super::TileClaimed;
use crate::error::{AckError, ErrorCode};
use crate::limiter::{self, Action, LimitDecision};
use crate::metrics::ClaimResult;
use crate::realtime::protocol::PlayerId;
use crate::redis::scripts::{self, ClaimArgs, ClaimKeys};
use crate::state::AppState;
use crate::tick::unix_ms;

/// What the claim script decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This claim won the tile; it is in the stream at `entry_id`.
    Claimed {
        value: i64,
        entry_id: String,
    },
    /// Someone else (`owner`) won it first.
    Taken {
        owner: String,
    },
    Expired,
    InvalidTile,
    NoMap,
}

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
            ClaimError::BadRequest(_) => ErrorCode::BadRequest,
            ClaimError::Taken { .. } => ErrorCode::TileTaken,
            ClaimError::Expired => ErrorCode::MapExpired,
            ClaimError::InvalidTile => ErrorCode::InvalidTile,
            ClaimError::NoMap => ErrorCode::UnknownMap,
            ClaimError::RateLimited { .. } => ErrorCode::RateLimited,
            ClaimError::Redis(_) => ErrorCode::Unavailable,
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
                ErrorCode::TileTaken,
                format!("tile already claimed by {owner}"),
            )
            .with_detail("owner", owner),
            ClaimError::Redis(_) => AckError::unavailable(),
            e => AckError::new(e.code(), e.to_string()),
        }
    }
}

/// The ack body of a successful claim: `{ok:true, value}`.
#[derive(Debug, Serialize)]
pub struct ClaimAck {
    pub value: i64,
}

/// Claim `req.tile` of `req.map_id` for `player`: rate limit, then the claim script.
pub async fn claim(
    app: &AppState,
    player: &PlayerId,
    req: ClaimReq,
) -> Result<TileClaimed, ClaimError> {
    let cfg = &app.config;
    let mut conn = app.redis.clone();
    let decision =
        limiter::check(&mut conn, Action::Claim, player.as_str(), cfg.claim_rate).await?;
    if let LimitDecision::Limited { retry_after_ms } = decision {
        app.metrics.rate_limited(Action::Claim).increment(1);
        return Err(ClaimError::RateLimited { retry_after_ms });
    }
    let keys = ClaimKeys::new(req.map_id, cfg.hunt_partitions);
    let args = ClaimArgs {
        map_id: req.map_id,
        tile: req.tile,
        player: player.as_str(),
        now_ms: unix_ms(),
        stream_maxlen: cfg.hunt_stream_maxlen,
        ttl_s: cfg.hunt_key_ttl_s,
    };
    match scripts::claim(&mut conn, &keys, &args).await? {
        ClaimOutcome::Claimed { value, .. } => Ok(TileClaimed {
            map_id: req.map_id,
            tile: req.tile,
            player: player.as_str().to_string(),
            value,
        }),
        ClaimOutcome::Taken { owner } => Err(ClaimError::Taken { owner }),
        ClaimOutcome::Expired => Err(ClaimError::Expired),
        ClaimOutcome::InvalidTile => Err(ClaimError::InvalidTile),
        ClaimOutcome::NoMap => Err(ClaimError::NoMap),
    }
}

/// The whole `claim` event: parse the raw payload, claim, count it. On success returns the
/// delta to broadcast (built from the script's reply, never read back).
pub async fn handle(
    app: &AppState,
    player: &PlayerId,
    raw: Result<Value, impl std::fmt::Display>,
) -> Result<TileClaimed, AckError> {
    let start = Instant::now();
    let r = async {
        let v = raw.map_err(|e| {
            ClaimError::BadRequest(AckError::bad_request(format!("claim payload: {e}")))
        })?;
        let req = ClaimReq::parse(&v).map_err(ClaimError::BadRequest)?;
        claim(app, player, req).await
    }
    .await;
    let result = match &r {
        Ok(_) => ClaimResult::Ok,
        Err(e) => e.result(),
    };
    if let Err(ClaimError::Redis(e)) = &r {
        tracing::warn!(error = %e, "claim failed: redis unavailable");
    }
    app.metrics.claim(result).increment(1);
    app.metrics.claim_duration.record(start.elapsed());
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
                ErrorCode::BadRequest,
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
        let v = crate::error::ack_value(&r);
        assert_eq!(v["error"]["code"], "tile_taken");
        assert_eq!(v["error"]["owner"], "bob");
        assert!(v["error"]["message"].is_string());
    }
}
