//! Wire error codes, the ack envelope and the HTTP error body.
//!
//! Every domain error maps to one stable [`ErrorCode`] here, so "what the client sees"
//! is decided in one place and internal details never reach the wire.

use serde::Serialize;

/// A stable error code of the protocol. Clients match on its string; HTTP routes answer
/// with its status. The codes every mode may use are here; a mode defines its own next to
/// its errors (e.g. `modes::hunt::claim::TILE_TAKEN`), so adding a mode touches no list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode {
    name: &'static str,
    /// The HTTP status a route answers with this code.
    http_status: u16,
}

impl ErrorCode {
    pub const fn new(name: &'static str, http_status: u16) -> Self {
        Self { name, http_status }
    }
    pub const BAD_REQUEST: ErrorCode = ErrorCode::new("bad_request", 400);
    pub const NOT_IN_ROOM: ErrorCode = ErrorCode::new("not_in_room", 409);
    pub const RATE_LIMITED: ErrorCode = ErrorCode::new("rate_limited", 429);
    pub const PAYLOAD_TOO_LARGE: ErrorCode = ErrorCode::new("payload_too_large", 413);
    /// Nothing was done; a backing service did not answer. Safe to retry.
    pub const UNAVAILABLE: ErrorCode = ErrorCode::new("unavailable", 503);
    /// Outcome unknown: a command was sent to a backing service and did not answer in
    /// time, so it may still take effect. Retry only with the same id (receivers drop
    /// the duplicate).
    pub const TIMEOUT: ErrorCode = ErrorCode::new("timeout", 504);
    pub const INTERNAL: ErrorCode = ErrorCode::new("internal", 500);
    /// No such resource (e.g. a battle id that is unknown or already ended).
    pub const NOT_FOUND: ErrorCode = ErrorCode::new("not_found", 404);

    pub fn as_str(self) -> &'static str {
        self.name
    }
    pub fn http_status(self) -> u16 {
        self.http_status
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

/// How much of a client-supplied value an error message may repeat.
pub const ECHO_CHARS: usize = 64;

/// `value` as an error message may show it: at most [`ECHO_CHARS`] characters, then `…`,
/// so a client cannot make the server send its 5 KB id back (or fill a log line with it).
pub fn echo(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(ECHO_CHARS) {
        None => value.into(),
        Some((cut, _)) => format!("{}…", &value[..cut]).into(),
    }
}

/// A message built by a library from client input (an extractor's rejection): at most
/// four times [`ECHO_CHARS`], since it may quote the input.
fn clip_message(message: &str) -> String {
    match message.char_indices().nth(4 * ECHO_CHARS) {
        None => message.to_string(),
        Some((cut, _)) => format!("{}…", &message[..cut]),
    }
}

/// An error as acknowledged to a client: `{ok:false, error:{code, message, ...detail}}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
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
        Self::new(ErrorCode::BAD_REQUEST, message)
    }
    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::UNAVAILABLE,
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

/// The one error type of every HTTP route: `{error: {code, message, ...detail}}` with the
/// code's HTTP status. Anything that converts into an [`AckError`] converts into this.
#[derive(Debug)]
pub struct ApiError(pub AckError);

impl<E: Into<AckError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

/// The error envelope every route answers errors in (`base::error::ApiError`'s wire
/// form, which is built with `serde_json::json!` and so has no type to derive from).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorDetail,
}

/// One error: a stable `code` (`bad_request`, `unauthorized`, `forbidden`,
/// `unavailable`, `payload_too_large`, a mode's own codes), a human `message`, and
/// sometimes fields of detail beside them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// An extractor's rejection (a `Query`, `Path` or `Json` that did not parse, a body over
/// the limit) in the envelope: `payload_too_large` (413) for a body over the limit,
/// `bad_request` (400) for everything else, with the reason clipped (it may quote input).
pub fn rejected(status: axum::http::StatusCode, reason: &str) -> AckError {
    let code = if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ErrorCode::PAYLOAD_TOO_LARGE
    } else {
        ErrorCode::BAD_REQUEST
    };
    AckError::new(code, clip_message(reason))
}

impl From<axum::extract::rejection::QueryRejection> for AckError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        rejected(r.status(), &r.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for AckError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        rejected(r.status(), &r.body_text())
    }
}

impl From<axum::extract::rejection::JsonRejection> for AckError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        rejected(r.status(), &r.body_text())
    }
}

impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({"error": ErrorBody {
            code: self.0.code,
            message: &self.0.message,
            detail: &self.0.detail,
        }});
        (status, axum::Json(body)).into_response()
    }
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
    fn echoes_are_clipped() {
        assert_eq!(echo("short"), "short");
        let exact = "x".repeat(ECHO_CHARS);
        assert_eq!(echo(&exact), exact);
        let long = "é".repeat(5000);
        let shown = echo(&long);
        assert_eq!(shown.chars().count(), ECHO_CHARS + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn rejections_map_to_codes() {
        use axum::http::StatusCode;
        let e = rejected(StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded");
        assert_eq!(e.code, ErrorCode::PAYLOAD_TOO_LARGE);
        assert_eq!(e.code.http_status(), 413);
        let e = rejected(StatusCode::UNSUPPORTED_MEDIA_TYPE, &"y".repeat(5000));
        assert_eq!(e.code, ErrorCode::BAD_REQUEST);
        assert!(e.message.len() < 4 * ECHO_CHARS + 8, "{}", e.message.len());
    }

    #[test]
    fn error_has_code_and_message() {
        let r: Result<serde_json::Value, _> =
            Err(AckError::new(ErrorCode::NOT_IN_ROOM, "join first"));
        assert_eq!(
            ack_value(&r),
            json!({"ok": false, "error": {"code": "not_in_room", "message": "join first"}})
        );
    }
}
