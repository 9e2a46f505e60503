//! In-process arena instances on port 0, and typed helpers to talk to them.

use std::net::SocketAddr;

use arena::edge::app::{App, AppError};
use arena::edge::config::Config;
use arena::tools::client::Client;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::rooms::RoomsClient;

/// One running instance.
pub struct Instance {
    pub addr: SocketAddr,
    /// The operators' port, when the config set `internal_port`.
    pub internal: Option<SocketAddr>,
    pub id: String,
    pub url: String,
    shutdown: CancellationToken,
    handle: Option<JoinHandle<Result<(), AppError>>>,
}

/// Several instances sharing one Redis.
pub struct Arena {
    pub instances: Vec<Instance>,
}

/// A config for tests: the given Redis, port 0, and `tweak` applied.
pub fn config(redis_url: &str, tweak: impl Fn(&mut Config)) -> Config {
    let mut c = Config::for_redis(redis_url);
    // Most tests name their players; the auth tests switch to token mode.
    c.services.auth.mode = arena::services::auth::AuthMode::Dev;
    tweak(&mut c);
    c
}

impl Arena {
    /// `n` instances with default settings.
    pub async fn spawn(redis_url: &str, n: usize) -> Arena {
        Self::spawn_with(redis_url, n, |_| {}).await
    }

    /// `n` instances named `i0..`, each config adjusted by `tweak`.
    pub async fn spawn_with(redis_url: &str, n: usize, tweak: impl Fn(&mut Config)) -> Arena {
        let mut instances = Vec::new();
        for i in 0..n {
            instances.push(
                Instance::start(config(redis_url, |c| {
                    c.instance_id = Some(format!("i{i}"));
                    tweak(c);
                }))
                .await,
            );
        }
        Arena { instances }
    }
}

impl std::ops::Index<usize> for Arena {
    type Output = Instance;
    fn index(&self, i: usize) -> &Instance {
        &self.instances[i]
    }
}

impl Instance {
    /// Build and run one instance in this process.
    pub async fn start(config: Config) -> Instance {
        let app = App::build(config)
            .await
            .unwrap_or_else(|e| panic!("instance failed to start: {e}"));
        let addr = app.local_addr();
        let internal = app.internal_addr();
        let id = app.instance_id().to_string();
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(app.run(shutdown.clone()));
        Instance {
            addr,
            internal,
            id,
            url: format!("http://{addr}"),
            shutdown,
            handle: Some(handle),
        }
    }

    /// A connected client playing `player`.
    pub async fn client(&self, player: &str) -> Client {
        Client::connect(&self.url, json!({"player": player}))
            .await
            .unwrap_or_else(|e| panic!("client {player} could not connect to {}: {e}", self.id))
    }

    /// A client that has joined `room` (ack checked).
    pub async fn client_in(&self, player: &str, room: &str) -> Client {
        let c = self.client(player).await;
        let ack = c.join(room).await;
        assert_eq!(ack["ok"], json!(true), "join_room failed: {ack}");
        c
    }

    /// `GET path` -> (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        arena::tools::http_client::http_get(&self.addr.to_string(), path)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// The value of a metric line (exact name with labels), 0 if absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let (_, body) = self.get("/metrics").await;
        body.lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .and_then(|rest| rest.strip_prefix(' '))
            })
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Start a graceful stop (as SIGTERM does) without waiting for it.
    pub fn begin_stop(&self) {
        self.shutdown.cancel();
    }

    /// Stop gracefully and return the run result.
    pub async fn stop(mut self) -> Result<(), AppError> {
        self.shutdown.cancel();
        match self.handle.take() {
            Some(h) => h.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
