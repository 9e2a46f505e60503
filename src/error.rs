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
        }
    }
}

/// An error as acknowledged to a client: `{ok:false, error:{code, message}}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct AckError {
    pub code: ErrorCode,
    pub message: String,
}

impl AckError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
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
