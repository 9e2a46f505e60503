//! A validated problem, and the view of it a client may see.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::comparator::Comparator;
use super::language::Language;

/// How hard a problem is; matchmaking pairs players by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

impl Difficulty {
    pub const ALL: [Difficulty; 3] = [Difficulty::Easy, Difficulty::Medium, Difficulty::Hard];

    /// The key in problem files and on the wire.
    pub fn key(self) -> &'static str {
        match self {
            Difficulty::Easy => "easy",
            Difficulty::Medium => "medium",
            Difficulty::Hard => "hard",
        }
    }

    /// The difficulty named by `key`, or `None`.
    pub fn parse(key: &str) -> Option<Difficulty> {
        Difficulty::ALL.into_iter().find(|d| d.key() == key)
    }
}

impl fmt::Display for Difficulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// What a program may use on one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    pub time_ms: u32,
    pub memory_mb: u32,
}

/// An example shown with the statement (also run as a test).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    pub input: String,
    pub output: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// One test: standard input and the expected standard output. Read from problem files,
/// never written to a client (hidden tests are of this type).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub input: String,
    pub output: String,
}

/// A solution that must not pass, and why it is wrong (off by one, too slow, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongSolution {
    pub language: Language,
    pub why: String,
    pub source: String,
}

/// A problem of the bank, validated (see `bank.rs` for the rules).
///
/// It is deliberately not `Serialize`: it holds the hidden tests and the solutions. What
/// goes to a client is [`Problem::public`].
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The file's stem: `[a-z0-9-]+`.
    pub id: String,
    pub title: String,
    pub difficulty: Difficulty,
    /// Markdown.
    pub statement: String,
    pub limits: Limits,
    pub comparator: Comparator,
    /// At least one.
    pub examples: Vec<Example>,
    /// The hidden tests: at least eight. Never sent to a client.
    pub tests: Vec<TestCase>,
    /// Starter code for every language of the bank.
    pub starter: BTreeMap<Language, String>,
    /// Reference solutions, in at least two languages; each must pass every test.
    pub reference: BTreeMap<Language, String>,
    /// At least one; none may pass.
    pub wrong: Vec<WrongSolution>,
}

impl Problem {
    /// The view for clients: statement, examples, limits, comparator and starter code;
    /// no hidden tests and no solutions.
    pub fn public(&self) -> PublicProblem {
        PublicProblem {
            id: self.id.clone(),
            title: self.title.clone(),
            difficulty: self.difficulty,
            statement: self.statement.clone(),
            examples: self.examples.clone(),
            limits: self.limits,
            comparator: self.comparator,
            starter: self.starter.clone(),
        }
    }

    /// Every test a submission is judged on, in order: the examples first, then the
    /// hidden tests (so a failure on test 1 or 2 is one the player can see).
    pub fn all_tests(&self) -> Vec<TestCase> {
        self.examples
            .iter()
            .map(|e| TestCase {
                input: e.input.clone(),
                output: e.output.clone(),
            })
            .chain(self.tests.iter().cloned())
            .collect()
    }
}

/// What a client may see of a problem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicProblem {
    pub id: String,
    pub title: String,
    pub difficulty: Difficulty,
    pub statement: String,
    pub examples: Vec<Example>,
    pub limits: Limits,
    pub comparator: Comparator,
    pub starter: BTreeMap<Language, String>,
}
