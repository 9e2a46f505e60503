//! Wire error codes and the ack envelope.
//!
//! Every domain error maps to one stable [`ErrorCode`] here, so "what the client sees"
//! is decided in one place and internal details never reach the wire.

use serde::Serialize;

/// The stable error codes of the protocol (DESIGN.md). Clients match on these strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    NotInRoom,
    RateLimited,
    PayloadTooLarge,
    Unavailable,
    Internal,
    /// Treasure hunt: the tile already has an owner (named in `error.owner`).
    TileTaken,
    /// Treasure hunt: the map can no longer be claimed.
    MapExpired,
    /// Treasure hunt: the tile is not on the map.
    InvalidTile,
    /// Treasure hunt: no such map (never created, or its keys expired).
    UnknownMap,
    /// No such resource (e.g. a battle id that is unknown or already ended).
    NotFound,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::TileTaken => "tile_taken",
            ErrorCode::MapExpired => "map_expired",
            ErrorCode::InvalidTile => "invalid_tile",
            ErrorCode::UnknownMap => "unknown_map",
            ErrorCode::NotFound => "not_found",
        }
    }
}

/// An error as acknowledged to a client: `{ok:false, error:{code, message, ...detail}}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct AckError {
    pub code: ErrorCode,
    pub message: String,
    /// Extra fields placed next to `code` inside `error` (e.g. `owner` of `tile_taken`).
    pub detail: serde_json::Map<String, serde_json::Value>,
}

impl AckError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            detail: serde_json::Map::new(),
        }
    }
    /// Add a field next to `code` inside `error`.
    pub fn with_detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.detail.insert(key.to_string(), value.into());
        self
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::Unavailable,
            "a backing service is unavailable, retry",
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: ErrorCode,
    message: &'a str,
    #[serde(flatten)]
    detail: &'a serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum AckWire<'a, T: Serialize> {
    Ok {
        ok: bool,
        #[serde(flatten)]
        body: &'a T,
    },
    Err {
        ok: bool,
        error: ErrorBody<'a>,
    },
}

/// Serialize `Result<T, AckError>` into the ack envelope; `T` must serialize to an object
/// (its fields are placed next to `ok: true`).
pub fn ack_value<T: Serialize>(result: &Result<T, AckError>) -> serde_json::Value {
    let wire = match result {
        Ok(body) => AckWire::Ok { ok: true, body },
        Err(e) => AckWire::Err {
            ok: false,
            error: ErrorBody {
                code: e.code,
                message: &e.message,
                detail: &e.detail,
            },
        },
    };
    serde_json::to_value(&wire).unwrap_or_else(|_| {
        serde_json::json!({"ok": false, "error": {"code": "internal", "message": "unserializable ack"}})
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ok_fields_sit_next_to_ok() {
        let r: Result<_, AckError> = Ok(json!({"battleId": "b1"}));
        assert_eq!(ack_value(&r), json!({"ok": true, "battleId": "b1"}));
    }

    #[test]
    fn error_has_code_and_message() {
        let r: Result<serde_json::Value, _> =
            Err(AckError::new(ErrorCode::NotInRoom, "join first"));
        assert_eq!(
            ack_value(&r),
            json!({"ok": false, "error": {"code": "not_in_room", "message": "join first"}})
        );
    }
}
