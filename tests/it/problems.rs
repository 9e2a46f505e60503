//! The problem bank end to end: `arena problems list` and `check` on the real bank (every
//! reference passes every test, every wrong solution fails), a bank whose reference is
//! wrong or whose file is broken is refused, and the host runner's verdicts with the real
//! python3, node, gcc and g++.

use std::path::Path;
use std::process::Command;

use arena::services::problems::{Bank, Comparator, Language, Limits, TestCase};
use arena::tools::problems::{HostRunner, Runner, Submission, Verdict};

/// Runs `arena problems <args>`: (exit ok, stdout, stderr).
fn problems(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("problems")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The table's rows for `problem`, as (solution, line).
fn rows<'a>(table: &'a str, problem: &str) -> Vec<&'a str> {
    table
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(problem))
        .collect()
}

/// A temp dir holding `problems/a-plus-b.toml` with `edit` applied.
fn bank_with_a_plus_b(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("problems/a-plus-b.toml"),
    )
    .unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit changed nothing");
    std::fs::write(dir.path().join("a-plus-b.toml"), edited).unwrap();
    dir
}

// A loaded machine stretches wall time (the host runner's clock); the wrong solutions
// that must time out are far beyond any of these limits.
const TIME_SCALE: &str = "3";

#[test]
fn check_passes_every_reference_and_fails_every_wrong_solution() {
    // Through the judge (the default runner), taking turns with the other tests that run
    // sandboxes. Two at a time: the whole bank is ~20 s of CPU.
    let _turn = crate::judge::turn_blocking();
    let (ok, out, err) = problems(&["check", "--time-scale", TIME_SCALE, "--jobs", "2"]);
    assert!(ok, "{out}\n{err}");
    let bank = Bank::embedded().unwrap();
    assert!(bank.list().len() >= 12);
    for p in bank.list() {
        let rows = rows(&out, &p.id);
        assert_eq!(
            rows.len(),
            p.reference.len() + p.wrong.len(),
            "{}\n{out}",
            p.id
        );
        for row in rows {
            let cols: Vec<&str> = row.split_whitespace().collect();
            assert!(row.contains(" ok"), "{row}");
            match cols[1] {
                "reference" => {
                    let n = p.examples.len() + p.tests.len();
                    assert_eq!(cols[4], "AC", "{row}");
                    assert_eq!(cols[5], format!("{n}/{n}"), "{row}");
                }
                "wrong" => assert!(cols[4] != "AC" && row.contains(" on test "), "{row}"),
                other => panic!("unexpected solution kind {other}: {row}"),
            }
        }
    }
    let runs: usize = bank
        .list()
        .iter()
        .map(|p| p.reference.len() + p.wrong.len())
        .sum();
    assert!(
        out.contains(&format!("{runs} runs: {runs} as expected, 0 not")),
        "{out}"
    );
}

#[test]
fn a_failing_reference_or_a_passing_wrong_solution_fails_the_check() {
    // The Python reference subtracts; the JavaScript wrong solution is fixed with BigInt.
    let dir = bank_with_a_plus_b(|t| {
        t.replacen("print(a + b)", "print(a - b)", 1)
            .replace(".map(Number);", ".map(BigInt);")
    });
    let dir_arg = dir.path().to_str().unwrap();
    // The unsandboxed host runner (`--host`): the same check, for machines without the
    // judge's layers.
    let (ok, out, err) = problems(&[
        "check",
        "--host",
        "--dir",
        dir_arg,
        "--time-scale",
        TIME_SCALE,
    ]);
    assert!(!ok, "{out}\n{err}");
    let python = out
        .lines()
        .find(|l| l.contains("reference python"))
        .unwrap();
    assert!(
        python.contains("WA on test 1/12") && python.contains("FAILED"),
        "{python}"
    );
    assert!(python.contains("expected '3', got '-1'"), "{python}");
    let js = out
        .lines()
        .find(|l| l.contains("wrong javascript"))
        .unwrap();
    assert!(
        js.contains("AC 12/12") && js.contains("FAILED") && js.contains("passed, but:"),
        "{js}"
    );
    assert!(out.contains("6 runs: 4 as expected, 2 not"), "{out}");
    assert!(
        err.contains("2 solution(s) did not do what they must"),
        "{err}"
    );
}

#[test]
fn a_broken_bank_is_refused_naming_the_file_and_the_field() {
    let dir = bank_with_a_plus_b(|t| t.replace("time_limit_ms = 1000", "time_limit_ms = 0"));
    let dir_arg = dir.path().to_str().unwrap();
    for cmd in ["check", "list"] {
        let (ok, out, err) = problems(&[cmd, "--dir", dir_arg]);
        assert!(!ok, "{out}");
        assert!(
            err.contains("a-plus-b.toml: time_limit_ms: must be between 100 and 10000 (got 0)"),
            "{err}"
        );
    }
    let dir = bank_with_a_plus_b(|t| t.replace("[[examples]]", "[[example]]"));
    let (ok, _, err) = problems(&["check", "--dir", dir.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("a-plus-b.toml: line ") && err.contains("unknown field `example`"),
        "{err}"
    );
}

#[test]
fn list_shows_every_problem_and_check_takes_one_id() {
    let (ok, out, err) = problems(&["list"]);
    assert!(ok, "{err}");
    let line = out.lines().find(|l| l.starts_with("a-plus-b ")).unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[..5], ["a-plus-b", "easy", "2", "+", "10"], "{line}");
    assert!(line.ends_with("A plus B"), "{line}");
    assert!(out.contains("12 problems"), "{out}");

    let turn = crate::judge::turn_blocking();
    let (ok, out, err) = problems(&["check", "--id", "a-plus-b", "--time-scale", TIME_SCALE]);
    drop(turn);
    assert!(ok, "{out}\n{err}");
    assert_eq!(rows(&out, "a-plus-b").len(), 6, "{out}");
    assert!(out.contains("6 runs: 6 as expected, 0 not"), "{out}");

    let (ok, _, err) = problems(&["check", "--id", "no-such-problem"]);
    assert!(!ok);
    assert!(
        err.contains("no problem 'no-such-problem' in the bank"),
        "{err}"
    );
}

fn tests(pairs: &[(&str, &str)]) -> Vec<TestCase> {
    pairs
        .iter()
        .map(|(i, o)| TestCase {
            input: (*i).into(),
            output: (*o).into(),
        })
        .collect()
}

async fn run(language: Language, source: &str, cases: &[TestCase]) -> Vec<(Verdict, String)> {
    let s = Submission {
        language,
        source,
        tests: cases,
        limits: Limits {
            time_ms: 3000,
            memory_mb: 64,
        },
        comparator: Comparator::Whitespace,
    };
    HostRunner::new()
        .run(&s)
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.verdict, o.detail))
        .collect()
}

#[tokio::test]
async fn the_host_runner_tells_each_verdict_and_stops_at_the_first_failure() {
    let cases = tests(&[("1 2\n", "3\n"), ("2 2\n", "4\n"), ("5 5\n", "10\n")]);
    let echo_sum = "a, b = map(int, input().split())\nprint(a + b if a != 2 else 0)\n";
    let got = run(Language::Python, echo_sum, &cases).await;
    assert_eq!(got.len(), 2, "stops after the first failure: {got:?}");
    assert_eq!(got[0].0, Verdict::Accepted);
    assert_eq!(
        got[1],
        (Verdict::WrongAnswer, "expected '4', got '0'".into())
    );

    let got = run(Language::Python, "while True:\n    pass\n", &cases).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, Verdict::TimeLimitExceeded);

    let got = run(Language::Python, "raise SystemExit(3)\n", &cases).await;
    assert_eq!(got[0].0, Verdict::RuntimeError);
    assert!(got[0].1.starts_with("exit code 3"), "{got:?}");

    let got = run(Language::Javascript, "null.x;\n", &cases).await;
    assert_eq!(got[0].0, Verdict::RuntimeError);
    assert!(got[0].1.contains("TypeError"), "{got:?}");

    let flood = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n";
    let got = run(Language::Python, flood, &cases).await;
    assert_eq!(got[0].0, Verdict::OutputLimitExceeded, "{got:?}");

    let got = run(Language::C, "int main(void) { return x; }\n", &cases).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, Verdict::CompileError);
    assert!(got[0].1.contains("main.c"), "{got:?}");

    let cpp = "#include <iostream>\nint main() { long long a, b; std::cin >> a >> b; std::cout << a + b; }\n";
    let got = run(Language::Cpp, cpp, &cases).await;
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        [Verdict::Accepted; 3]
    );

    let segv = "int main(void) { volatile int *p = 0; return *p; }\n";
    let got = run(Language::C, segv, &cases).await;
    assert_eq!(
        got[0],
        (Verdict::RuntimeError, "killed by signal 11: ".into())
    );
}
