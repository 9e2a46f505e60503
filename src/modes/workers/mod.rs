//! The worker-cluster demo: a start-up warm-up that runs at most once per minute across
//! all instances (`warmup`), and a locked read-modify-write of one shared value over
//! HTTP (`counter`).

mod counter;
mod mode;
mod settings;
pub mod warmup;

pub use mode::build;
pub use settings::Settings;
