//! The judge: a separate process (`arena judge`) that runs untrusted submissions in a
//! sandbox — bubblewrap namespaces, a seccomp deny-list, a cgroup per run, rlimits, a
//! wall-clock bound and capped output — compiling once and running every test, and
//! reports a verdict per test. The battle side reaches it through
//! `services::judge` (the queue, the client interface, the shared breaker).

pub mod cgroup;
pub mod exec;
pub mod host;
pub mod http;
pub mod language;
pub mod runner;
pub mod sandbox;
pub mod seccomp;
pub mod settings;
pub mod submit_request;
pub mod verdict;
pub mod worker;

pub use host::{HostSetup, start};
pub use runner::Judge;
pub use settings::Settings;
