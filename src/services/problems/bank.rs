//! Loading the bank and the rules every problem file must follow.
//!
//! The rules, each refused with a message naming the file and the field:
//! - `id` is the file's stem, made of `[a-z0-9-]`, and unique;
//! - `title` (one line, at most 80 characters), `difficulty` (easy, medium, hard) and a
//!   non-empty Markdown `statement` are present;
//! - `time_limit_ms` in 100..=10000 and `memory_limit_mb` in 16..=1024;
//! - `comparator` is `{kind = "exact" | "whitespace" | "float"}` (whitespace when
//!   absent), and only `float` takes a `tolerance`, in (0, 0.1];
//! - at least one example and eight hidden tests; every input is empty or ends with a
//!   newline, and no input or output passes 2 MiB;
//! - starter code for every language, reference solutions in at least two, at least one
//!   wrong solution with the reason it is wrong; every language key is known.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::comparator::Comparator;
use super::embedded::FILES;
use super::error::{BankError, invalid};
use super::file::{ComparatorFile, ProblemFile};
use super::language::Language;
use super::problem::{Difficulty, Limits, Problem, WrongSolution};

pub const TIME_LIMIT_MS: (i64, i64) = (100, 10_000);
pub const MEMORY_LIMIT_MB: (i64, i64) = (16, 1024);
pub const MIN_EXAMPLES: usize = 1;
pub const MIN_TESTS: usize = 8;
pub const MIN_REFERENCES: usize = 2;
pub const MAX_TITLE_CHARS: usize = 80;
pub const MAX_TEST_BYTES: usize = 2 << 20;
pub const MAX_TOLERANCE: f64 = 0.1;

/// The validated problems, sorted by id.
#[derive(Debug, Clone)]
pub struct Bank {
    problems: Vec<Problem>,
    by_id: HashMap<String, usize>,
}

impl Bank {
    /// The bank compiled into this binary (`problems/*.toml` at build time).
    pub fn embedded() -> Result<Bank, BankError> {
        let files: Vec<(String, &str)> = FILES
            .iter()
            .map(|(name, text)| (format!("problems/{name}"), *text))
            .collect();
        Bank::from_files(files.iter().map(|(n, t)| (n.as_str(), *t)))
    }

    /// The `*.toml` files of `dir` (for authors checking a change without a rebuild).
    pub fn from_dir(dir: &Path) -> Result<Bank, BankError> {
        let read_err = |e: std::io::Error| BankError::Read {
            path: dir.display().to_string(),
            message: e.to_string(),
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_err)? {
            let path = entry.map_err(read_err)?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| BankError::Read {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            files.push((path.display().to_string(), text));
        }
        Bank::from_files(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
    }

    /// Parses and validates `(file name, contents)` pairs; the first file at fault
    /// refuses the whole bank.
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Bank, BankError> {
        let mut problems = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        for (file, text) in files {
            let p = parse_problem(file, text)?;
            if let Some(other) = seen.insert(p.id.clone(), file.to_string()) {
                return Err(invalid(
                    file,
                    "id",
                    format!("'{}' is also the id of {other}", p.id),
                ));
            }
            problems.push(p);
        }
        if problems.is_empty() {
            return Err(BankError::Empty);
        }
        problems.sort_by(|a, b| a.id.cmp(&b.id));
        let by_id = problems
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        Ok(Bank { problems, by_id })
    }

    /// The problem `id`, if the bank has it.
    pub fn get(&self, id: &str) -> Option<&Problem> {
        self.by_id.get(id).and_then(|&i| self.problems.get(i))
    }

    /// Every problem, sorted by id.
    pub fn list(&self) -> &[Problem] {
        &self.problems
    }

    /// The problems of one difficulty, sorted by id.
    pub fn by_difficulty(&self, d: Difficulty) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(move |p| p.difficulty == d)
    }
}

/// One file: TOML into [`ProblemFile`], then the rules into a [`Problem`].
pub fn parse_problem(file: &str, text: &str) -> Result<Problem, BankError> {
    let raw: ProblemFile = toml::from_str(text).map_err(|e| BankError::Parse {
        file: file.to_string(),
        message: parse_message(text, &e),
    })?;

    let stem = Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let id = required(file, "id", raw.id)?;
    if !is_id(&id) {
        return Err(invalid(
            file,
            "id",
            format!("'{id}' must be made of a-z, 0-9 and '-'"),
        ));
    }
    if id != stem {
        return Err(invalid(
            file,
            "id",
            format!("'{id}' must equal the file name's stem '{stem}'"),
        ));
    }

    let title = required(file, "title", raw.title)?;
    if title.trim().is_empty() || title.contains('\n') || title.chars().count() > MAX_TITLE_CHARS {
        return Err(invalid(
            file,
            "title",
            format!("must be one non-empty line of at most {MAX_TITLE_CHARS} characters"),
        ));
    }
    let difficulty = required(file, "difficulty", raw.difficulty)?;
    let difficulty = Difficulty::parse(&difficulty).ok_or_else(|| {
        invalid(
            file,
            "difficulty",
            format!("'{difficulty}' is not one of easy, medium, hard"),
        )
    })?;
    let statement = required(file, "statement", raw.statement)?;
    if statement.trim().is_empty() {
        return Err(invalid(file, "statement", "is empty"));
    }

    let limits = Limits {
        time_ms: in_range(
            file,
            "time_limit_ms",
            required(file, "time_limit_ms", raw.time_limit_ms)?,
            TIME_LIMIT_MS,
        )?,
        memory_mb: in_range(
            file,
            "memory_limit_mb",
            required(file, "memory_limit_mb", raw.memory_limit_mb)?,
            MEMORY_LIMIT_MB,
        )?,
    };
    let comparator = match raw.comparator {
        None => Comparator::default(),
        Some(c) => comparator(file, c)?,
    };

    if raw.examples.len() < MIN_EXAMPLES {
        return Err(invalid(
            file,
            "examples",
            format!("needs at least {MIN_EXAMPLES} example"),
        ));
    }
    if raw.tests.len() < MIN_TESTS {
        return Err(invalid(
            file,
            "tests",
            format!(
                "needs at least {MIN_TESTS} hidden tests (has {})",
                raw.tests.len()
            ),
        ));
    }
    let (examples, tests) = (raw.examples, raw.tests);
    for (i, e) in examples.iter().enumerate() {
        check_io(file, &format!("examples[{i}]"), &e.input, &e.output)?;
    }
    for (i, t) in tests.iter().enumerate() {
        check_io(file, &format!("tests[{i}]"), &t.input, &t.output)?;
    }

    let starter = sources(file, "starter", raw.starter)?;
    if let Some(missing) = Language::ALL.iter().find(|l| !starter.contains_key(l)) {
        return Err(invalid(
            file,
            format!("starter.{missing}"),
            "missing (every language needs starter code)",
        ));
    }
    let reference = sources(file, "reference", raw.reference)?;
    if reference.len() < MIN_REFERENCES {
        return Err(invalid(
            file,
            "reference",
            format!(
                "needs solutions in at least {MIN_REFERENCES} languages (has {})",
                reference.len()
            ),
        ));
    }
    if raw.wrong.is_empty() {
        return Err(invalid(
            file,
            "wrong",
            "needs at least one deliberately wrong solution",
        ));
    }
    let mut wrong = Vec::with_capacity(raw.wrong.len());
    for (i, w) in raw.wrong.into_iter().enumerate() {
        let language = language(file, &format!("wrong[{i}].language"), &w.language)?;
        if w.why.trim().is_empty() {
            return Err(invalid(
                file,
                format!("wrong[{i}].why"),
                "must say why the solution is wrong",
            ));
        }
        if w.source.trim().is_empty() {
            return Err(invalid(file, format!("wrong[{i}].source"), "is empty"));
        }
        wrong.push(WrongSolution {
            language,
            why: w.why,
            source: w.source,
        });
    }

    Ok(Problem {
        id,
        title,
        difficulty,
        statement,
        limits,
        comparator,
        examples,
        tests,
        starter,
        reference,
        wrong,
    })
}

/// `[a-z0-9-]+`, not starting or ending with `-`.
fn is_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn required<T>(file: &str, field: &str, value: Option<T>) -> Result<T, BankError> {
    value.ok_or_else(|| invalid(file, field, "missing"))
}

fn in_range(file: &str, field: &str, value: i64, (lo, hi): (i64, i64)) -> Result<u32, BankError> {
    if value < lo || value > hi {
        return Err(invalid(
            file,
            field,
            format!("must be between {lo} and {hi} (got {value})"),
        ));
    }
    u32::try_from(value).map_err(|_| invalid(file, field, format!("{value} does not fit")))
}

fn comparator(file: &str, c: ComparatorFile) -> Result<Comparator, BankError> {
    let kind = match c.kind.as_str() {
        "exact" => Comparator::Exact,
        "whitespace" => Comparator::Whitespace,
        "float" => {
            let tolerance = c.tolerance.ok_or_else(|| {
                invalid(file, "comparator.tolerance", "missing (float needs one)")
            })?;
            if !(tolerance > 0.0 && tolerance <= MAX_TOLERANCE) {
                return Err(invalid(
                    file,
                    "comparator.tolerance",
                    format!("must be above 0 and at most {MAX_TOLERANCE} (got {tolerance})"),
                ));
            }
            return Ok(Comparator::Float { tolerance });
        }
        other => {
            return Err(invalid(
                file,
                "comparator.kind",
                format!("'{other}' is not one of {}", Comparator::KINDS),
            ));
        }
    };
    if c.tolerance.is_some() {
        return Err(invalid(
            file,
            "comparator.tolerance",
            format!("only a float comparator takes one (kind is '{}')", c.kind),
        ));
    }
    Ok(kind)
}

fn check_io(file: &str, field: &str, input: &str, output: &str) -> Result<(), BankError> {
    if !input.is_empty() && !input.ends_with('\n') {
        return Err(invalid(
            file,
            format!("{field}.input"),
            "must be empty or end with a newline",
        ));
    }
    for (part, text) in [("input", input), ("output", output)] {
        if text.len() > MAX_TEST_BYTES {
            return Err(invalid(
                file,
                format!("{field}.{part}"),
                format!("is {} bytes; at most {MAX_TEST_BYTES}", text.len()),
            ));
        }
    }
    Ok(())
}

fn language(file: &str, field: &str, key: &str) -> Result<Language, BankError> {
    Language::parse(key).ok_or_else(|| {
        invalid(
            file,
            field,
            format!(
                "unknown language '{key}' (known: {})",
                Language::known_keys()
            ),
        )
    })
}

/// A `language -> source` table with every key known and no source empty.
fn sources(
    file: &str,
    field: &str,
    raw: BTreeMap<String, String>,
) -> Result<BTreeMap<Language, String>, BankError> {
    let mut out = BTreeMap::new();
    for (key, source) in raw {
        let l = language(file, &format!("{field}.{key}"), &key)?;
        if source.trim().is_empty() {
            return Err(invalid(file, format!("{field}.{key}"), "is empty"));
        }
        out.insert(l, source);
    }
    Ok(out)
}

/// toml's message on one line, with the line number its span starts on.
fn parse_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text
                .get(..span.start)
                .map_or(0, |t| t.matches('\n').count())
                + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid problem file; each test breaks one thing in it.
    fn valid() -> String {
        let mut s = String::from(
            r##"id = "add"
title = "Add"
difficulty = "easy"
time_limit_ms = 1000
memory_limit_mb = 64
statement = """
Print the sum of two integers.
"""

[[examples]]
input = "1 2\n"
output = "3\n"
explanation = "1 + 2 = 3"

[starter]
python = "print()\n"
javascript = "console.log()\n"
c = "int main(void) { return 0; }\n"
cpp = "int main() { return 0; }\n"

[reference]
python = "print(sum(map(int, input().split())))\n"
c = "#include <stdio.h>\nint main(void) { long long a, b; scanf(\"%lld %lld\", &a, &b); printf(\"%lld\\n\", a + b); }\n"

[[wrong]]
language = "python"
why = "subtracts"
source = "a, b = map(int, input().split())\nprint(a - b)\n"
"##,
        );
        for i in 0..8 {
            s.push_str(&format!(
                "\n[[tests]]\ninput = \"{i} {i}\\n\"\noutput = \"{}\\n\"\n",
                2 * i
            ));
        }
        s
    }

    fn refused(text: &str) -> String {
        match parse_problem("problems/add.toml", text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_valid_file_loads() {
        let p = parse_problem("problems/add.toml", &valid()).unwrap();
        assert_eq!(p.id, "add");
        assert_eq!(p.difficulty, Difficulty::Easy);
        assert_eq!(
            p.limits,
            Limits {
                time_ms: 1000,
                memory_mb: 64
            }
        );
        assert_eq!(p.comparator, Comparator::Whitespace);
        assert_eq!(p.examples.len(), 1);
        assert_eq!(p.tests.len(), 8);
        assert_eq!(p.all_tests().len(), 9);
        assert_eq!(p.all_tests()[0].input, "1 2\n");
        assert_eq!(
            p.reference.keys().copied().collect::<Vec<_>>(),
            [Language::Python, Language::C]
        );
        assert_eq!(p.wrong[0].language, Language::Python);
    }

    #[test]
    fn broken_files_are_refused_naming_file_and_field() {
        let v = valid();
        let cases: Vec<(String, &str)> = vec![
            (v.replace("id = \"add\"", "id = \"sub\""), "problems/add.toml: id: 'sub' must equal the file name's stem 'add'"),
            (v.replace("id = \"add\"\n", ""), "problems/add.toml: id: missing"),
            (v.replace("title = \"Add\"\n", ""), "problems/add.toml: title: missing"),
            (v.replace("title = \"Add\"", "title = \"\""), "problems/add.toml: title: must be one"),
            (v.replace("\"easy\"", "\"trivial\""), "problems/add.toml: difficulty: 'trivial' is not one of easy, medium, hard"),
            (v.replace("time_limit_ms = 1000", "time_limit_ms = 50"), "problems/add.toml: time_limit_ms: must be between 100 and 10000 (got 50)"),
            (v.replace("time_limit_ms = 1000", "time_limit_ms = 60000"), "time_limit_ms: must be between"),
            (v.replace("memory_limit_mb = 64", "memory_limit_mb = -1"), "problems/add.toml: memory_limit_mb: must be between 16 and 1024 (got -1)"),
            (v.replace("memory_limit_mb = 64\n", ""), "problems/add.toml: memory_limit_mb: missing"),
            (v.replace("\n[[tests]]\ninput = \"7 7\\n\"\noutput = \"14\\n\"\n", ""), "problems/add.toml: tests: needs at least 8 hidden tests (has 7)"),
            (v.replace("[[examples]]\ninput = \"1 2\\n\"\noutput = \"3\\n\"\nexplanation = \"1 + 2 = 3\"\n", ""), "problems/add.toml: examples: needs at least 1"),
            (v.replace("javascript = \"console.log()\\n\"\n", ""), "problems/add.toml: starter.javascript: missing"),
            (v.replace("cpp = \"int main", "rust = \"int main"), "problems/add.toml: starter.rust: unknown language 'rust' (known: python, javascript, c, cpp)"),
            (v.replace("language = \"python\"", "language = \"cobol\""), "problems/add.toml: wrong[0].language: unknown language 'cobol'"),
            (v.replace("why = \"subtracts\"", "why = \"\""), "problems/add.toml: wrong[0].why: must say why"),
            (v.replace("[[wrong]]", "[[notwrong]]"), "unknown field `notwrong`"),
            (v.replace("\nc = \"#include", "\n# c = \"#include"), "problems/add.toml: reference: needs solutions in at least 2 languages (has 1)"),
            (v.replace("input = \"3 3\\n\"", "input = \"3 3\""), "problems/add.toml: tests[3].input: must be empty or end with a newline"),
            (v.replace("statement = \"\"\"\nPrint the sum of two integers.\n\"\"\"", "statement = \"  \""), "problems/add.toml: statement: is empty"),
            (v.replace("difficulty = \"easy\"", "difficulty = \"easy\"\ncomparator = { kind = \"fuzzy\" }"), "problems/add.toml: comparator.kind: 'fuzzy' is not one of exact, whitespace, float"),
            (v.replace("difficulty = \"easy\"", "difficulty = \"easy\"\ncomparator = { kind = \"float\" }"), "problems/add.toml: comparator.tolerance: missing"),
            (v.replace("difficulty = \"easy\"", "difficulty = \"easy\"\ncomparator = { kind = \"float\", tolerance = 0.0 }"), "comparator.tolerance: must be above 0"),
            (v.replace("difficulty = \"easy\"", "difficulty = \"easy\"\ncomparator = { kind = \"exact\", tolerance = 0.1 }"), "comparator.tolerance: only a float comparator takes one"),
            (v.replace("difficulty = \"easy\"", "difficulty = \"easy\"\ndificulty = \"easy\""), "problems/add.toml: line 4: unknown field `dificulty`"),
            (v.replace("time_limit_ms = 1000", "time_limit_ms = \"fast\""), "problems/add.toml: line 4: invalid type"),
            (v.replace("title = \"Add\"", "title = \"Add"), "problems/add.toml: line 2:"),
        ];
        for (text, want) in cases {
            let got = refused(&text);
            assert!(got.contains(want), "want {want:?}\ngot  {got:?}");
        }
    }

    #[test]
    fn ids_must_be_lowercase_words_matching_the_file() {
        let v = valid();
        let got = refused(&v.replace("id = \"add\"", "id = \"Add_1\""));
        assert_eq!(
            got,
            "problems/add.toml: id: 'Add_1' must be made of a-z, 0-9 and '-'"
        );
        assert!(is_id("a-plus-b") && is_id("lis2"));
        assert!(!is_id("") && !is_id("-a") && !is_id("a-") && !is_id("a b") && !is_id("é"));
        let renamed = v.replace("id = \"add\"", "id = \"sum\"");
        let err =
            Bank::from_files([("a/add.toml", v.as_str()), ("b/add.toml", v.as_str())]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "b/add.toml: id: 'add' is also the id of a/add.toml"
        );
        let bank = Bank::from_files([("x/sum.toml", renamed.as_str()), ("x/add.toml", v.as_str())])
            .unwrap();
        assert_eq!(
            bank.list()
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>(),
            ["add", "sum"]
        );
        assert_eq!(Bank::from_files([]).unwrap_err(), BankError::Empty);
    }

    #[test]
    fn the_public_view_has_no_hidden_tests_or_solutions() {
        let p = parse_problem("problems/add.toml", &valid()).unwrap();
        let json = serde_json::to_value(p.public()).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "comparator",
                "difficulty",
                "examples",
                "id",
                "limits",
                "starter",
                "statement",
                "title"
            ]
        );
        let text = json.to_string();
        // The hidden tests' inputs ("7 7") and the solutions never appear.
        assert!(!text.contains("7 7"), "{text}");
        assert!(
            !text.contains("subtracts") && !text.contains("scanf"),
            "{text}"
        );
        assert_eq!(
            json["limits"],
            serde_json::json!({"timeMs": 1000, "memoryMb": 64})
        );
        assert_eq!(
            json["comparator"],
            serde_json::json!({"kind": "whitespace"})
        );
        assert_eq!(json["starter"]["cpp"], "int main() { return 0; }\n");
    }

    #[test]
    fn the_embedded_bank_is_valid_and_spread_over_difficulties() {
        let bank = Bank::embedded().unwrap();
        assert!(bank.list().len() >= 12, "{}", bank.list().len());
        let p = bank.get("a-plus-b").unwrap();
        assert_eq!(p.id, "a-plus-b");
        assert!(bank.get("no-such-problem").is_none());
        for d in Difficulty::ALL {
            assert!(bank.by_difficulty(d).count() >= 3, "{d}");
            assert!(bank.by_difficulty(d).all(|p| p.difficulty == d));
        }
        let total: usize = Difficulty::ALL
            .iter()
            .map(|&d| bank.by_difficulty(d).count())
            .sum();
        assert_eq!(total, bank.list().len());
    }
}
