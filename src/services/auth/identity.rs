//! An authenticated caller: its player id, display name and roles.

use crate::base::ids::{DisplayName, PlayerId};

/// The role that opens admin routes.
pub const ADMIN: &str = "admin";

/// Who a socket or HTTP request acts as. In `token` mode it comes from a verified token
/// only; in `dev` mode from the unsigned `auth.player` (or a guest id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub player: PlayerId,
    pub name: Option<DisplayName>,
    pub roles: Vec<String>,
}

impl Identity {
    /// An identity with no name and no roles (dev mode, guests).
    pub fn player(player: PlayerId) -> Self {
        Self {
            player,
            name: None,
            roles: Vec::new(),
        }
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(ADMIN)
    }
}
