//! Settings of the SQL store: where the database is.

use std::fmt;
use std::path::PathBuf;

use clap::Args;

use super::error::StoreError;
use crate::base::config::{ConfigError, bad, in_range, redact_url};

/// Directory for arena's own files; the default SQLite database lives in it.
pub const DATA_DIR: &str = "data";
/// The default database's file name in `DATA_DIR`.
pub const DATABASE_FILE: &str = "arena.db";
pub const DB_MAX_CONNECTIONS: u32 = 8;

/// Settings of the SQL store (flags or env vars).
#[derive(Clone, Args)]
#[group(id = "store")]
pub struct Settings {
    /// Database URL: `sqlite://PATH?mode=rwc` (embedded; `mode=rwc` creates the file),
    /// `sqlite::memory:` (gone at exit) or `postgres://USER:PASSWORD@HOST:PORT/DB`
    /// [default: sqlite file arena.db in DATA_DIR].
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Directory for arena's files: the default SQLite database (created if missing).
    #[arg(long, env = "DATA_DIR", default_value = DATA_DIR)]
    pub data_dir: PathBuf,

    /// Connections in this instance's database pool.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = DB_MAX_CONNECTIONS)]
    pub db_max_connections: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: None,
            data_dir: DATA_DIR.into(),
            db_max_connections: DB_MAX_CONNECTIONS,
        }
    }
}

/// Never prints a password: settings end up in logs and panics.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_db_url),
            )
            .field("data_dir", &self.data_dir)
            .field("db_max_connections", &self.db_max_connections)
            .finish()
    }
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Url(format!(
                "{:?} is neither sqlite: nor postgres://",
                redact_db_url(url)
            )))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl Settings {
    /// A private in-memory SQLite (tests, embedding): nothing is written to disk.
    pub fn in_memory() -> Self {
        Self {
            database_url: Some("sqlite::memory:".into()),
            ..Self::default()
        }
    }

    /// The database URL in force: `DATABASE_URL`, or the file in `DATA_DIR`.
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join(DATABASE_FILE).display()
            ),
        }
    }

    /// The URL with any password replaced, for logs.
    pub fn url_redacted(&self) -> String {
        redact_db_url(&self.url())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Err(StoreError::Url(reason)) = Backend::of(&self.url()) {
            return Err(bad("DATABASE_URL", reason));
        }
        in_range("DB_MAX_CONNECTIONS", self.db_max_connections, 1, 1000)?;
        Ok(())
    }
}

/// `redact_url`, and a `password=` query parameter too (libpq-style URLs allow one).
pub fn redact_db_url(url: &str) -> String {
    let url = redact_url(url);
    match url.find("password=") {
        Some(at) => {
            let start = at + "password=".len();
            let end = url[start..].find('&').map_or(url.len(), |e| start + e);
            format!("{}***{}", &url[..start], &url[end..])
        }
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_a_file_in_the_data_dir() {
        let s = Settings {
            data_dir: "/var/lib/arena".into(),
            ..Settings::default()
        };
        assert_eq!(s.url(), "sqlite:///var/lib/arena/arena.db?mode=rwc");
        assert_eq!(Backend::of(&s.url()).unwrap(), Backend::Sqlite);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn passwords_never_show() {
        let s = Settings {
            database_url: Some("postgres://arena:hunter2@db:5432/arena".into()),
            ..Settings::default()
        };
        assert_eq!(s.url_redacted(), "postgres://arena:***@db:5432/arena");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(
            redact_db_url("postgres://db/arena?user=a&password=hunter2&sslmode=require"),
            "postgres://db/arena?user=a&password=***&sslmode=require"
        );
        let bad_url = Settings {
            database_url: Some("mysql://u:hunter2@h/db".into()),
            ..Settings::default()
        };
        let e = bad_url.validate().unwrap_err();
        assert_eq!(e.setting, "DATABASE_URL");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
