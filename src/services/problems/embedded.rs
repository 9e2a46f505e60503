//! The problem files compiled into the binary, so a deployed `arena` needs no files.
//!
//! `build.rs` lists `problems/*.toml` and writes `FILES`, one `include_str!` per file
//! sorted by name; adding or changing a file there rebuilds the crate.

include!(concat!(env!("OUT_DIR"), "/problems.rs"));
