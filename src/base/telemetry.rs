//! Tracing set-up: `RUST_LOG` overrides the default filter.

use tracing_subscriber::EnvFilter;

/// The default log filter.
pub const DEFAULT_FILTER: &str = "arena=info,socketioxide=warn,tower_http=warn";

/// Install a global fmt subscriber writing to stderr; a second call is a no-op.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
