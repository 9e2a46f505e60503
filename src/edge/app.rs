//! Wiring: build one instance as a value (so tests can start several), run it, stop it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::Config;
use super::http::{self, HttpLimits, HttpState};
use super::socket::{self, NamespaceError};
use crate::base::config::ConfigError;
use crate::base::shutdown::sleep_unless_cancelled;
use crate::redis::Endpoint;
use crate::services::AppState;
use crate::services::metrics::Metrics;
use crate::services::mode::{Context, Mode, ModeError};
use crate::services::realtime::{self, Io, adapter::ReconnectingDriver};

/// Why an instance could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot reach Redis at {url}: {source}")]
    Redis {
        url: String,
        source: redis::RedisError,
    },
    /// Redis refused the credentials: not transient, so start-up fails at once, in one
    /// line that names the user and never the password.
    #[error("cannot authenticate to Redis at {url} as user {user}: {reason}")]
    RedisAuth {
        url: String,
        user: String,
        reason: &'static str,
    },
    #[error(transparent)]
    Namespace(#[from] NamespaceError),
    #[error(transparent)]
    Mode(#[from] ModeError),
    #[error(transparent)]
    Store(#[from] crate::services::store::StoreError),
    #[error("JUDGE_URL: {0}")]
    Judge(#[from] crate::services::judge::client::ExecError),
    #[error("redlock: {0}")]
    Lock(#[from] crate::services::lock::LockError),
    #[error("shutdown took longer than {0:?}; stopped anyway")]
    ShutdownTimeout(Duration),
}

/// One arena instance, bound to its port and connected to Redis, not yet serving.
pub struct App {
    listener: TcpListener,
    addr: SocketAddr,
    /// The operators' port (`INTERNAL_PORT`), when set, and its routes.
    internal: Option<(TcpListener, SocketAddr, axum::Router)>,
    state: AppState,
    io: Io,
    driver: ReconnectingDriver,
    router: axum::Router,
    limits: HttpLimits,
    modes: Arc<[Arc<dyn Mode>]>,
    shutdown_timeout: Duration,
    drain_wait: Duration,
    drain_spread: Duration,
}

impl App {
    /// Validate the config, bind the port, connect to Redis, register the namespace.
    pub async fn build(config: Config) -> Result<App, AppError> {
        config.validate()?;
        let (listener, addr) = bind(SocketAddr::new(config.host, config.port)).await?;
        let internal = match config.internal_port {
            Some(port) => Some(bind(SocketAddr::new(config.host, port)).await?),
            None => None,
        };
        let instance_id: Arc<str> = match &config.instance_id {
            Some(id) => id.as_str().into(),
            None => default_instance_id(addr.port()).into(),
        };
        crate::base::telemetry::set_instance(&instance_id);
        let settings = &config.services;
        let (endpoint, masters) = settings.endpoints()?;
        let redis_err = |source: redis::RedisError| redis_error(&endpoint, source);
        let timeout = Duration::from_millis(settings.redis_timeout_ms);
        let metrics = Metrics::new();
        // Fail fast, in one line, on what retrying cannot mend: refused credentials, a bad
        // certificate. (An unreachable Redis fails start-up too: the pub/sub connections
        // need it once.)
        let check_within = timeout.max(Duration::from_secs(2));
        crate::redis::check(&endpoint, check_within)
            .await
            .map_err(redis_err)?;
        // Redlock masters may be down at start (their connections are lazy), but one that
        // refuses the credentials would never count toward a quorum: that stops start-up.
        let others: Vec<&Endpoint> = masters.iter().filter(|m| !m.same_url(&endpoint)).collect();
        let checks = others.iter().map(|m| crate::redis::check(m, check_within));
        for (m, r) in others
            .iter()
            .zip(futures_util::future::join_all(checks).await)
        {
            if let Err(e) = r
                && crate::redis::is_auth_error(&e)
            {
                return Err(redis_error(m, e));
            }
        }
        let redis = crate::redis::command_connection(&endpoint, timeout).map_err(redis_err)?;
        // On a cluster, socketioxide-redis's channels use classic PUBLISH/SUBSCRIBE on one
        // node, the master of the pub/sub slot, which the driver follows after a failover
        // (`adapter.rs` says why not sharded channels).
        let driver = if endpoint.is_cluster() {
            ReconnectingDriver::connect_cluster(&endpoint, redis.clone(), timeout, metrics.clone())
                .await
        } else {
            ReconnectingDriver::connect(&endpoint, timeout, metrics.clone()).await
        }
        .map_err(redis_err)?;
        let redlock = crate::services::lock::Redlock::new(&masters, settings.lock_config())?
            .with_data(redis.clone())
            .with_metrics(crate::services::lock::LockMetrics {
                acquire_duration: metrics.lock_acquire_duration.clone(),
                lost: metrics.lock_lost.clone(),
            });
        let auth = crate::services::auth::Authenticator::new(&settings.auth, &metrics)?;
        if auth.mode() == crate::services::auth::AuthMode::Dev {
            tracing::warn!(
                "ARENA_AUTH=dev: clients name themselves and nothing is checked; use ARENA_AUTH=token outside a demo"
            );
        }
        let store = crate::services::store::Store::open(&settings.store).await?;
        let judge = judge_client(&settings.judge, redis.clone(), &metrics)?;
        let state = AppState {
            settings: Arc::new(settings.clone()),
            instance_id,
            metrics,
            redis,
            redis_endpoint: endpoint.clone(),
            redlock,
            store,
            started: Instant::now(),
            auth,
            judge,
            draining: CancellationToken::new(),
        };
        let (layer, io) = realtime::layer(settings, driver.clone());
        let ctx = Context {
            app: state.clone(),
            io: io.clone(),
        };
        let modes: Arc<[Arc<dyn Mode>]> = config.modes.build(&ctx)?.into();
        socket::register(&io, state.clone(), modes.clone()).await?;
        let limits = HttpLimits::of(&config);
        let http_state = HttpState {
            app: state.clone(),
            io: io.clone(),
            modes: modes.clone(),
            tick_ms: config.modes.rooms.tick_ms,
            request_timeout: limits.request_timeout,
        };
        let internal =
            internal.map(|(l, a)| (l, a, http::internal_router(http_state.clone(), &limits)));
        let router = http::router(http_state, &limits, internal.is_some())
            .layer(layer)
            .layer(axum::middleware::from_fn_with_state(
                state.draining.clone(),
                super::drain::refuse_new_sessions,
            ));
        Ok(App {
            listener,
            addr,
            internal,
            state,
            io,
            driver,
            router,
            limits,
            modes,
            shutdown_timeout: Duration::from_millis(config.shutdown_timeout_ms),
            drain_wait: Duration::from_millis(config.drain_ms),
            drain_spread: Duration::from_millis(config.drain_spread_ms),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The operators' port, when `INTERNAL_PORT` is set.
    pub fn internal_addr(&self) -> Option<SocketAddr> {
        self.internal.as_ref().map(|(_, a, _)| *a)
    }

    /// The instance's judge client (the one `AppState::judge`), for embedders and tests.
    pub fn judge(&self) -> &crate::services::judge::guarded::Guarded {
        &self.state.judge
    }

    pub fn instance_id(&self) -> &str {
        &self.state.instance_id
    }

    /// Serve until `shutdown` is cancelled, then stop in order: stop accepting, disconnect
    /// sockets, stop background tasks, within `shutdown_timeout_ms`.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), AppError> {
        let App {
            listener,
            addr,
            internal,
            state,
            io,
            driver,
            router,
            limits,
            modes,
            shutdown_timeout,
            drain_wait,
            drain_spread,
        } = self;
        let cfg = &state.settings;
        tracing::info!(
            instance = %state.instance_id,
            version = env!("CARGO_PKG_VERSION"),
            %addr,
            internal = ?internal.as_ref().map(|(_, a, _)| *a),
            auth = ?cfg.auth.mode,
            redis = %cfg.redis_url_redacted(),
            database = %state.store.url(),
            lock_ttl_ms = cfg.lock_ttl_ms,
            modes = ?modes.iter().map(|m| m.name()).collect::<Vec<_>>(),
            "arena instance started"
        );
        let tasks = TaskTracker::new();
        let stop_tasks = shutdown.child_token();
        tasks.spawn(realtime::probe::run(
            driver,
            state.instance_id.to_string(),
            state.metrics.clone(),
            Duration::from_secs(1),
            stop_tasks.clone(),
        ));
        tasks.spawn(upkeep(state.metrics.clone(), stop_tasks.clone()));
        tasks.spawn(crate::services::fleet::run(
            state.clone(),
            io.clone(),
            addr.to_string(),
            stop_tasks.clone(),
        ));
        if let Some((listener, _, router)) = internal {
            let stop = shutdown.clone();
            tasks.spawn(http::serve(listener, router, limits.clone(), async move {
                stop.cancelled().await
            }));
        }
        for mode in modes.iter() {
            mode.spawn(&tasks, &stop_tasks);
        }
        tasks.close();

        let io_close = io.clone();
        let graceful = shutdown.clone();
        let draining = state.draining.clone();
        // Drain first (`/ready` 503, new sockets refused, clients let go in batches),
        // then stop accepting once the sockets are closed, and let every connection
        // finish its request in flight (`http::serve`).
        let server = http::serve(listener, router, limits, async move {
            graceful.cancelled().await;
            super::drain::drain(&io_close, &draining, drain_wait, drain_spread).await;
            // Open WebSockets would hold the server open: close them first.
            io_close.close().await;
        });
        let fuse = shutdown_timeout;
        // A client that never completes the close handshake must not hold the stop open:
        // once the drain is over, connections get `fuse` to finish, then they are dropped.
        let drained_and_fused = drain_wait + drain_spread + fuse;
        tokio::select! {
            () = server => {}
            _ = async { shutdown.cancelled().await; tokio::time::sleep(drained_and_fused).await } => {
                tracing::warn!(?fuse, "connections did not close in time; dropping them");
            }
        }
        stop_tasks.cancel();
        if tokio::time::timeout(fuse, tasks.wait()).await.is_err() {
            return Err(AppError::ShutdownTimeout(fuse));
        }
        // The outbox consumer has stopped: close the pool so a SQLite file is released
        // (its WAL checkpointed) before the process or a restarted instance goes on.
        state.store.close().await;
        tracing::info!(instance = %state.instance_id, "arena instance stopped");
        Ok(())
    }
}

/// A listener on `addr` and the address it got (port 0 picks one).
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), AppError> {
    let err = |source| AppError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(err)?;
    let bound = listener.local_addr().map_err(err)?;
    Ok((listener, bound))
}

/// The start-up error for a Redis error: refused credentials get their own line (retrying
/// cannot help), anything else is "cannot reach".
fn redis_error(endpoint: &Endpoint, source: redis::RedisError) -> AppError {
    if !crate::redis::is_auth_error(&source) {
        return AppError::Redis {
            url: endpoint.redacted(),
            source,
        };
    }
    // redis-rs reports a refused AUTH without the server's words; these are the cases.
    let reason = if source.code() == Some("NOAUTH") {
        "NOAUTH: the server needs a password and the URL gives none"
    } else {
        "WRONGPASS: the server refused the user name and password (wrong password, or the user is unknown or disabled)"
    };
    AppError::RedisAuth {
        url: endpoint.redacted(),
        user: endpoint.user(),
        reason,
    }
}

/// `hostname:port`, sanitised to the instance-id alphabet.
fn default_instance_id(port: u16) -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "arena".into());
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(48)
        .collect();
    format!("{host}:{port}")
}

/// The Prometheus exporter needs periodic upkeep to drain its histogram buffers.
/// The instance's one `Guarded`: the backend `JUDGE_URL` names behind the fleet's
/// breaker, its state on this instance's registry. Transitions need no hook here: the
/// battle mode reads the breaker (`Guarded::peek`) to pause and resume its clocks.
fn judge_client(
    settings: &crate::services::judge::settings::Settings,
    redis: crate::redis::Conn,
    metrics: &Metrics,
) -> Result<crate::services::judge::guarded::Guarded, AppError> {
    use crate::services::judge::{backend, breaker::Breaker, guarded::Guarded};
    crate::services::judge::metrics::describe(metrics);
    Ok(Guarded {
        executor: backend::executor(settings.url(), redis.clone())?,
        breaker: Breaker::new(redis, settings.breaker()),
        on_transition: Arc::new(|_| {}),
        metrics: Some(metrics.clone()),
    })
}

async fn upkeep(metrics: Metrics, shutdown: CancellationToken) {
    while sleep_unless_cancelled(Duration::from_secs(5), &shutdown).await {
        metrics.upkeep();
    }
}
