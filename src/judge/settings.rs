//! `arena judge`'s settings (flags or env vars); each default is a constant here.

use std::path::PathBuf;

use clap::Args;

use crate::base::config::{ConfigError, bad, in_range, redact_url};
use crate::redis::{Endpoint, Tls};

pub const BWRAP: &str = "/usr/bin/bwrap";
pub const CGROUP_ROOT: &str = super::cgroup::CGROUP_ROOT;
pub const RECLAIM_IDLE_MS: u64 = 30_000;
pub const MAX_DELIVERIES: u64 = 3;
pub const HEARTBEAT_MS: u64 = 1_000;

/// Settings of one judge process.
#[derive(Debug, Clone, Args)]
#[group(id = "judge")]
pub struct Settings {
    /// Print the isolation layers and languages this host provides, then exit (1 when a
    /// required layer is missing).
    #[arg(long)]
    pub check: bool,

    /// The Redis holding the judge queue (`rediss://` for TLS).
    #[arg(long, env = "REDIS_URL", default_value = crate::services::settings::REDIS_URL, hide_env_values = true)]
    pub redis_url: String,

    /// TLS files for a `rediss://` REDIS_URL (as `arena serve` takes them).
    #[command(flatten)]
    pub redis_tls: crate::services::settings::RedisTls,

    /// This judge's name in the consumer group [default: hostname:pid].
    #[arg(long, env = "JUDGE_ID")]
    pub judge_id: Option<String>,

    /// Submissions judged at once [default: the number of cores].
    #[arg(long, env = "JUDGE_CONCURRENCY")]
    pub concurrency: Option<usize>,

    /// Sandboxed runs (a compile or a test) at once on this judge, all jobs together; a
    /// submission runs up to this many of its tests side by side [default: the number
    /// of cores].
    #[arg(long, env = "JUDGE_PARALLEL_RUNS")]
    pub parallel_runs: Option<usize>,

    /// Serve the HTTP API (Piston's /api/v2 and /api/judge) on this port; none by default.
    #[arg(long, env = "JUDGE_PORT")]
    pub port: Option<u16>,

    /// Address for the HTTP API.
    #[arg(long, env = "JUDGE_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Folder for job folders and the precompiled-header cache [default: <tmp>/arena-judge].
    #[arg(long, env = "JUDGE_WORK_DIR")]
    pub work_dir: Option<PathBuf>,

    /// The bubblewrap binary.
    #[arg(long, env = "JUDGE_BWRAP", default_value = BWRAP)]
    pub bwrap: PathBuf,

    /// Where cgroupfs is mounted.
    #[arg(long, env = "JUDGE_CGROUP_ROOT", default_value = CGROUP_ROOT)]
    pub cgroup_root: PathBuf,

    /// A job pending this long on a judge that stopped answering is taken over (XAUTOCLAIM).
    #[arg(long, env = "JUDGE_RECLAIM_IDLE_MS", default_value_t = RECLAIM_IDLE_MS)]
    pub reclaim_idle_ms: u64,

    /// Deliveries of one job before it is dead-lettered (a poison job).
    #[arg(long, env = "JUDGE_MAX_DELIVERIES", default_value_t = MAX_DELIVERIES)]
    pub max_deliveries: u64,

    /// How often a judge says it is alive (and renews its claim on running jobs).
    #[arg(long, env = "JUDGE_HEARTBEAT_MS", default_value_t = HEARTBEAT_MS)]
    pub heartbeat_ms: u64,
}

impl Settings {
    /// REDIS_URL with the TLS files read once; the error names the setting.
    pub fn endpoint(&self) -> Result<Endpoint, ConfigError> {
        Endpoint::new(self.redis_url.as_str(), &Tls::default())
            .parse()
            .map_err(|e| {
                bad(
                    "REDIS_URL",
                    format!("cannot parse {:?}: {e}", redact_url(&self.redis_url)),
                )
            })?;
        let endpoint = self.redis_tls.endpoint(&self.redis_url)?;
        if self.redis_tls.is_set() && !endpoint.is_tls() {
            return Err(bad(
                "REDIS_URL",
                "REDIS_TLS_* files apply to a rediss:// URL, and REDIS_URL is not one",
            ));
        }
        Ok(endpoint)
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }

    pub fn parallel_runs(&self) -> usize {
        self.parallel_runs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }

    pub fn judge_id(&self) -> String {
        self.judge_id.clone().unwrap_or_else(|| {
            let host = nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "judge".into());
            format!("{host}:{}", std::process::id())
        })
    }

    pub fn work_dir(&self) -> PathBuf {
        self.work_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("arena-judge"))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.endpoint()?;
        in_range("JUDGE_CONCURRENCY", self.concurrency(), 1, 256)?;
        in_range("JUDGE_PARALLEL_RUNS", self.parallel_runs(), 1, 256)?;
        in_range(
            "JUDGE_RECLAIM_IDLE_MS",
            self.reclaim_idle_ms,
            1_000,
            3_600_000,
        )?;
        in_range("JUDGE_MAX_DELIVERIES", self.max_deliveries, 1, 100)?;
        in_range("JUDGE_HEARTBEAT_MS", self.heartbeat_ms, 100, 60_000)?;
        if self.reclaim_idle_ms <= 2 * self.heartbeat_ms {
            return Err(bad(
                "JUDGE_RECLAIM_IDLE_MS",
                format!(
                    "{} must be above twice JUDGE_HEARTBEAT_MS ({}) so a live judge's job is never taken",
                    self.reclaim_idle_ms, self.heartbeat_ms
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        s: Settings,
    }

    fn parse(args: &[&str]) -> Settings {
        Cli::try_parse_from(std::iter::once("judge").chain(args.iter().copied()))
            .unwrap()
            .s
    }

    #[test]
    fn redis_settings_are_checked_and_named() {
        assert_eq!(parse(&["--redis-url", "redis://h:1"]).validate(), Ok(()));
        let e = parse(&["--redis-url", "http//nope"])
            .validate()
            .unwrap_err();
        assert_eq!(e.setting, "REDIS_URL");
        let e = parse(&[
            "--redis-url",
            "rediss://h:1",
            "--redis-tls-ca",
            "/nonexistent/ca.pem",
        ])
        .validate()
        .unwrap_err();
        assert_eq!(e.setting, "REDIS_TLS_CA");
        let e = parse(&["--redis-url", "rediss://h:1", "--redis-tls-cert", "/x.pem"])
            .validate()
            .unwrap_err();
        assert_eq!(e.setting, "REDIS_TLS_KEY");
    }
}
