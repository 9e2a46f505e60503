//! HS256 JSON Web Tokens: `sub` is the player id, `exp` is required, `name` and `roles`
//! are optional. Signing and checking are `jsonwebtoken`'s; this file decides which
//! failures a client may tell apart (expired or not) and checks `sub` as a player id.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::identity::Identity;
use crate::base::ids::{DisplayName, PlayerId};

/// Seconds of clock difference tolerated between the issuer and this server.
const LEEWAY_S: u64 = 5;
/// The shortest secret accepted: HS256's key should be at least as long as its output.
pub const MIN_SECRET_BYTES: usize = 32;

/// The claims arena reads and writes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The player id.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// Why a token was refused. `Expired` is told apart so that a client knows to fetch a
/// new token; every other failure is one `unauthorized` to the client (the detail is
/// for the logs and the failure counter).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("bad signature")]
    Signature,
    #[error("algorithm not allowed (only HS256)")]
    Algorithm,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token subject is not a valid player id: {0}")]
    Player(String),
    #[error("token name is not a valid display name: {0}")]
    Name(String),
    #[error("cannot sign: {0}")]
    Sign(String),
}

impl TokenError {
    /// The label of `arena_auth_failures_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Expired => "expired",
            TokenError::Signature => "bad_signature",
            TokenError::Algorithm => "bad_algorithm",
            TokenError::Malformed(_) => "malformed",
            TokenError::Player(_) => "bad_player",
            TokenError::Name(_) => "bad_name",
            TokenError::Sign(_) => "sign",
        }
    }
}

/// Signs and verifies tokens with one shared secret.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens { secret: *** }")
    }
}

impl Tokens {
    pub fn new(secret: &[u8]) -> Self {
        // Only HS256: a token naming another algorithm (`none`, RS256 with the secret
        // as a public key) is refused before its signature is looked at.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_S;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A token for `player`, valid for `ttl` from now.
    pub fn issue(
        &self,
        player: &PlayerId,
        name: Option<&DisplayName>,
        roles: Vec<String>,
        ttl: Duration,
    ) -> Result<String, TokenError> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: player.as_str().to_string(),
            exp: now.saturating_add(ttl.as_secs()),
            iat: Some(now),
            name: name.map(|n| n.as_str().to_string()),
            roles,
        };
        self.sign(&claims)
    }

    /// Sign arbitrary claims (tests use it for expired tokens and odd subjects).
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// Check the signature, the algorithm, `exp`, `sub` as a player id and `name` (when
    /// present) as a display name.
    pub fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::Signature,
                ErrorKind::InvalidAlgorithm
                | ErrorKind::InvalidAlgorithmName
                | ErrorKind::UnsupportedAlgorithm
                | ErrorKind::MissingAlgorithm => TokenError::Algorithm,
                _ => TokenError::Malformed(e.to_string()),
            })?;
        let claims = data.claims;
        let player =
            PlayerId::parse(&claims.sub).map_err(|e| TokenError::Player(e.message.clone()))?;
        let name = claims
            .name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()
            .map_err(|e| TokenError::Name(e.message.clone()))?;
        Ok(Identity {
            player,
            name,
            roles: claims.roles,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn alice() -> PlayerId {
        PlayerId::parse("alice").unwrap()
    }

    #[test]
    fn a_token_round_trips_with_name_and_roles() {
        let t = Tokens::new(SECRET);
        let tok = t
            .issue(
                &alice(),
                Some(&DisplayName::parse("Alice").unwrap()),
                vec!["admin".into()],
                Duration::from_secs(60),
            )
            .unwrap();
        let id = t.verify(&tok).unwrap();
        assert_eq!(id.player.as_str(), "alice");
        assert_eq!(id.name.as_ref().map(DisplayName::as_str), Some("Alice"));
        assert!(id.is_admin());
    }

    #[test]
    fn expired_other_secret_and_garbage_are_told_apart() {
        let t = Tokens::new(SECRET);
        let now = jsonwebtoken::get_current_timestamp();
        let old = t
            .sign(&Claims {
                sub: "alice".into(),
                exp: now - 120,
                iat: None,
                name: None,
                roles: vec![],
            })
            .unwrap();
        assert_eq!(t.verify(&old), Err(TokenError::Expired));
        let other = Tokens::new(b"another secret of thirty-two bytes!!");
        let tok = other
            .issue(&alice(), None, vec![], Duration::from_secs(60))
            .unwrap();
        assert_eq!(t.verify(&tok), Err(TokenError::Signature));
        assert!(matches!(t.verify("x.y.z"), Err(TokenError::Malformed(_))));
        assert!(matches!(t.verify(""), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn alg_none_is_refused() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let exp = jsonwebtoken::get_current_timestamp() + 600;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = b64.encode(format!(r#"{{"sub":"alice","exp":{exp}}}"#));
        let t = Tokens::new(SECRET);
        assert!(t.verify(&format!("{header}.{body}.")).is_err());
        assert!(t.verify(&format!("{header}.{body}")).is_err());
    }

    #[test]
    fn a_subject_that_is_not_a_player_id_is_refused() {
        let t = Tokens::new(SECRET);
        let tok = t
            .sign(&Claims {
                sub: "bob smith".into(),
                exp: jsonwebtoken::get_current_timestamp() + 60,
                iat: None,
                name: None,
                roles: vec![],
            })
            .unwrap();
        assert!(matches!(t.verify(&tok), Err(TokenError::Player(_))));
    }

    #[test]
    fn a_name_that_is_not_a_display_name_is_refused() {
        let t = Tokens::new(SECRET);
        let tok = t
            .sign(&Claims {
                sub: "alice".into(),
                exp: jsonwebtoken::get_current_timestamp() + 60,
                iat: None,
                name: Some("\u{1b}]0;pwned\u{7}".into()),
                roles: vec![],
            })
            .unwrap();
        assert!(matches!(t.verify(&tok), Err(TokenError::Name(_))));
    }
}
