//! What every scenario shares: the common options and their target check, the error
//! type, the outcome, and the output helpers (progress bar, report, plot). Kept apart
//! from `mod.rs` (the dispatch) so the scenario files depend on it, not on their parent.

use std::net::{IpAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::report;

/// Errors of a bench run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0} is not a loopback address; pass --allow-remote to load a remote server")]
    Remote(String),
    #[error("bad --url {0:?}: expected http://host:port")]
    BadUrl(String),
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    #[error("server {0} is not answering /status: {1}")]
    Status(String, String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error(
        "{0} connection(s) were closed during the run (server gone, or a client too slow to answer pings)"
    )]
    ConnectionsLost(u64),
    #[error("the run did not finish within its bound of {0:?}")]
    TimedOut(Duration),
    #[error("invalid option: {0}")]
    Invalid(String),
    #[error("cannot write {0}: {1}")]
    Write(String, std::io::Error),
}

/// Options shared by every scenario.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Base URL(s) of the instances, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "http://127.0.0.1:3000,http://127.0.0.1:3001"
    )]
    pub url: Vec<String>,
    /// Allow targets that are not on loopback.
    #[arg(long)]
    pub allow_remote: bool,
    /// Print one JSON line instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Write an SVG plot of the latency distribution here.
    #[arg(long)]
    pub plot: Option<std::path::PathBuf>,
    /// Sign a token per client with this secret (servers in ARENA_AUTH=token mode);
    /// without it, clients name themselves (`auth.player`, dev mode).
    #[arg(long, env = "ARENA_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
}

/// How the bench's clients say who they are: a signed token each, or their name.
#[derive(Debug, Clone)]
pub struct Handshake(Option<crate::services::auth::token::Tokens>);

impl Handshake {
    pub fn of(common: &Common) -> Result<Handshake, BenchError> {
        match &common.token_secret {
            None => Ok(Handshake(None)),
            Some(s) if s.len() < crate::services::auth::token::MIN_SECRET_BYTES => Err(
                BenchError::Invalid("--token-secret must be at least 32 bytes".into()),
            ),
            Some(s) => Ok(Handshake(Some(crate::services::auth::token::Tokens::new(
                s.as_bytes(),
            )))),
        }
    }

    /// The handshake `auth` payload of `player`, as JSON text.
    pub fn auth(&self, player: &str) -> Result<String, BenchError> {
        let Some(tokens) = &self.0 else {
            return Ok(serde_json::json!({ "player": player }).to_string());
        };
        let id = crate::base::ids::PlayerId::parse(player)
            .map_err(|e| BenchError::Invalid(e.message))?;
        let token = tokens
            .issue(&id, None, Vec::new(), Duration::from_secs(24 * 3600))
            .map_err(|e| BenchError::Invalid(e.to_string()))?;
        Ok(serde_json::json!({ "token": token }).to_string())
    }
}

/// What a scenario found: `ok` is false on a correctness failure (lost messages, double
/// ticks, uncounted clients), so the caller can exit non-zero; `report` is the JSON line.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ok: bool,
    pub report: serde_json::Value,
}

/// Check every URL: well-formed, loopback unless allowed; returns `host:port` strings.
pub fn targets(common: &Common) -> Result<Vec<String>, BenchError> {
    if common.url.is_empty() {
        return Err(BenchError::Invalid("at least one --url is needed".into()));
    }
    common
        .url
        .iter()
        .map(|u| {
            let rest = u
                .trim_end_matches('/')
                .strip_prefix("http://")
                .ok_or_else(|| BenchError::BadUrl(u.clone()))?;
            if rest.is_empty() || rest.contains('/') {
                return Err(BenchError::BadUrl(u.clone()));
            }
            if !common.allow_remote {
                let addrs: Vec<IpAddr> = rest
                    .to_socket_addrs()
                    .map_err(|_| BenchError::BadUrl(u.clone()))?
                    .map(|a| a.ip())
                    .collect();
                if addrs.is_empty() || !addrs.iter().all(IpAddr::is_loopback) {
                    return Err(BenchError::Remote(u.clone()));
                }
            }
            Ok(rest.to_string())
        })
        .collect()
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg:<24} [{bar:40}] {pos}/{len} ({elapsed})")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Print a report (the table, or one JSON line) and wrap it in an [`Outcome`].
pub fn emit(
    common: &Common,
    title: &str,
    rows: Vec<(String, String)>,
    json: serde_json::Value,
    ok: bool,
) -> Outcome {
    if common.json {
        println!("{json}");
    } else {
        print!("{}", report::table(title, &rows));
    }
    Outcome { ok, report: json }
}

/// An offered rate held over a duration: every millisecond, how many sends are due
/// since the start (`rate x elapsed`), so a late tick catches up instead of lowering the
/// rate; `None` once the duration is over.
pub struct Pacer {
    start: Instant,
    duration: Duration,
    per_s: f64,
    tick: tokio::time::Interval,
}

impl Pacer {
    pub fn new(per_s: f64, duration: Duration) -> Self {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        Self {
            start: Instant::now(),
            duration,
            per_s,
            tick,
        }
    }

    /// Wait for the next tick: the sends due so far and the time elapsed, or `None` when
    /// the duration is over.
    pub async fn due(&mut self) -> Option<(u64, Duration)> {
        self.tick.tick().await;
        let elapsed = self.start.elapsed();
        (elapsed < self.duration).then_some(((elapsed.as_secs_f64() * self.per_s) as u64, elapsed))
    }

    /// Seconds since the start.
    pub fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

/// Write the SVG plot if `--plot` was given.
pub fn write_plot(common: &Common, svg: impl FnOnce() -> String) -> Result<(), BenchError> {
    if let Some(p) = &common.plot {
        std::fs::write(p, svg()).map_err(|e| BenchError::Write(p.display().to_string(), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common(urls: &[&str], allow_remote: bool) -> Common {
        Common {
            url: urls.iter().map(|s| s.to_string()).collect(),
            allow_remote,
            json: false,
            plot: None,
            token_secret: None,
        }
    }

    #[test]
    fn loopback_only_unless_allowed() {
        assert_eq!(
            targets(&common(&["http://127.0.0.1:3000/"], false)).unwrap(),
            vec!["127.0.0.1:3000"]
        );
        assert!(targets(&common(&["http://localhost:3000"], false)).is_ok());
        assert!(matches!(
            targets(&common(&["http://10.1.2.3:3000"], false)),
            Err(BenchError::Remote(_))
        ));
        assert!(targets(&common(&["http://10.1.2.3:3000"], true)).is_ok());
        assert!(matches!(
            targets(&common(&["ftp://x:1"], false)),
            Err(BenchError::BadUrl(_))
        ));
    }
}
