//! `arena demo`: a managed Redis (unless `REDIS_URL` is given) and N instances as separate
//! OS processes on consecutive ports, restarted with backoff when they crash, all stopped
//! cleanly on Ctrl-C / SIGTERM (instances first, Redis last). The instances share one
//! records database: the SQLite file `arena.db` in `--data-dir` (unless `DATABASE_URL`
//! is given), migrated by the launcher before they start (SQLite has no migration lock).
//! One `arena judge` runs beside them on the same Redis, supervised the same way, when
//! `arena judge --check` passes on this host; otherwise the demo says so in one line and
//! runs without (coding battles then stay paused: the judge breaker is open).

use std::net::IpAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Args;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::redis_server::{RedisOptions, RedisServer, RedisServerError};

/// Set in an instance's environment by the launcher: the instance exits when its stdin
/// closes, i.e. when the launcher is gone (even after a SIGKILL of the launcher).
pub const SUPERVISED_ENV: &str = "ARENA_SUPERVISED";

/// Options of `arena demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoOptions {
    /// How many instances to run.
    #[arg(long, default_value_t = 2)]
    pub instances: u16,
    /// Port of the first instance; instance i listens on port + i.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Address the instances bind.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Use this Redis instead of starting one (the instances also take REDIS_TLS_CA,
    /// REDIS_TLS_CERT and REDIS_TLS_KEY from the environment).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Where the records go (every instance shares them).
    #[command(flatten)]
    pub store: crate::services::store::Settings,
}

/// Errors of the launcher.
#[derive(Debug, thiserror::Error)]
pub enum LauncherError {
    #[error(transparent)]
    Redis(#[from] RedisServerError),
    #[error("--instances must be between 1 and 64")]
    Instances,
    #[error("ports {first}..={last} do not fit below 65536")]
    Ports { first: u16, last: u32 },
    #[error("cannot find the arena executable: {0}")]
    Exe(std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::services::store::StoreError),
    #[error(transparent)]
    Config(#[from] crate::base::config::ConfigError),
}

/// Run the demo until `shutdown`.
pub async fn run(opts: DemoOptions, shutdown: CancellationToken) -> Result<(), LauncherError> {
    if !(1..=64).contains(&opts.instances) {
        return Err(LauncherError::Instances);
    }
    let last = opts.port as u32 + opts.instances as u32 - 1;
    if last > u16::MAX as u32 || opts.port == 0 {
        return Err(LauncherError::Ports {
            first: opts.port,
            last,
        });
    }
    let exe = std::env::current_exe().map_err(LauncherError::Exe)?;
    opts.store.validate()?;
    let (mut managed, redis_url) = match &opts.redis_url {
        Some(url) => (None, url.clone()),
        None => {
            let r = tokio::task::spawn_blocking(|| {
                RedisServer::start(RedisOptions {
                    appendonly: true,
                    appendfsync: "everysec",
                    ..RedisOptions::default()
                })
            })
            .await
            .map_err(|e| RedisServerError::Spawn(std::io::Error::other(e)))??;
            println!(
                "arena demo: started redis-server at {} (data in {})",
                r.url(),
                r.dir().display()
            );
            let url = r.url();
            (Some(r), url)
        }
    };
    // Migrate once here: instances sharing a SQLite file must not race to do it.
    let store = crate::services::store::Store::open(&opts.store).await?;
    println!("arena demo: records in {}", store.url());
    store.close().await;

    let tasks = TaskTracker::new();
    for i in 0..opts.instances {
        let spec = InstanceSpec {
            exe: exe.clone(),
            id: format!("arena-{i}"),
            role: Role::Serve {
                port: opts.port + i,
                host: opts.host,
                store: opts.store.clone(),
            },
            redis_url: redis_url.clone(),
            managed_redis: managed.is_some(),
        };
        tasks.spawn(supervise(spec, shutdown.clone()));
    }
    // The judge's host check can take a while (it builds the C++ precompiled header the
    // first time): the instances do not wait for it.
    let judge = InstanceSpec {
        exe: exe.clone(),
        id: "judge".into(),
        role: Role::Judge,
        redis_url: redis_url.clone(),
        managed_redis: managed.is_some(),
    };
    let stop = shutdown.clone();
    tasks.spawn(async move {
        let checked = tokio::select! {
            c = judge_check(&judge) => c,
            _ = stop.cancelled() => return,
        };
        match checked {
            Ok(()) => {
                println!("arena demo: judge started (coding battles are judged)");
                supervise(judge, stop).await;
            }
            Err(reason) => println!("arena demo: coding battles will pause: no judge ({reason})"),
        }
    });
    tasks.close();

    let urls: Vec<String> = (0..opts.instances)
        .map(|i| format!("http://{}:{}", display_host(opts.host), opts.port + i))
        .collect();
    wait_healthy(&urls, Duration::from_secs(20)).await;
    println!(
        "arena demo: {} instance(s) up; open in a browser:",
        opts.instances
    );
    for (i, u) in urls.iter().enumerate() {
        println!("  {u}/   (arena-{i})");
    }
    println!("Ctrl-C stops everything.");

    tasks.wait().await;
    if let Some(r) = managed.as_mut() {
        tokio::task::block_in_place(|| r.stop());
        println!("arena demo: redis-server stopped");
    }
    Ok(())
}

fn display_host(h: IpAddr) -> String {
    if h.is_unspecified() {
        "127.0.0.1".into()
    } else {
        h.to_string()
    }
}

/// One supervised process of the demo.
struct InstanceSpec {
    exe: std::path::PathBuf,
    id: String,
    role: Role,
    redis_url: String,
    /// The launcher's own plain Redis: TLS files in the environment are not for it.
    managed_redis: bool,
}

enum Role {
    /// `arena serve` on `host:port`.
    Serve {
        port: u16,
        host: IpAddr,
        store: crate::services::store::Settings,
    },
    /// `arena judge` (the queue consumer; no HTTP port).
    Judge,
}

impl InstanceSpec {
    /// The command, without the supervision bits.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.exe);
        if self.managed_redis {
            for var in ["REDIS_TLS_CA", "REDIS_TLS_CERT", "REDIS_TLS_KEY"] {
                cmd.env_remove(var);
            }
        }
        cmd.env("REDIS_URL", &self.redis_url);
        match &self.role {
            Role::Serve { port, host, store } => {
                cmd.env("DATA_DIR", &store.data_dir);
                if let Some(url) = &store.database_url {
                    cmd.env("DATABASE_URL", url);
                }
                cmd.arg("serve")
                    .env("PORT", port.to_string())
                    .env("HOST", host.to_string())
                    .env("INSTANCE_ID", &self.id)
                    // The demo needs no setup: players name themselves, unless the caller
                    // chose a mode (ARENA_AUTH=token with a secret) for the demo too.
                    .env(
                        "ARENA_AUTH",
                        std::env::var("ARENA_AUTH").unwrap_or_else(|_| "dev".into()),
                    );
            }
            Role::Judge => {
                cmd.arg("judge").env("JUDGE_ID", "demo-judge");
            }
        }
        cmd
    }

    fn spawn(&self) -> std::io::Result<Child> {
        let mut cmd = self.command();
        cmd.env(SUPERVISED_ENV, "1")
            .stdin(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
    }
}

/// How long `arena judge --check` may take (the first one builds the C++ precompiled
/// header).
const JUDGE_CHECK_WITHIN: Duration = Duration::from_secs(120);

/// Run `arena judge --check`; the reason in a few words when this host cannot judge.
async fn judge_check(spec: &InstanceSpec) -> Result<(), String> {
    let mut cmd = spec.command();
    cmd.arg("--check")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(JUDGE_CHECK_WITHIN, cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(format!("cannot run `arena judge --check`: {e}")),
        Err(_) => {
            return Err(format!(
                "`arena judge --check` took over {} s",
                JUDGE_CHECK_WITHIN.as_secs()
            ));
        }
    };
    if out.status.success() {
        return Ok(());
    }
    // The check's last words say why (a missing isolation layer names itself above them).
    let text = String::from_utf8_lossy(&out.stderr);
    let missing: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.to_lowercase().contains("missing"))
        .map(|l| l.trim().to_string())
        .collect();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("arena: ").to_string())
        .unwrap_or_else(|| format!("`arena judge --check` failed: {}", out.status));
    Err(if missing.is_empty() {
        last
    } else {
        format!("{last}: {}", missing.join("; "))
    })
}

/// Keep one instance running: restart it with exponential backoff (250 ms doubling to 8 s,
/// reset after 30 s of good health) until `shutdown`, then SIGTERM it and wait.
async fn supervise(spec: InstanceSpec, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(250);
    loop {
        let started = Instant::now();
        let mut child = match spec.spawn() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(instance = %spec.id, error = %e, "cannot start instance");
                if sleep_or_stop(backoff, &shutdown).await {
                    return;
                }
                continue;
            }
        };
        // `Child::wait` closes the child's stdin; keep our end open so the instance only sees
        // EOF when this launcher is gone.
        let _stdin = child.stdin.take();
        tracing::info!(instance = %spec.id, pid = child.id(), "instance started");
        tokio::select! {
            status = child.wait() => {
                if shutdown.is_cancelled() {
                    return;
                }
                if started.elapsed() > Duration::from_secs(30) {
                    backoff = Duration::from_millis(250);
                }
                tracing::warn!(instance = %spec.id, ?status, restart_in = ?backoff, "instance exited; restarting");
                if sleep_or_stop(backoff, &shutdown).await {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(8));
            }
            _ = shutdown.cancelled() => {
                stop_child(&mut child, &spec.id).await;
                return;
            }
        }
    }
}

/// Sleep for `d`; `true` if shutdown came first.
async fn sleep_or_stop(d: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = shutdown.cancelled() => true,
    }
}

async fn stop_child(child: &mut Child, id: &str) {
    if let Some(pid) = child.id() {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    }
    match tokio::time::timeout(Duration::from_secs(12), child.wait()).await {
        Ok(status) => tracing::info!(instance = %id, ?status, "instance stopped"),
        Err(_) => {
            tracing::warn!(instance = %id, "instance did not stop in time; killing it");
            let _ = child.kill().await;
        }
    }
}

async fn wait_healthy(urls: &[String], within: Duration) {
    let deadline = Instant::now() + within;
    for u in urls {
        let addr = u.trim_start_matches("http://").to_string();
        while Instant::now() < deadline {
            if http_get_ok(&addr, "/health").await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A minimal HTTP/1.1 GET on loopback: does `path` answer 200?
pub async fn http_get_ok(addr: &str, path: &str) -> bool {
    matches!(super::http_client::http_get(addr, path).await, Ok((200, _)))
}
