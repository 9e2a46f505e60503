//! HTTP on the instance's one port: the router (`router`: health routes, the UI, each
//! mode's routes, the body limit and the request timeout) and the serve loop (`serve`:
//! header and idle timeouts, upgrades, the peer address, the graceful stop).

mod activity;
mod admin;
mod admin_judge;
mod admin_sockets;
mod health;
mod limits;
mod openapi;
mod router;
mod serve;
mod ui;

pub use health::HttpState;
pub use limits::HttpLimits;
pub use router::{internal_router, router};
pub use serve::serve;
