//! The `arena` binary: parse the command line, set up logs, run the library.

use anyhow::Context;
use arena::base::telemetry::LogFormat;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "arena",
    version,
    about = "A real-time competition server that scales out over Redis"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    log: arena::base::telemetry::LogSettings,
}

#[derive(Subcommand)]
enum Command {
    /// Run one instance against a Redis (config by flags or env).
    Serve(Box<arena::edge::config::Config>),
    /// Start a managed Redis (unless REDIS_URL is set) and N instances; Ctrl-C stops all.
    Demo(arena::tools::launcher::DemoOptions),
    /// Load generator: fanout, connections, ticks, battles, claims, projection, flood,
    /// outbox, coding, judge, replay (see `arena bench --help`).
    Bench(arena::tools::bench::BenchArgs),
    /// Check a Redis or Redis Cluster for settings and states that break arena; exits
    /// non-zero on a critical finding.
    Doctor(arena::tools::doctor::DoctorArgs),
    /// Print a signed token for a player (secret from ARENA_TOKEN_SECRET or
    /// --token-secret-file), e.g. `arena token --player alice --ttl 1h`.
    Token(arena::tools::token::TokenArgs),
    /// Settings files: `arena config check [file]` validates without starting,
    /// `arena config print [--config file]` shows the effective settings and their sources.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// The problem bank: `list` it, or `check` it (every reference solution must pass
    /// every test, every wrong one must not).
    Problems {
        #[command(subcommand)]
        action: ProblemsAction,
    },
    /// A judge: runs submissions in a sandbox, from the Redis queue (and HTTP with
    /// --port); `arena judge --check` lists the isolation layers and languages.
    Judge(arena::judge::Settings),
    /// Internal: the step between a judge and bubblewrap (see src/judge/exec.rs).
    #[command(hide = true)]
    JudgeExec(arena::judge::exec::ExecArgs),
    /// Treasure-hunt maintenance (see `arena hunt --help`).
    Hunt {
        #[command(subcommand)]
        action: HuntAction,
    },
    /// Records database maintenance (see `arena db --help`).
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
}

#[derive(Subcommand)]
enum DbAction {
    /// Apply the embedded migrations to DATABASE_URL (or the SQLite file in DATA_DIR) and
    /// exit; `arena serve` also applies them at start.
    Migrate(arena::services::store::Settings),
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Validate a settings file (with the environment on top) as `arena serve` would at
    /// start: exit 0, or non-zero with the same one-line message.
    Check {
        /// The TOML file; without it, the environment and defaults alone.
        file: Option<std::path::PathBuf>,
    },
    /// Print the effective settings, each with its source (default, file, env); secrets
    /// redacted.
    Print {
        /// The TOML file to read under the environment.
        #[arg(long, env = "ARENA_CONFIG")]
        config: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum ProblemsAction {
    /// One line per problem: id, difficulty, tests (examples + hidden), title.
    List(arena::tools::problems::ListArgs),
    /// Validate the bank, then run every reference and wrong solution on every test; exits
    /// non-zero when a reference fails a test or a wrong solution passes them all.
    ///
    /// Until the judge lands, solutions run OUTSIDE ANY SANDBOX with this host's python3,
    /// node, gcc and g++ (temp dir, wall-clock time limit, no memory limit): trusted
    /// reference code only; the judge replaces this.
    Check(arena::tools::problems::CheckArgs),
}

#[derive(Subcommand)]
enum HuntAction {
    /// Recompute the hunt leaderboard from the claim streams (run while claims are quiet).
    Rebuild {
        /// The Redis holding the hunt.
        #[arg(
            long,
            env = "REDIS_URL",
            default_value = arena::services::settings::REDIS_URL,
            hide_env_values = true
        )]
        redis_url: String,
        /// TLS files for a `rediss://` URL.
        #[command(flatten)]
        tls: arena::services::settings::RedisTls,
        /// Number of partitions the instances use (HUNT_PARTITIONS).
        #[arg(long, env = "HUNT_PARTITIONS", default_value_t = arena::modes::hunt::PARTITIONS)]
        hunt_partitions: u32,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Before any thread exists: this process becomes bubblewrap.
    if let Command::JudgeExec(args) = cli.command {
        let e = arena::judge::exec::exec(args);
        eprintln!("{}{e}", arena::judge::exec::FAILED_PREFIX);
        return std::process::ExitCode::from(arena::judge::exec::FAILED_EXIT as u8);
    }
    let format = cli.log.log_format;
    if let Command::Serve(config) = &cli.command
        && let Some(id) = &config.instance_id
    {
        arena::base::telemetry::set_instance(id);
    }
    // Logs, plus the layer that counts socketioxide's per-client drops of broadcasts
    // from other instances (`arena_pubsub_client_dropped_total`).
    arena::base::telemetry::init_as(format, true, arena::services::realtime::drops::layer());
    let _ = arena::base::process::raise_fd_limit();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("arena: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(run(cli));
    // A blocked stdin read (supervised mode) must not hold the process open.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            match format {
                LogFormat::Text => eprintln!("arena: {e:#}"),
                // A log shipper reads JSON lines only: the last word is one too.
                LogFormat::Json => tracing::error!(error = %format_args!("{e:#}"), "arena stopped"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let shutdown = arena::base::shutdown::signal();
    match cli.command {
        Command::Serve(config) => {
            if std::env::var_os(arena::tools::launcher::SUPERVISED_ENV).is_some() {
                exit_with_parent(shutdown.clone());
            }
            let config = match config.config.clone() {
                Some(file) => arena::edge::config_file::resolve(Some(&file), &serve_args())?.0,
                None => *config,
            };
            // Ctrl-C / SIGTERM also end a start-up that waits on Redis.
            let app = tokio::select! {
                app = arena::edge::app::App::build(config) => app?,
                _ = shutdown.cancelled() => anyhow::bail!("stopped while starting"),
            };
            app.run(shutdown)
                .await
                .context("instance stopped with an error")?;
        }
        Command::Config { action } => match action {
            ConfigAction::Check { file } => {
                let (config, _) = arena::edge::config_file::resolve(file.as_deref(), &[])?;
                config.validate()?;
                match file {
                    Some(f) => println!("{}: valid", f.display()),
                    None => println!("settings from the environment: valid"),
                }
            }
            ConfigAction::Print { config } => {
                let (_, sources) = arena::edge::config_file::resolve(config.as_deref(), &[])?;
                print!("{}", arena::edge::config_file::render(&sources));
            }
        },
        Command::Token(args) => println!("{}", arena::tools::token::mint(&args)?),
        Command::Judge(settings) => {
            // Started by `arena demo`: stop when the launcher is gone.
            if !settings.check && std::env::var_os(arena::tools::launcher::SUPERVISED_ENV).is_some()
            {
                exit_with_parent(shutdown.clone());
            }
            judge(settings, shutdown).await?
        }
        Command::JudgeExec(_) => unreachable!("handled before the runtime starts"),
        Command::Demo(opts) => arena::tools::launcher::run(opts, shutdown).await?,
        Command::Hunt {
            action:
                HuntAction::Rebuild {
                    redis_url,
                    tls,
                    hunt_partitions,
                },
        } => {
            let endpoint = tls.endpoint(&redis_url)?;
            let mut conn =
                arena::redis::command_connection(&endpoint, std::time::Duration::from_secs(10))
                    .context("bad REDIS_URL")?;
            let r = arena::modes::hunt::board::rebuild(&mut conn, hunt_partitions)
                .await
                .context("rebuild failed")?;
            println!(
                "leaderboard rebuilt: {} claims, {} players, total {}",
                r.claims, r.players, r.total
            );
        }
        Command::Problems {
            action: ProblemsAction::List(args),
        } => {
            let bank = arena::tools::problems::list::load(args.dir.as_deref())?;
            print!("{}", arena::tools::problems::list::render(&bank));
        }
        Command::Problems {
            action: ProblemsAction::Check(args),
        } => {
            let report = arena::tools::problems::check::run(&args).await?;
            print!("{}", report.render());
            if !report.ok() {
                anyhow::bail!(
                    "{} solution(s) did not do what they must",
                    report.failures()
                );
            }
        }
        Command::Db {
            action: DbAction::Migrate(settings),
        } => {
            settings.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
            let store = arena::services::store::Store::connect(&settings).await?;
            let applied = store.migrate().await?;
            println!(
                "database {} ({}): {applied} migration(s) applied, schema up to date",
                store.url(),
                store.backend().name()
            );
            store.close().await;
        }
        Command::Doctor(args) => {
            let findings = arena::tools::doctor::examine(&args).await?;
            print!("{}", arena::tools::doctor::render(&findings));
            let critical = findings
                .iter()
                .filter(|f| f.verdict == arena::tools::doctor::Verdict::Critical)
                .count();
            if critical > 0 {
                anyhow::bail!("{critical} critical finding(s)");
            }
        }
        Command::Bench(args) => {
            // Ctrl-C / SIGTERM end a run at once (its connections close with the process).
            let outcome = tokio::select! {
                r = arena::tools::bench::run(args) => r?,
                _ = shutdown.cancelled() => anyhow::bail!("interrupted"),
            };
            if !outcome.ok {
                anyhow::bail!("the run found a correctness failure (see the report)");
            }
        }
    }
    Ok(())
}

/// `arena judge`: check the host, then serve the queue (and HTTP with --port).
async fn judge(
    settings: arena::judge::Settings,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    settings.validate()?;
    let setup = arena::judge::HostSetup {
        work_dir: settings.work_dir(),
        bwrap: settings.bwrap.clone(),
        helper: std::env::current_exe().context("cannot find the arena binary")?,
        cgroup_root: settings.cgroup_root.clone(),
    };
    if settings.check {
        let (layers, judge) = match arena::judge::start(&setup).await {
            Ok((judge, layers)) => (layers, Some(judge)),
            Err(arena::judge::host::StartError::MissingLayers(layers)) => (layers, None),
            Err(e) => return Err(e.into()),
        };
        print!(
            "{}",
            arena::judge::host::render(&layers, judge.as_ref().map(|j| &j.detected))
        );
        if let Some(j) = &judge {
            j.sandbox.cgroups.remove();
        }
        if judge.is_none() {
            anyhow::bail!("a required isolation layer is missing: this host must not judge");
        }
        return Ok(());
    }
    let (judge, layers) = arena::judge::start(&setup).await?;
    let judge = std::sync::Arc::new(judge.with_parallel_runs(settings.parallel_runs()));
    let cfg = arena::judge::worker::WorkerConfig {
        judge_id: settings.judge_id(),
        concurrency: settings.concurrency(),
        reclaim_idle_ms: settings.reclaim_idle_ms,
        max_deliveries: settings.max_deliveries,
        heartbeat_ms: settings.heartbeat_ms,
        address: settings
            .port
            .map(|port| format!("{}:{port}", settings.host))
            .unwrap_or_default(),
    };
    let languages: Vec<String> = judge
        .detected
        .languages
        .iter()
        .map(|l| format!("{} {}", l.name, l.version))
        .collect();
    tracing::info!(
        judge_id = %cfg.judge_id,
        concurrency = cfg.concurrency,
        parallel_runs = judge.parallel_runs(),
        redis = %arena::base::config::redact_url(&settings.redis_url),
        layers = layers.len(),
        languages = %languages.join(", "),
        "judge started"
    );
    // REDIS_URL with REDIS_TLS_* (read and checked in validate, so this cannot fail).
    let endpoint = settings.endpoint()?;
    let metrics = arena::services::metrics::Metrics::new();
    let worker = arena::judge::worker::Worker::new(judge.clone(), cfg, &endpoint, metrics.clone())
        .context("bad REDIS_URL")?;
    let http = match settings.port {
        Some(port) => {
            let addr = format!("{}:{port}", settings.host);
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            tracing::info!(addr = %listener.local_addr()?, "judge HTTP API listening");
            let redis =
                arena::redis::command_connection(&endpoint, std::time::Duration::from_secs(2))
                    .context("bad REDIS_URL")?;
            let state = arena::judge::http::HttpState {
                judge: judge.clone(),
                metrics,
                executor: std::sync::Arc::new(arena::services::judge::client::QueueBackend::new(
                    redis,
                )),
                bank: std::sync::Arc::new(
                    arena::services::problems::Bank::embedded()
                        .context("the embedded problem bank is invalid")?,
                ),
            };
            Some(tokio::spawn(arena::judge::http::serve(
                listener,
                state,
                shutdown.clone(),
            )))
        }
        None => None,
    };
    worker.run(shutdown).await;
    if let Some(h) = http {
        let _ = h.await;
    }
    judge.sandbox.cgroups.remove();
    Ok(())
}

/// Under `arena demo`, stdin is a pipe from the launcher: EOF means the launcher is gone.
fn exit_with_parent(shutdown: tokio_util::sync::CancellationToken) {
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
        tracing::info!("launcher is gone; stopping");
        shutdown.cancel();
    });
}

/// The arguments that follow `serve` on the command line (for the settings-file merge).
fn serve_args() -> Vec<std::ffi::OsString> {
    std::env::args_os()
        .skip(1)
        .skip_while(|a| a != "serve")
        .skip(1)
        .collect()
}
