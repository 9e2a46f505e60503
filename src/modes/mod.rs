//! Game modes, one folder each. A mode owns its socket events (`events.rs`), payloads,
//! HTTP routes, Lua scripts and their wrappers, keys, metrics, settings and background
//! tasks, and implements `services::mode::Mode`. Modes sit above the shared services and
//! below the edge; no layer below names a mode.
//!
//! Adding a mode: a new folder with `pub struct Settings` (clap `Args`, with
//! `validate`) and `pub fn build(&Context, &Settings) -> Result<Arc<dyn Mode>, ModeError>`,
//! plus its name in the one list below. That line declares the module, flattens its
//! settings into the command line, validates them at start and builds the mode (so its
//! events, routes and tasks are registered). See ARCHITECTURE.md.

use std::sync::Arc;

use crate::base::config::ConfigError;
use crate::services::mode::{Context, Mode, ModeError};

/// Declares each mode module and the per-mode plumbing that would otherwise need one
/// line per mode in three places (settings, validation, build).
macro_rules! modes {
    ($($mode:ident),* $(,)?) => {
        $(pub mod $mode;)*

        /// The settings of every mode (flags or env vars).
        #[derive(Debug, Clone, Default, clap::Args)]
        #[group(id = "modes")]
        pub struct Settings {
            $(
                #[command(flatten)]
                pub $mode: $mode::Settings,
            )*
        }

        impl Settings {
            /// Check each mode's settings; the error names the setting and the reason.
            pub fn validate(&self) -> Result<(), ConfigError> {
                $(self.$mode.validate()?;)*
                Ok(())
            }

            /// Build every mode, in the order listed.
            pub fn build(&self, ctx: &Context) -> Result<Vec<Arc<dyn Mode>>, ModeError> {
                Ok(vec![$($mode::build(ctx, &self.$mode)?,)*])
            }
        }
    };
}

modes!(rooms, battle, hunt, workers);
