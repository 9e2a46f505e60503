//! HTTP guards: axum middleware that lets a request through only for an admin caller
//! (token mode) and answers 401 / 403 in the usual JSON error envelope otherwise.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::authenticator::Authenticator;
use crate::base::error::{AckError, ApiError};

/// `route_layer(middleware::from_fn_with_state(auth, guard::admin))`.
pub async fn admin(State(auth): State<Authenticator>, req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        // A header that is not text is no bearer token: `bearer` refuses it.
        .map(|v| v.to_str().unwrap_or(""));
    match auth.admin(auth.bearer(header)) {
        Ok(()) => next.run(req).await,
        Err(f) => ApiError::from(AckError::from(f)).into_response(),
    }
}
