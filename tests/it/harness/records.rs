//! The records database of a test, on SQLite (a file in a temp dir) or on the shared
//! private PostgreSQL (a fresh database), and a look inside it.

use std::time::Duration;

use arena::services::store::{Settings, Store};
use serde_json::Value;
use sqlx::Row;

use super::postgres::postgres;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The records tests run one at a time: each starts instances, clients and processes
/// against a database server, and all of them at once load the 2-core machines enough to
/// push other tests' latency bounds (the flood test's quiet-client p99) over.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Wait for the records tests' turn; hold the guard for the whole test.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

/// One test's records database (and the records tests' turn, held while it lives).
pub struct TestDb {
    pub url: String,
    /// The SQLite file's directory (removed on drop).
    _dir: Option<tempfile::TempDir>,
    store: Store,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let turn = serial().await;
        super::init_logs();
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/arena.db?mode=rwc", dir.path().display());
                (url, Some(dir))
            }
            Backend::Postgres => (postgres().database().await, None),
        };
        let store = Store::open(&Self::settings_of(&url)).await.unwrap();
        TestDb {
            url,
            _dir: dir,
            store,
            _turn: turn,
        }
    }

    fn settings_of(url: &str) -> Settings {
        Settings {
            database_url: Some(url.to_string()),
            ..Settings::default()
        }
    }

    /// Store settings naming this database (for an instance's config).
    pub fn settings(&self) -> Settings {
        Self::settings_of(&self.url)
    }

    /// `SELECT COUNT(*) ...` (or any one BIGINT).
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query(sql)
            .fetch_one(self.store.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .try_get::<i64, _>(0)
            .unwrap()
    }

    /// Wait up to 20 s until `sql` counts `n`.
    pub async fn wait_count(&self, sql: &str, n: i64) {
        let mut last = -1;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::time::Instant::now() < deadline {
            last = self.count(sql).await;
            if last == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{sql}: wanted {n}, still {last} after 20 s");
    }
}

/// `GET path` on `addr` -> (status, JSON body).
pub async fn get_json(addr: &str, path: &str) -> (u16, Value) {
    let (status, body) = arena::tools::http_client::http_get(addr, path)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"));
    (status, v)
}
