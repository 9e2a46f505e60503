//! Settings of identity: the auth mode, the token secret, the allowed browser origins.

use clap::{Args, ValueEnum};

use super::origins::Origins;
use super::token::MIN_SECRET_BYTES;
use crate::base::config::{ConfigError, bad};

/// How a connection proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// A signed token is required (`auth: {token}`, `Authorization: Bearer`).
    Token,
    /// Anyone may say who they are (`auth: {player}`); for demos and local work only.
    Dev,
}

pub const AUTH: AuthMode = AuthMode::Token;

/// Identity settings (flags or env vars).
#[derive(Clone, Args)]
#[group(id = "auth")]
pub struct Settings {
    /// `token`: a signed token is required; `dev`: clients name themselves (unsafe
    /// outside a demo).
    #[arg(long = "auth", env = "ARENA_AUTH", value_enum, default_value_t = AUTH)]
    pub mode: AuthMode,

    /// Secret that signs and checks tokens (HS256, at least 32 bytes). Prefer
    /// --token-secret-file: a flag shows in the process list.
    #[arg(long, env = "ARENA_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,

    /// File holding the token secret (surrounding whitespace is ignored).
    #[arg(long, env = "ARENA_TOKEN_SECRET_FILE")]
    pub token_secret_file: Option<std::path::PathBuf>,

    /// Comma-separated browser origins allowed to connect, e.g.
    /// `https://play.example.com`; a browser connection from another origin is refused.
    /// Clients that send no `Origin` (servers, bots) are not affected [default: any].
    #[arg(long, env = "ALLOWED_ORIGINS")]
    pub allowed_origins: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("mode", &self.mode)
            .field("token_secret", &self.token_secret.as_ref().map(|_| "***"))
            .field("token_secret_file", &self.token_secret_file)
            .field("allowed_origins", &self.allowed_origins)
            .finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: AUTH,
            token_secret: None,
            token_secret_file: None,
            allowed_origins: None,
        }
    }
}

impl Settings {
    /// Check the combination; reads the secret file.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.origins()?;
        let secret = self.secret()?;
        if self.mode == AuthMode::Token && secret.is_none() {
            return Err(bad(
                "ARENA_TOKEN_SECRET",
                "ARENA_AUTH=token needs a secret: set ARENA_TOKEN_SECRET or ARENA_TOKEN_SECRET_FILE (or ARENA_AUTH=dev for a demo)",
            ));
        }
        Ok(())
    }

    /// The secret, from the flag/env or the file; `None` when neither is set.
    pub fn secret(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        let secret = match (&self.token_secret, &self.token_secret_file) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "ARENA_TOKEN_SECRET",
                    "set either ARENA_TOKEN_SECRET or ARENA_TOKEN_SECRET_FILE, not both",
                ));
            }
            (Some(s), None) => s.trim().as_bytes().to_vec(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| {
                    bad(
                        "ARENA_TOKEN_SECRET_FILE",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?
                .trim()
                .as_bytes()
                .to_vec(),
            (None, None) => return Ok(None),
        };
        if secret.len() < MIN_SECRET_BYTES {
            return Err(bad(
                "ARENA_TOKEN_SECRET",
                format!(
                    "is {} bytes; HS256 needs at least {MIN_SECRET_BYTES} (e.g. `openssl rand -hex 32`)",
                    secret.len()
                ),
            ));
        }
        Ok(Some(secret))
    }

    pub fn origins(&self) -> Result<Origins, ConfigError> {
        match &self.allowed_origins {
            None => Ok(Origins::Any),
            Some(list) => Origins::parse(list).map_err(|r| bad("ALLOWED_ORIGINS", r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_mode_needs_a_long_enough_secret() {
        let mut s = Settings::default();
        assert_eq!(s.validate().unwrap_err().setting, "ARENA_TOKEN_SECRET");
        s.token_secret = Some("short".into());
        assert!(s.validate().unwrap_err().reason.contains("at least 32"));
        s.token_secret = Some("x".repeat(32));
        assert_eq!(s.validate(), Ok(()));
        s.mode = AuthMode::Dev;
        s.token_secret = None;
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn the_secret_never_shows_in_debug() {
        let s = Settings {
            token_secret: Some("s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t".into()),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_secret_file_is_read_and_trimmed() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, format!("{}\n", "k".repeat(40)).as_bytes()).unwrap();
        let s = Settings {
            token_secret_file: Some(f.path().to_path_buf()),
            ..Settings::default()
        };
        assert_eq!(s.secret().unwrap().unwrap().len(), 40);
    }
}
