//! [`Conn`]: the command connection arena hands around, one type for a standalone Redis
//! and a Redis Cluster, so no caller knows which one it talks to.
//!
//! Standalone is redis-rs's `ConnectionManager` (multiplexed, reconnects by itself).
//! Cluster is redis-rs's async cluster connection (routes each command by its key's
//! slot, follows MOVED/ASK, refreshes the slot map, sends `SCRIPT LOAD` to every node so
//! `Script`'s reload on NOSCRIPT works on whichever node answered). Both are made by
//! `connect.rs` (`command_connection`, `stream_connection`), the one place clients are
//! made.
//!
//! Every script command is checked for keys in two slots before it is sent, on both
//! kinds (`slot.rs`).
//!
//! The cluster connection is opened on the first command, not when the `Conn` is made:
//! `command_connection` is synchronous and lazy for a standalone Redis (callers build it
//! outside async code and before Redis is up), and the cluster one keeps that contract.
//! A failed first connect is returned to that command and retried by the next one.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};
use tokio::sync::OnceCell;

use super::slot::check_script;

/// Opens the cluster connection (made in `connect.rs`, which holds the client).
pub type ClusterConnect =
    Arc<dyn Fn() -> BoxFuture<'static, RedisResult<ClusterConnection>> + Send + Sync>;

/// A command connection to a standalone Redis or to a Redis Cluster. Cheap to clone;
/// clones share the underlying connection.
#[derive(Clone)]
pub enum Conn {
    /// One Redis server.
    Single(ConnectionManager),
    /// A Redis Cluster, opened on first use.
    Cluster(LazyCluster),
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Single(_) => "Conn::Single",
            Self::Cluster(_) => "Conn::Cluster",
        })
    }
}

impl From<ConnectionManager> for Conn {
    fn from(c: ConnectionManager) -> Self {
        Self::Single(c)
    }
}

impl Conn {
    /// A cluster connection that `connect` opens on the first command.
    pub fn cluster(connect: ClusterConnect, db: i64) -> Self {
        Self::Cluster(LazyCluster {
            connect,
            cell: Arc::new(OnceCell::new()),
            db,
        })
    }

    /// Is this a Redis Cluster connection?
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

/// The cluster side of [`Conn`]: the connection once opened, shared by every clone.
#[derive(Clone)]
pub struct LazyCluster {
    connect: ClusterConnect,
    cell: Arc<OnceCell<ClusterConnection>>,
    db: i64,
}

impl LazyCluster {
    /// The open connection (a clone: a channel sender and an `Arc`, cheap), opening it
    /// first if no command has yet.
    async fn get(&self) -> RedisResult<ClusterConnection> {
        let connect = &self.connect;
        self.cell.get_or_try_init(|| connect()).await.cloned()
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        // Standalone too: a script whose keys span two slots must fail where it is
        // tested, not first on a cluster (`slot.rs`).
        if let Err(e) = check_script(cmd) {
            return Box::pin(std::future::ready(Err(e)));
        }
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => Box::pin(async move {
                let mut conn = c.get().await?;
                conn.req_packed_command(cmd).await
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        if let Err(e) = pipeline.cmd_iter().try_for_each(check_script) {
            return Box::pin(std::future::ready(Err(e)));
        }
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => Box::pin(async move {
                let mut conn = c.get().await?;
                conn.req_packed_commands(pipeline, offset, count).await
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.db,
        }
    }
}
