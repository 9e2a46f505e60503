//! Who a caller is and what it may do: signed tokens (HS256 JWT), the auth mode
//! (`token` or `dev`), allowed browser origins, and the HTTP guards built on them.

pub mod authenticator;
pub mod guard;
pub mod identity;
pub mod origins;
pub mod settings;
pub mod token;

pub use authenticator::{AuthFailure, Authenticator};
pub use identity::Identity;
pub use settings::{AuthMode, Settings};
