//! `arena bench`: the load generator that proves the numbers.
//!
//! Scenarios: `fanout` (room broadcast latency and loss across instances), `connections`
//! (server memory per idle client), `ticks` (exactly one tick per interval), `battles`
//! (contended battle starts), `claims` (treasure-hunt claims). Every run is
//! bounded in count and time, targets loopback unless `--allow-remote`, shows a progress
//! bar, and prints a table or one JSON line (`--json`); `--plot` writes an SVG.

pub mod battles;
pub mod claims;
pub mod connections;
pub mod fanout;
pub mod report;
pub mod ticks;
pub mod wire;

use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

pub use crate::http::client::{HttpError, http_get, http_post};

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
    /// Base URL(s) of the instances, comma-separated (default http://127.0.0.1:3000,http://127.0.0.1:3001).
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
}

/// The scenarios.
#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// Room broadcast across instances: latency, loss, server CPU per message.
    Fanout(fanout::FanoutArgs),
    /// N idle clients: server memory per client and connect time.
    Connections(connections::ConnectionsArgs),
    /// Observe server_tick from every instance: intervals with 0, 1, 2+ ticks.
    Ticks(ticks::TicksArgs),
    /// Contended battle starts: starts/s, latency, exactly one battle per pairing.
    Battles(battles::BattlesArgs),
    /// Treasure-hunt claims: claims/s, ack latency, outcomes, no tile with two owners.
    Claims(claims::ClaimsArgs),
}

/// `arena bench <scenario>`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// What a scenario found: `ok` is false on a correctness failure (lost messages, double
/// ticks, uncounted clients), so the caller can exit non-zero; `report` is the JSON line.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub ok: bool,
    pub report: serde_json::Value,
}

/// Run a scenario and print its report (a table, or one JSON line with `--json`).
pub async fn run(args: BenchArgs) -> Result<Outcome, BenchError> {
    // Every run is bounded in time, whatever the servers do.
    let secs = |s: u64| Duration::from_secs(s);
    let limit = match &args.scenario {
        Scenario::Fanout(a) if a.find_max => secs(20 * (a.duration + 15) + 120),
        Scenario::Fanout(a) => secs(a.duration + 120),
        Scenario::Connections(a) => secs(a.clients as u64 / 20 + 120),
        Scenario::Ticks(a) => secs(a.seconds + 60),
        Scenario::Battles(a) => secs(a.rounds as u64 * 30 + 120),
        Scenario::Claims(a) => secs(a.duration + 120),
    };
    let fut = async move {
        match args.scenario {
            Scenario::Fanout(a) => fanout::run(a).await,
            Scenario::Connections(a) => connections::run(a).await,
            Scenario::Ticks(a) => ticks::run(a).await,
            Scenario::Battles(a) => battles::run(a).await,
            Scenario::Claims(a) => claims::run(a).await,
        }
    };
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| BenchError::TimedOut(limit))?
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

/// What `/status` says about a server's resource use.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    pub instance_id: String,
    pub rss_bytes: u64,
    pub cpu_seconds: f64,
    #[serde(default)]
    pub connected_clients: i64,
    #[serde(default)]
    pub tick_ms: u64,
}

/// `/status` of every target, in order.
pub async fn statuses(addrs: &[String]) -> Result<Vec<ServerStatus>, BenchError> {
    let mut out = Vec::new();
    for a in addrs {
        let (code, body) = http_get(a, "/status")
            .await
            .map_err(|e| BenchError::Status(a.clone(), e.to_string()))?;
        if code != 200 {
            return Err(BenchError::Status(a.clone(), format!("HTTP {code}")));
        }
        out.push(
            serde_json::from_str(&body)
                .map_err(|e| BenchError::Status(a.clone(), e.to_string()))?,
        );
    }
    Ok(out)
}

/// Total server CPU seconds used between two `/status` snapshots.
pub fn cpu_between(before: &[ServerStatus], after: &[ServerStatus]) -> f64 {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| a.cpu_seconds - b.cpu_seconds)
        .sum()
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
