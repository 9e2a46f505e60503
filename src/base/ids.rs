//! Names that arrive from the wire and are checked at the edge: rooms, players, display
//! names, and the name rule shared by instance ids and lock resources.

use crate::base::error::AckError;

/// Check a name: 1..=`max` chars of `[A-Za-z0-9_.-]`, plus `:` when `colon` is allowed.
pub fn check_name(s: &str, max: usize, colon: bool) -> Result<(), String> {
    if s.is_empty() || s.len() > max {
        return Err(format!("must be 1 to {max} characters"));
    }
    let ok = s.bytes().all(|b| {
        b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-' || (colon && b == b':')
    });
    if ok {
        Ok(())
    } else {
        let allowed = if colon {
            "[A-Za-z0-9_:.-]"
        } else {
            "[A-Za-z0-9_.-]"
        };
        Err(format!("may only contain {allowed}"))
    }
}

/// A room name: 1–64 chars of `[A-Za-z0-9_:.-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomName(String);

impl RoomName {
    pub fn parse(s: &str) -> Result<Self, AckError> {
        check_name(s, 64, true).map_err(|r| AckError::bad_request(format!("room {r}")))?;
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A player id from the handshake `auth.player`: 1–64 chars of `[A-Za-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlayerId(String);

impl PlayerId {
    pub fn parse(s: &str) -> Result<Self, AckError> {
        check_name(s, 64, false).map_err(|r| AckError::bad_request(format!("player {r}")))?;
        Ok(Self(s.to_string()))
    }
    /// A guest id for a client that sent no auth: `guest-<socket id>` (socket ids are
    /// base64url, so the result is always a valid id).
    pub fn guest(sid: &impl std::fmt::Display) -> Self {
        Self(format!("guest-{sid}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The longest display name, in characters.
pub const DISPLAY_NAME_MAX_CHARS: usize = 64;

/// A player's display name (a token's `name` claim): 1–64 characters of any script, no
/// control characters, no leading or trailing whitespace. Unlike ids it is shown, not
/// matched, so it is free text; the limits keep a page's layout and the players table
/// sane and keep terminal escapes out of logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(s: &str) -> Result<Self, AckError> {
        let chars = s.chars().count();
        if chars == 0 || chars > DISPLAY_NAME_MAX_CHARS {
            return Err(AckError::bad_request(format!(
                "name must be 1 to {DISPLAY_NAME_MAX_CHARS} characters"
            )));
        }
        if s.chars().any(char::is_control) {
            return Err(AckError::bad_request(
                "name may not contain control characters",
            ));
        }
        if s.trim() != s {
            return Err(AckError::bad_request(
                "name may not start or end with whitespace",
            ));
        }
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        assert!(RoomName::parse("lobby").is_ok());
        assert!(RoomName::parse("battle:42.a_b-c").is_ok());
        assert!(RoomName::parse(&"x".repeat(64)).is_ok());
        assert!(RoomName::parse(&"x".repeat(65)).is_err());
        assert!(RoomName::parse("").is_err());
        assert!(RoomName::parse("a b").is_err());
        assert!(RoomName::parse("é").is_err());
    }

    #[test]
    fn player_ids_have_no_colon() {
        assert!(PlayerId::parse("p-1.x_y").is_ok());
        assert!(PlayerId::parse("p:1").is_err());
    }

    #[test]
    fn display_names_are_free_text_within_limits() {
        assert!(DisplayName::parse("Alice Smith").is_ok());
        assert!(DisplayName::parse("Ёжик 🦔").is_ok());
        assert!(DisplayName::parse(&"é".repeat(64)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(65)).is_err());
        assert!(DisplayName::parse("").is_err());
        assert!(DisplayName::parse(" Alice").is_err());
        assert!(DisplayName::parse("Al\u{1b}[31mice").is_err());
        assert!(DisplayName::parse("Al\nice").is_err());
    }

    proptest::proptest! {
        /// Any string as a room or player: never a panic; accepted ones obey the rule.
        #[test]
        fn names_follow_the_rule(s in crate::base::arbitrary::text()) {
            let ok = |colon: bool| {
                (1..=64).contains(&s.len())
                    && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b) || (colon && b == b':'))
            };
            proptest::prop_assert_eq!(RoomName::parse(&s).is_ok(), ok(true));
            proptest::prop_assert_eq!(PlayerId::parse(&s).is_ok(), ok(false));
        }
    }
}
