//! One place that decides who a caller is: a Socket.IO handshake (`auth` payload and
//! `Origin`) or an HTTP request (`Authorization: Bearer`), in the configured mode.
//! Every refusal is counted in `arena_auth_failures_total{reason}` and carries a stable
//! code: `unauthorized`, `token_expired`, `forbidden` or `forbidden_origin`.

use super::identity::Identity;
use super::origins::Origins;
use super::settings::{AuthMode, Settings};
use super::token::{TokenError, Tokens};
use crate::base::config::ConfigError;
use crate::base::error::{AckError, ErrorCode};
use crate::base::ids::PlayerId;
use crate::services::metrics::Metrics;

pub const AUTH_FAILURES_TOTAL: &str = "arena_auth_failures_total";

/// No valid identity: no token, a bad one, or a bad player id.
pub const UNAUTHORIZED: ErrorCode = ErrorCode::new("unauthorized", 401);
/// The token was valid once; fetch a new one.
pub const TOKEN_EXPIRED: ErrorCode = ErrorCode::new("token_expired", 401);
/// Known caller, not allowed to do this.
pub const FORBIDDEN: ErrorCode = ErrorCode::new("forbidden", 403);
/// A browser page from an origin not in `ALLOWED_ORIGINS`.
pub const FORBIDDEN_ORIGIN: ErrorCode = ErrorCode::new("forbidden_origin", 403);

/// Every label of `arena_auth_failures_total`, shown at 0 from the start.
const REASONS: [&str; 10] = [
    "missing",
    "expired",
    "bad_signature",
    "bad_algorithm",
    "malformed",
    "bad_player",
    "bad_name",
    "player_mismatch",
    "origin",
    "forbidden",
];

/// A refusal: the code the client sees, a message, and the counter label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct AuthFailure {
    pub code: ErrorCode,
    pub message: String,
    pub reason: &'static str,
}

impl AuthFailure {
    fn new(code: ErrorCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reason,
        }
    }

    fn token(e: TokenError) -> Self {
        let code = match e {
            TokenError::Expired => TOKEN_EXPIRED,
            _ => UNAUTHORIZED,
        };
        Self::new(code, e.reason(), e.to_string())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(FORBIDDEN, "forbidden", message)
    }
}

impl From<AuthFailure> for AckError {
    fn from(f: AuthFailure) -> Self {
        AckError::new(f.code, f.message)
    }
}

/// What the handshake sent as `auth`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct HandshakeAuth {
    pub token: Option<String>,
    pub player: Option<String>,
}

/// Checks identities for one instance (cheap to clone).
#[derive(Clone)]
pub struct Authenticator {
    mode: AuthMode,
    tokens: Option<Tokens>,
    origins: Origins,
    metrics: Metrics,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("mode", &self.mode)
            .field("origins", &self.origins)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(settings: &Settings, metrics: &Metrics) -> Result<Self, ConfigError> {
        let tokens = settings.secret()?.map(|s| Tokens::new(&s));
        metrics.describe(
            AUTH_FAILURES_TOTAL,
            "Handshakes and HTTP requests refused by authentication or authorization, by reason.",
        );
        for reason in REASONS {
            let _ = metrics.counter_with(AUTH_FAILURES_TOTAL, "reason", reason);
        }
        Ok(Self {
            mode: settings.mode,
            tokens,
            origins: settings.origins()?,
            metrics: metrics.clone(),
        })
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    fn fail(&self, f: AuthFailure) -> AuthFailure {
        self.metrics
            .counter_with(AUTH_FAILURES_TOTAL, "reason", f.reason)
            .increment(1);
        tracing::debug!(code = f.code.as_str(), reason = f.reason, message = %f.message, "auth refused");
        f
    }

    /// The Socket.IO handshake. `sid` names a guest in dev mode when no player is given.
    pub fn handshake(
        &self,
        auth: &HandshakeAuth,
        origin: Option<&str>,
        sid: &impl std::fmt::Display,
    ) -> Result<Identity, AuthFailure> {
        if !self.origins.allows(origin) {
            return Err(self.fail(AuthFailure::new(
                FORBIDDEN_ORIGIN,
                "origin",
                format!(
                    "origin {} is not in ALLOWED_ORIGINS",
                    crate::base::error::echo(origin.unwrap_or(""))
                ),
            )));
        }
        let identity = match (&auth.token, self.mode) {
            (Some(token), _) => self.verify(token)?,
            (None, AuthMode::Token) => {
                return Err(self.fail(AuthFailure::new(
                    UNAUTHORIZED,
                    "missing",
                    "a token is required: connect with auth {token}",
                )));
            }
            (None, AuthMode::Dev) => match &auth.player {
                Some(p) => PlayerId::parse(p).map(Identity::player).map_err(|e| {
                    self.fail(AuthFailure::new(
                        UNAUTHORIZED,
                        "bad_player",
                        format!("auth.player: {}", e.message),
                    ))
                })?,
                None => Identity::player(PlayerId::guest(sid)),
            },
        };
        // A token for alice never acts as bob, whatever else the handshake says.
        if let Some(p) = &auth.player
            && p != identity.player.as_str()
        {
            return Err(self.fail(AuthFailure::new(
                UNAUTHORIZED,
                "player_mismatch",
                format!(
                    "auth.player {} is not the token's player {}",
                    crate::base::error::echo(p),
                    identity.player.as_str()
                ),
            )));
        }
        Ok(identity)
    }

    fn verify(&self, token: &str) -> Result<Identity, AuthFailure> {
        match &self.tokens {
            Some(t) => t
                .verify(token)
                .map_err(|e| self.fail(AuthFailure::token(e))),
            // Dev mode without a secret cannot check a token: refuse rather than trust it.
            None => Err(self.fail(AuthFailure::new(
                UNAUTHORIZED,
                "bad_signature",
                "this server has no token secret; connect with auth {player} in dev mode",
            ))),
        }
    }

    /// The caller of an HTTP request from its `Authorization` header: `Ok(None)` when
    /// there is none, an error when it is there and not a valid bearer token.
    pub fn bearer(&self, header: Option<&str>) -> Result<Option<Identity>, AuthFailure> {
        let Some(value) = header else {
            return Ok(None);
        };
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                self.fail(AuthFailure::new(
                    UNAUTHORIZED,
                    "malformed",
                    "Authorization must be `Bearer <token>`",
                ))
            })?;
        self.verify(token.trim()).map(Some)
    }

    /// May this caller use an admin route? Token mode: an `admin` token, else 401/403.
    /// Dev mode: anyone (the demo's page and tools need no setup).
    pub fn admin(&self, caller: Result<Option<Identity>, AuthFailure>) -> Result<(), AuthFailure> {
        if self.mode == AuthMode::Dev {
            return Ok(());
        }
        match caller? {
            None => Err(self.fail(AuthFailure::new(
                UNAUTHORIZED,
                "missing",
                "this route needs `Authorization: Bearer <token>` with the admin role",
            ))),
            Some(id) if id.is_admin() => Ok(()),
            Some(id) => Err(self.fail(AuthFailure::forbidden(format!(
                "player {} does not have the admin role",
                id.player.as_str()
            )))),
        }
    }

    /// Count an authorization refusal decided elsewhere (e.g. a non-player ending a battle).
    pub fn refuse(&self, message: impl Into<String>) -> AuthFailure {
        self.fail(AuthFailure::forbidden(message))
    }
}
