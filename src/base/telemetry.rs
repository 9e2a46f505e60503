//! Tracing set-up: `RUST_LOG` overrides the default filter; `LOG_FORMAT=json` writes one
//! JSON object a line (for log shippers), with the instance id in every line.

use std::sync::OnceLock;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The default log filter.
pub const DEFAULT_FILTER: &str = "arena=info,socketioxide=warn,tower_http=warn";

/// The default log format.
pub const LOG_FORMAT: LogFormat = LogFormat::Text;

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line: `timestamp`, `level`, `target`, the event's fields
    /// (`message`, `room`, `battle`, …) at the top level, the current span's fields in
    /// `span`, and `instance` (this instance's id, once it is known).
    Json,
}

/// The log settings, shared by every command (flags or env vars).
#[derive(Debug, Clone, clap::Args)]
pub struct LogSettings {
    /// Log format on stderr: `text` or `json` (one JSON object a line).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LOG_FORMAT, global = true)]
    pub log_format: LogFormat,
}

/// The id that JSON lines carry in `instance`: one process is one instance, so the first
/// id set is kept (in-process tests start several and log as text).
static INSTANCE: OnceLock<String> = OnceLock::new();

/// Name this process's instance in JSON log lines (the first call wins).
pub fn set_instance(id: &str) {
    let _ = INSTANCE.set(id.to_string());
}

/// Install a global text subscriber writing to stderr; a second call is a no-op.
pub fn init() {
    init_with(true, tracing_subscriber::layer::Identity::new());
}

/// [`init_as`] with text logs.
pub fn init_with<L>(log: bool, extra: L)
where
    L: Layer<Registry> + Send + Sync + 'static,
{
    init_as(LogFormat::Text, log, extra);
}

/// Install the global subscriber: the log on stderr in `format` (filtered by `RUST_LOG`)
/// if `log`, and `extra`, a layer with its own filter that sees events whatever
/// `RUST_LOG` says (e.g. one that counts a library's warnings into metrics). A second
/// call is a no-op.
pub fn init_as<L>(format: LogFormat, log: bool, extra: L)
where
    L: Layer<Registry> + Send + Sync + 'static,
{
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let text = (log && format == LogFormat::Text).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter())
    });
    let json = (log && format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .event_format(WithInstance(
                format::format()
                    .json()
                    .flatten_event(true)
                    .with_span_list(false),
            ))
            .with_writer(std::io::stderr)
            .with_filter(filter())
    });
    let _ = tracing_subscriber::registry()
        .with(extra)
        .with(text)
        .with(json)
        .try_init();
}

/// tracing-subscriber's JSON line with `instance` added: no crate adds a process-wide
/// field to every line, so the line is parsed and written again.
struct WithInstance<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithInstance<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
    FormattedFields<N>: 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let Some(id) = INSTANCE.get() else {
            return writer.write_str(&line);
        };
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(serde_json::Value::Object(mut obj)) => {
                obj.insert("instance".into(), id.as_str().into());
                writeln!(writer, "{}", serde_json::Value::Object(obj))
            }
            // Not an object (cannot happen with the JSON format): keep the line as it is.
            _ => writer.write_str(&line),
        }
    }
}
