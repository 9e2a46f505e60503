//! Settings of the workers mode (none yet).

use clap::Args;

use crate::base::config::ConfigError;

/// The workers mode has no settings of its own.
#[derive(Debug, Clone, Default, Args)]
#[group(id = "workers")]
pub struct Settings {}

impl Settings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

