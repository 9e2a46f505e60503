//! Base: what every layer may use and nothing here uses any layer above — ids and name
//! checks, the clock, the wire error envelope, the OpenAPI document's route, config error types, process facts, logs
//! and the shutdown signal.

#[cfg(test)]
pub mod arbitrary;
pub mod clock;
pub mod config;
pub mod error;
pub mod ids;
pub mod openapi;
pub mod process;
pub mod shutdown;
pub mod telemetry;
