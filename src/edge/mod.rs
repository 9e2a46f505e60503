//! The edge: the instance's wiring (`app`), its whole configuration (`config`), the
//! Socket.IO namespace (`socket`), the HTTP router (`http`) and the drain on deploy (`drain`). The only layer that sees
//! every mode, and only through `modes::Settings::build` and the `Mode` trait.

pub mod app;
pub mod config;
pub mod config_file;
mod drain;
mod http;
mod socket;
