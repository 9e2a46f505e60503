//! The connection pool and the embedded migrations.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use super::error::StoreError;
use super::settings::{Backend, Settings};

/// The migrations, compiled into the binary.
static MIGRATOR: Migrator = sqlx::migrate!("src/services/store/migrations");

/// Attempts at migrating: instances sharing one SQLite file may start together, and
/// SQLite has no migration lock (PostgreSQL's advisory lock serializes them); the loser
/// of such a race finds the work done on its next attempt.
const MIGRATE_ATTEMPTS: u32 = 5;

/// A pool on the records database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: Arc<str>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connect (creating the data directory of the default SQLite file) and migrate.
    pub async fn open(settings: &Settings) -> Result<Self, StoreError> {
        let store = Self::connect(settings).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connect without migrating (the pool opens its first connection now, so a wrong
    /// URL or password fails here, at start).
    pub async fn connect(settings: &Settings) -> Result<Self, StoreError> {
        install_default_drivers();
        let url = settings.url();
        let backend = Backend::of(&url)?;
        let redacted: Arc<str> = settings.url_redacted().into();
        let in_memory = backend == Backend::Sqlite && url.contains(":memory:");
        if backend == Backend::Sqlite && settings.database_url.is_none() {
            std::fs::create_dir_all(&settings.data_dir).map_err(|source| StoreError::DataDir {
                path: settings.data_dir.display().to_string(),
                source,
            })?;
        }
        let mut options = AnyPoolOptions::new()
            .max_connections(settings.db_max_connections)
            .acquire_timeout(Duration::from_secs(5));
        if in_memory {
            // An in-memory database lives as long as one of its connections: keep one
            // open for good, and only one (shared-cache tables lock per connection).
            options = options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = options
            .connect(&url)
            .await
            .map_err(|source| StoreError::Connect {
                url: redacted.to_string(),
                source,
            })?;
        let store = Self {
            pool,
            backend,
            url: redacted,
        };
        if backend == Backend::Sqlite && !in_memory {
            // Readers never block the writer and the writer never blocks readers; the
            // mode is stored in the file, so this is a no-op after the first time.
            store
                .with_retries(|| async {
                    store.pool.execute("PRAGMA journal_mode = WAL").await?;
                    Ok(())
                })
                .await?;
        }
        Ok(store)
    }

    /// Apply the migrations not yet applied; returns how many ran now.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        self.with_retries(|| async {
            let before = self.applied_migrations().await.unwrap_or(0);
            MIGRATOR.run(&self.pool).await?;
            let after = self.applied_migrations().await?;
            Ok(after.saturating_sub(before))
        })
        .await
    }

    /// Versions recorded in sqlx's migrations table (an error before it exists).
    async fn applied_migrations(&self) -> Result<usize, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await?;
        usize::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} migrations")))
    }

    /// Run `f`, again after a pause if it fails, up to [`MIGRATE_ATTEMPTS`] times.
    async fn with_retries<T, F, Fut>(&self, mut f: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let mut attempt = 1;
        loop {
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) if attempt < MIGRATE_ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "database set-up failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL, password redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Close every connection (waits for those in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
