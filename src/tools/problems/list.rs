//! `arena problems list`: the bank as a table (id, difficulty, title, tests).

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::services::problems::{Bank, BankError};

/// Which bank to list.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    /// List the `*.toml` files of this directory instead of the bank built into the binary.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// The embedded bank, or the one in `dir`.
pub fn load(dir: Option<&std::path::Path>) -> Result<Bank, BankError> {
    match dir {
        Some(dir) => Bank::from_dir(dir),
        None => Bank::embedded(),
    }
}

/// One line per problem, sorted by id; `tests` counts the examples and the hidden tests.
pub fn render(bank: &Bank) -> String {
    let id_w = bank
        .list()
        .iter()
        .map(|p| p.id.len())
        .max()
        .unwrap_or(2)
        .max(2);
    let mut out = format!(
        "{:<id_w$}  {:<10}  {:<12}  title\n",
        "id", "difficulty", "tests"
    );
    for p in bank.list() {
        let tests = format!("{} + {}", p.examples.len(), p.tests.len());
        let _ = writeln!(
            out,
            "{:<id_w$}  {:<10}  {:<12}  {}",
            p.id,
            p.difficulty.key(),
            tests,
            p.title
        );
    }
    let _ = writeln!(
        out,
        "{} problems (tests: examples + hidden)",
        bank.list().len()
    );
    out
}
