//! Why the bank, or one file of it, was refused. Every message names the file, and the
//! field when one is at fault, so an author can fix it without a search.

/// A problem file (or the bank as a whole) that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BankError {
    /// Not valid TOML, or a field of the wrong type, or an unknown field.
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    /// Valid TOML that breaks a rule of the bank.
    #[error("{file}: {field}: {reason}")]
    Invalid {
        file: String,
        field: String,
        reason: String,
    },
    /// A bank directory (`--dir`) that cannot be read.
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    /// No problem files at all.
    #[error("the bank has no problem files")]
    Empty,
}

/// A [`BankError::Invalid`] for `field` of `file`.
pub fn invalid(file: &str, field: impl Into<String>, reason: impl Into<String>) -> BankError {
    BankError::Invalid {
        file: file.to_string(),
        field: field.into(),
        reason: reason.into(),
    }
}
