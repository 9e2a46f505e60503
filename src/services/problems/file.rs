//! The shape of a problem file as written, before validation (`bank.rs` turns it into a
//! `Problem`). Unknown fields are refused so a typo (`tset`) is not silently ignored;
//! the top-level fields are optional here so a missing one gets the bank's own message.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::problem::{Example, TestCase};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemFile {
    pub id: Option<String>,
    pub title: Option<String>,
    pub difficulty: Option<String>,
    pub statement: Option<String>,
    pub time_limit_ms: Option<i64>,
    pub memory_limit_mb: Option<i64>,
    pub comparator: Option<ComparatorFile>,
    #[serde(default)]
    pub examples: Vec<Example>,
    #[serde(default)]
    pub tests: Vec<TestCase>,
    /// Language key -> code; the keys are checked against `Language`.
    #[serde(default)]
    pub starter: BTreeMap<String, String>,
    #[serde(default)]
    pub reference: BTreeMap<String, String>,
    #[serde(default)]
    pub wrong: Vec<WrongFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparatorFile {
    pub kind: String,
    pub tolerance: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrongFile {
    pub language: String,
    pub why: String,
    pub source: String,
}
