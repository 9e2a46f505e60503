//! Why a database operation failed.

/// Errors of the SQL store. Messages never carry a database password (URLs are redacted).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DATABASE_URL: {0}")]
    Url(String),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// A stored row that breaks the schema's promises (e.g. an unknown battle state).
    #[error("corrupt record in the database: {0}")]
    Corrupt(String),
}
