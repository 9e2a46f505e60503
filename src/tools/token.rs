//! `arena token`: print a token signed with the configured secret, for tools, tests and
//! trying things out (a real deployment's login service mints its own the same way).

use std::time::Duration;

use clap::Args;

use crate::base::config::ConfigError;
use crate::base::ids::{DisplayName, PlayerId};
use crate::services::auth::identity::ADMIN;
use crate::services::auth::token::{TokenError, Tokens};
use crate::services::auth::{AuthMode, Settings};

/// Why no token was printed.
#[derive(Debug, thiserror::Error)]
pub enum TokenCommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("--player: {0}")]
    Player(String),
    #[error("--name: {0}")]
    Name(String),
    #[error(transparent)]
    Token(#[from] TokenError),
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The player id the token speaks for (its `sub`).
    #[arg(long)]
    pub player: String,
    /// Display name (`name` claim).
    #[arg(long)]
    pub name: Option<String>,
    /// Add the `admin` role (admin routes, the admin view).
    #[arg(long)]
    pub admin: bool,
    /// How long the token is valid, e.g. `1h`, `30m`, `7d`.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    /// The signing secret (at least 32 bytes).
    #[arg(long, env = "ARENA_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// File holding the signing secret.
    #[arg(long, env = "ARENA_TOKEN_SECRET_FILE")]
    pub token_secret_file: Option<std::path::PathBuf>,
}

/// The signed token.
pub fn mint(args: &TokenArgs) -> Result<String, TokenCommandError> {
    let settings = Settings {
        mode: AuthMode::Token,
        token_secret: args.token_secret.clone(),
        token_secret_file: args.token_secret_file.clone(),
        allowed_origins: None,
    };
    settings.validate()?;
    let secret = settings.secret()?.unwrap_or_default();
    let player = PlayerId::parse(&args.player).map_err(|e| TokenCommandError::Player(e.message))?;
    let name = args
        .name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()
        .map_err(|e| TokenCommandError::Name(e.message))?;
    let roles = if args.admin {
        vec![ADMIN.to_string()]
    } else {
        Vec::new()
    };
    Ok(Tokens::new(&secret).issue(&player, name.as_ref(), roles, args.ttl)?)
}
