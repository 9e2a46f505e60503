//! Wiring: build one instance as a value (so tests can start several), run it, stop it.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, ConfigError};
use crate::http::{self, HttpState};
use crate::metrics::Metrics;
use crate::realtime::{self, Io, RealtimeError, adapter::ReconnectingDriver};
use crate::state::AppState;
use crate::tick::Ticker;

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
    #[error(transparent)]
    Realtime(#[from] RealtimeError),
    #[error("redlock: {0}")]
    Lock(#[from] crate::lock::LockError),
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error("shutdown took longer than {0:?}; stopped anyway")]
    ShutdownTimeout(Duration),
}

/// One arena instance, bound to its port and connected to Redis, not yet serving.
pub struct App {
    listener: TcpListener,
    addr: SocketAddr,
    state: AppState,
    io: Io,
    driver: ReconnectingDriver,
    router: axum::Router,
}

impl App {
    /// Validate the config, bind the port, connect to Redis, register the namespace.
    pub async fn build(config: Config) -> Result<App, AppError> {
        config.validate()?;
        let bind = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|source| AppError::Bind { addr: bind, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| AppError::Bind { addr: bind, source })?;
        let instance_id: Arc<str> = match &config.instance_id {
            Some(id) => id.as_str().into(),
            None => default_instance_id(addr.port()).into(),
        };
        let redis_err = |source| AppError::Redis {
            url: config.redis_url_redacted(),
            source,
        };
        let timeout = Duration::from_millis(config.redis_timeout_ms);
        let metrics = Metrics::new();
        let redis =
            crate::redis::command_connection(&config.redis_url, timeout).map_err(redis_err)?;
        let driver = ReconnectingDriver::connect(&config.redis_url, timeout, metrics.clone())
            .await
            .map_err(redis_err)?;
        let lock_config =
            crate::lock::LockConfig::default().with_ttl(Duration::from_millis(config.lock_ttl_ms));
        let redlock = crate::lock::Redlock::new(&crate::lock::master_urls(&config), lock_config)?
            .with_data(redis.clone())
            .with_metrics(crate::lock::LockMetrics {
                acquire_duration: metrics.lock_acquire_duration.clone(),
                lost: metrics.lock_lost.clone(),
            });
        let state = AppState {
            config: Arc::new(config),
            instance_id,
            metrics,
            redis,
            redlock,
            started: Instant::now(),
        };
        let (layer, io) = realtime::build(&state.config, state.clone(), driver.clone()).await?;
        let router = http::router(HttpState {
            app: state.clone(),
            io: io.clone(),
        })
        .layer(layer);
        Ok(App {
            listener,
            addr,
            state,
            io,
            driver,
            router,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
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
            state,
            io,
            driver,
            router,
        } = self;
        let cfg = &state.config;
        tracing::info!(
            instance = %state.instance_id,
            version = env!("CARGO_PKG_VERSION"),
            %addr,
            redis = %cfg.redis_url_redacted(),
            tick_ms = cfg.tick_ms,
            lock_ttl_ms = cfg.lock_ttl_ms,
            "arena instance started"
        );
        let tasks = TaskTracker::new();
        let stop_tasks = shutdown.child_token();
        tasks.spawn(Ticker::new(state.clone(), io.clone()).run(stop_tasks.clone()));
        tasks.spawn(realtime::probe::run(
            driver,
            state.instance_id.to_string(),
            state.metrics.clone(),
            Duration::from_secs(1),
            stop_tasks.clone(),
        ));
        tasks.spawn(upkeep(state.metrics.clone(), stop_tasks.clone()));
        tasks.spawn(crate::warmup::run(state.clone()));
        tasks.spawn(
            crate::hunt::map::MapGenerator::new(state.clone(), io.clone()).run(stop_tasks.clone()),
        );
        tasks.spawn(
            crate::hunt::board::BoardBroadcaster::new(state.clone(), io.clone())
                .run(stop_tasks.clone()),
        );
        match crate::hunt::projection::Projection::new(state.clone()) {
            Ok(p) => {
                tasks.spawn(p.run(stop_tasks.clone()));
            }
            Err(e) => tracing::error!(error = %e, "hunt projection not started"),
        }
        tasks.close();

        // Small frames must not wait for Nagle + delayed ACK (~40 ms per hop otherwise).
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let io_close = io.clone();
        let graceful = shutdown.clone();
        let server = axum::serve(listener, router).with_graceful_shutdown(async move {
            graceful.cancelled().await;
            // Open WebSockets would hold the server open: close them first.
            io_close.close().await;
        });
        let fuse = Duration::from_millis(state.config.shutdown_timeout_ms);
        // A client that never completes the close handshake must not hold the stop open:
        // once shutdown starts, connections get `fuse` to finish, then they are dropped.
        let served = tokio::select! {
            r = server.into_future() => r,
            _ = async { shutdown.cancelled().await; tokio::time::sleep(fuse).await } => {
                tracing::warn!(?fuse, "connections did not close in time; dropping them");
                Ok(())
            }
        };
        stop_tasks.cancel();
        if tokio::time::timeout(fuse, tasks.wait()).await.is_err() {
            return Err(AppError::ShutdownTimeout(fuse));
        }
        tracing::info!(instance = %state.instance_id, "arena instance stopped");
        served.map_err(AppError::Serve)
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
async fn upkeep(metrics: Metrics, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(5)) => metrics.upkeep(),
        }
    }
}
