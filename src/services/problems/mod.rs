//! The problem bank: the coding problems battles are fought on, one TOML file per problem
//! in `problems/` at the repository root, embedded in the binary at compile time
//! (`build.rs`) and validated when loaded. `Problem::public` is the only view of a problem
//! meant for clients: it has no hidden tests, no reference and no wrong solutions.

pub mod bank;
pub mod comparator;
pub mod embedded;
pub mod error;
pub mod file;
pub mod language;
pub mod problem;
pub mod submission;

pub use bank::Bank;
pub use comparator::{Comparator, compare};
pub use error::BankError;
pub use language::Language;
pub use problem::{Difficulty, Example, Limits, Problem, PublicProblem, TestCase, WrongSolution};
