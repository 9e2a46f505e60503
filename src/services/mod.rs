//! Shared services: what every mode stands on and none of them names a mode — the
//! instance's state and settings, identity (tokens, auth modes), Redlock leases, the shared rate limiter, the
//! leader-per-period runner, the metrics registry, the Socket.IO plumbing (cross-instance
//! adapter, handler wrapper), the problem bank (`problems`), the SQL records store and
//! the `Mode` contract the modes implement.

pub mod auth;
pub mod fleet;
pub mod judge;
pub mod limiter;
pub mod lock;
pub mod metrics;
pub mod mode;
pub mod period;
pub mod problems;
pub mod realtime;
pub mod settings;
pub mod state;
pub mod store;
pub mod streams;

pub use settings::Settings;
pub use state::AppState;
