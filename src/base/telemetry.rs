//! Tracing set-up: `RUST_LOG` overrides the default filter.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The default log filter.
pub const DEFAULT_FILTER: &str = "arena=info,socketioxide=warn,tower_http=warn";

/// Install a global fmt subscriber writing to stderr; a second call is a no-op.
pub fn init() {
    init_with(true, tracing_subscriber::layer::Identity::new());
}

/// Install the global subscriber: the log on stderr (filtered by `RUST_LOG`) if `log`,
/// and `extra`, a layer with its own filter that sees events whatever `RUST_LOG` says
/// (e.g. one that counts a library's warnings into metrics). A second call is a no-op.
pub fn init_with<L>(log: bool, extra: L)
where
    L: Layer<Registry> + Send + Sync + 'static,
{
    let fmt = log.then(|| {
        let filter =
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter)
    });
    let _ = tracing_subscriber::registry()
        .with(extra)
        .with(fmt)
        .try_init();
}
