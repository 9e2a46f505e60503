//! The error every settings check returns, and the small checks they share.
//!
//! Settings live with the layer or mode that uses them (`services::Settings`,
//! `modes::<mode>::Settings`); `edge::config::Config` composes them and checks the
//! constraints between them. Every check names the setting (its env var) and the reason
//! in one line.

/// A setting that cannot be used, with the reason.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid setting {setting}: {reason}")]
pub struct ConfigError {
    /// The environment variable that names the setting, e.g. `LOCK_TTL_MS`.
    pub setting: &'static str,
    pub reason: String,
}

/// A [`ConfigError`] for `setting`.
pub fn bad(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        reason: reason.into(),
    }
}

/// `value` must lie in `lo..=hi`.
pub fn in_range<T>(setting: &'static str, value: T, lo: T, hi: T) -> Result<(), ConfigError>
where
    T: PartialOrd + std::fmt::Display + Copy,
{
    if value < lo || value > hi {
        return Err(bad(
            setting,
            format!("must be between {lo} and {hi} (got {value})"),
        ));
    }
    Ok(())
}

/// Replace the password part of `scheme://user:pass@host` with `***`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("redis://u:secret@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(redact_url("redis://h:1"), "redis://h:1");
        assert_eq!(redact_url("redis://:pw@h:1"), "redis://:***@h:1");
        assert_eq!(
            redact_url("rediss://alice:p%40ss:w@rd@h:6380/0"),
            "rediss://alice:***@h:6380/0"
        );
        assert_eq!(redact_url("rediss://alice@h"), "rediss://alice@h");
    }

    #[test]
    fn ranges_name_the_setting() {
        assert!(in_range("X", 5, 1, 10).is_ok());
        let e = in_range("X", 0, 1, 10).unwrap_err();
        assert_eq!(e.setting, "X");
        assert_eq!(
            e.to_string(),
            "invalid setting X: must be between 1 and 10 (got 0)"
        );
    }
}
