//! Settings from a file: `arena serve --config arena.toml`, `arena config check`,
//! `arena config print`.
//!
//! A file's keys are the settings' environment names in lower case (`tick_ms = 2000`,
//! `redis_url = "redis://..."`). Precedence, highest first: flags, environment, file,
//! defaults. The defaults stay where they are defined (constants beside each settings
//! struct, given to clap); the file only fills in what flags and environment left at
//! their default, by handing clap the file's values as flags. clap cannot layer a file
//! under its env lookup itself, and setting environment variables from the program is
//! unsafe in Rust 2024 (forbidden here), hence this small merge.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Args, Command, FromArgMatches};

use super::config::Config;
use crate::base::config::redact_url;

/// Why a file's settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "{path}: unknown setting `{key}` (keys are the settings' env names in lower case, e.g. tick_ms)"
    )]
    Unknown { path: PathBuf, key: String },
    #[error("{path}: `{key}` must be a string, a number or a boolean")]
    Type { path: PathBuf, key: String },
    #[error("{0}")]
    Clap(String),
}

/// Where a setting's effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Env,
    Flag,
    Unset,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "file",
            Source::Env => "env",
            Source::Flag => "flag",
            Source::Unset => "unset",
        }
    }
}

/// Every setting's file key -> (its effective value as text, secrets redacted; its source).
pub type Sources = BTreeMap<String, (String, Source)>;

/// The `serve` settings as a clap command (the same arguments `arena serve` takes).
fn command() -> Command {
    Config::augment_args(Command::new("serve").no_binary_name(true))
}

/// The file key of an argument: its env name in lower case, else its id.
fn key_of(arg: &clap::Arg) -> String {
    match arg.get_env() {
        Some(env) => env.to_string_lossy().to_ascii_lowercase(),
        None => arg.get_id().as_str().to_string(),
    }
}

fn read(path: &Path) -> Result<BTreeMap<String, toml::Value>, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigFileError::Parse {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    })
}

/// The settings from `args` (what follows `arena serve`, flags only), the environment
/// and, when given, the file; plus where each came from.
pub fn resolve(
    file: Option<&Path>,
    args: &[OsString],
) -> Result<(Config, Sources), ConfigFileError> {
    let cmd = command();
    let first = cmd
        .clone()
        .try_get_matches_from(args)
        .map_err(|e| ConfigFileError::Clap(e.to_string()))?;
    let mut argv: Vec<OsString> = args.to_vec();
    let mut from_file = Vec::new();
    if let Some(path) = file {
        for (key, value) in read(path)? {
            let arg = cmd
                .get_arguments()
                .find(|a| key_of(a) == key)
                .ok_or_else(|| ConfigFileError::Unknown {
                    path: path.to_path_buf(),
                    key: key.clone(),
                })?;
            let id = arg.get_id().as_str();
            if id == "config" {
                return Err(ConfigFileError::Unknown {
                    path: path.to_path_buf(),
                    key,
                });
            }
            // Flags and environment win over the file.
            if matches!(
                first.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            ) {
                continue;
            }
            let long = format!("--{}", arg.get_long().unwrap_or(id));
            let text = match &value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => {
                    return Err(ConfigFileError::Type {
                        path: path.to_path_buf(),
                        key,
                    });
                }
            };
            if matches!(arg.get_action(), ArgAction::SetTrue) {
                if text == "true" {
                    argv.push(long.into());
                }
            } else {
                argv.push(format!("{long}={text}").into());
            }
            from_file.push(id.to_string());
        }
    }
    let matches = cmd
        .clone()
        .try_get_matches_from(&argv)
        .map_err(|e| ConfigFileError::Clap(e.to_string()))?;
    let config =
        Config::from_arg_matches(&matches).map_err(|e| ConfigFileError::Clap(e.to_string()))?;
    let sources = sources(&cmd, &matches, &from_file);
    Ok((config, sources))
}

/// Where every setting's value came from.
fn sources(cmd: &Command, matches: &ArgMatches, from_file: &[String]) -> Sources {
    let mut out = BTreeMap::new();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.is_hide_set() || id == "help" || id == "config" {
            continue;
        }
        let raw: Option<Vec<String>> = matches.get_raw(id).map(|vals| {
            vals.map(|v| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        });
        let source = match matches.value_source(id) {
            _ if from_file.iter().any(|f| f == id) => Source::File,
            Some(ValueSource::CommandLine) => Source::Flag,
            Some(ValueSource::EnvVariable) => Source::Env,
            Some(ValueSource::DefaultValue) => Source::Default,
            _ => Source::Unset,
        };
        let key = key_of(arg);
        let value = match raw {
            None => String::new(),
            Some(v) => redact(&key, &v.join(",")),
        };
        out.insert(key, (value, source));
    }
    out
}

/// Secrets never printed: the token secret whole, passwords inside URLs.
fn redact(key: &str, value: &str) -> String {
    if key.contains("secret") && !key.ends_with("_file") {
        return "***".into();
    }
    if key == "database_url" {
        // Also a libpq-style `password=` parameter.
        return crate::services::store::settings::redact_db_url(value);
    }
    if value.contains("://") {
        return value
            .split(',')
            .map(redact_url)
            .collect::<Vec<_>>()
            .join(",");
    }
    value.to_string()
}

/// `arena config print`: `key = value  # source`, TOML-shaped, one setting a line.
pub fn render(sources: &Sources) -> String {
    let mut out = String::new();
    for (key, (value, source)) in sources {
        let shown = if *source == Source::Unset {
            format!("# {key} =")
        } else if value.parse::<f64>().is_ok() || value == "true" || value == "false" {
            format!("{key} = {value}")
        } else {
            format!("{key} = {value:?}")
        };
        out.push_str(&format!("{shown:<60} # {}\n", source.as_str()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn a_file_fills_in_and_flags_win() {
        let f = file(
            "tick_ms = 3000\nlock_ttl_ms = 1200\narena_auth = \"dev\"\nredis_url = \"redis://u:pw@h:1\"\n",
        );
        let args: Vec<OsString> = vec!["--lock-ttl-ms".into(), "1000".into()];
        let (c, src) = resolve(Some(f.path()), &args).unwrap();
        assert_eq!(c.modes.rooms.tick_ms, 3000);
        assert_eq!(c.services.lock_ttl_ms, 1000);
        assert_eq!(src["tick_ms"].1, Source::File);
        assert_eq!(src["lock_ttl_ms"].1, Source::Flag);
        assert_eq!(src["redis_url"].0, "redis://u:***@h:1");
        assert_eq!(src["port"].1, Source::Default);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let f = file("tick_msec = 3000\n");
        let e = resolve(Some(f.path()), &[]).unwrap_err();
        assert!(e.to_string().contains("unknown setting `tick_msec`"), "{e}");
        let f = file("tick_ms = \"soon\"\n");
        let e = resolve(Some(f.path()), &[]).unwrap_err();
        assert!(e.to_string().contains("tick-ms"), "{e}");
        let f = file("tick_ms = [1]\n");
        assert!(matches!(
            resolve(Some(f.path()), &[]),
            Err(ConfigFileError::Type { .. })
        ));
        let f = file("tick_ms = \n");
        assert!(matches!(
            resolve(Some(f.path()), &[]),
            Err(ConfigFileError::Parse { .. })
        ));
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(redact("arena_token_secret", "abc"), "***");
        assert_eq!(
            redact("redlock_urls", "redis://a:p@h:1,redis://h:2"),
            "redis://a:***@h:1,redis://h:2"
        );
        assert_eq!(
            redact("database_url", "postgres://db/a?user=u&password=p"),
            "postgres://db/a?user=u&password=***"
        );
    }
}
