//! The edge: the instance's wiring (`app`), its whole configuration (`config`), the
//! Socket.IO namespace (`socket`) and the HTTP router (`http`). The only layer that sees
//! every mode, and only through `modes::Settings::build` and the `Mode` trait.

pub mod app;
pub mod config;
mod http;
mod socket;
