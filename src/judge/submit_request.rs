//! The body of `POST /api/judge/submissions`: either a submission that carries its own
//! `tests` (and optionally `limits`, `comparator`, `args`), or a program for a problem of
//! the bank (`problemId`), judged on the problem's tests (examples first, then the hidden
//! ones) under its limits and comparator, exactly as a battle judges it
//! (`services::problems::submission::to_judge`). The hidden tests never leave the judge:
//! the report has verdicts, times and the program's own output, as for any submission.

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::base::error::echo;
use crate::services::judge::Submission;
use crate::services::problems::submission::to_judge;
use crate::services::problems::{Bank, Language};

/// Why a request body is refused; each maps to one HTTP status and error code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    /// 400 `bad_request`.
    #[error("{0}")]
    BadRequest(String),
    /// 400 `unknown_language`.
    #[error("{0}")]
    UnknownLanguage(String),
    /// 404 `not_found`.
    #[error("no problem {0:?} in the bank")]
    UnknownProblem(String),
}

/// A program for a problem of the bank. Nothing else is accepted: the problem decides
/// the tests, the limits and the comparator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "problemId": "a-plus-b",
    "language": "python",
    "source": "a, b = map(int, input().split())\nprint(a + b)\n"
}))]
pub struct ProblemRequest {
    /// A problem of the bank (`GET /api/problems` on an instance).
    problem_id: String,
    /// A language of the bank's (python, c, cpp, javascript) or one of its aliases.
    language: String,
    source: String,
}

/// The body, as the OpenAPI document describes it: a submission with its own `tests`, or
/// a program for a problem of the bank. [`parse`] tells them apart by which of `tests`
/// and `problemId` is there, so each message names what is wrong; this type only gives
/// the document its `oneOf`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Described, never built: `parse` reads the body.
pub enum SubmitBody {
    Tests(Submission),
    Problem(ProblemRequest),
}

/// The submission `body` asks for. `canonical` maps a language name or alias to this
/// judge's name for it (`None`: the judge does not have it).
pub fn parse(
    body: Value,
    bank: &Bank,
    canonical: impl Fn(&str) -> Option<&'static str>,
) -> Result<Submission, RequestError> {
    let Value::Object(fields) = &body else {
        return Err(RequestError::BadRequest("the body is a JSON object".into()));
    };
    match (
        fields.contains_key("tests"),
        fields.contains_key("problemId"),
    ) {
        (true, true) => Err(RequestError::BadRequest(
            "send tests or a problemId, not both".into(),
        )),
        (false, false) => Err(RequestError::BadRequest(
            "send tests ([{stdin, expected}]) or a problemId".into(),
        )),
        (true, false) => {
            let sub: Submission = serde_json::from_value(body)
                .map_err(|e| RequestError::BadRequest(e.to_string()))?;
            if canonical(&sub.language).is_none() {
                return Err(unknown_language(&sub.language));
            }
            Ok(sub)
        }
        (false, true) => {
            for own in ["limits", "comparator", "args"] {
                if fields.contains_key(own) {
                    return Err(RequestError::BadRequest(format!(
                        "{own} is not accepted with a problemId: the problem sets it"
                    )));
                }
            }
            let req: ProblemRequest = serde_json::from_value(body)
                .map_err(|e| RequestError::BadRequest(e.to_string()))?;
            let name = canonical(&req.language).ok_or_else(|| unknown_language(&req.language))?;
            // The bank's languages are the ones battles offer; a judge may have more
            // (rust), but a problem is only promised to be solvable in these.
            let language = Language::parse(name).ok_or_else(|| {
                RequestError::UnknownLanguage(format!(
                    "a problem is judged in {} (not {name})",
                    Language::known_keys()
                ))
            })?;
            let problem = bank
                .get(&req.problem_id)
                .ok_or_else(|| RequestError::UnknownProblem(echo(&req.problem_id).into()))?;
            Ok(to_judge(
                language,
                &req.source,
                &problem.all_tests(),
                problem.limits,
                problem.comparator,
            ))
        }
    }
}

fn unknown_language(name: &str) -> RequestError {
    RequestError::UnknownLanguage(format!(
        "no language {:?} (see /api/v2/runtimes)",
        echo(name)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canonical(name: &str) -> Option<&'static str> {
        match name {
            "python" | "py" => Some("python"),
            "c" => Some("c"),
            "rust" => Some("rust"),
            _ => None,
        }
    }

    #[test]
    fn a_problem_id_takes_the_problems_tests_limits_and_comparator() {
        let bank = Bank::embedded().unwrap();
        let p = bank.get("a-plus-b").unwrap();
        let sub = parse(
            json!({"problemId": "a-plus-b", "language": "py", "source": "print(1)"}),
            &bank,
            canonical,
        )
        .unwrap();
        assert_eq!(sub.language, "python");
        assert_eq!(sub.tests.len(), p.all_tests().len());
        assert_eq!(sub.tests[0].stdin, p.examples[0].input);
        assert_eq!(sub.limits.cpu_ms, u64::from(p.limits.time_ms));
        assert_eq!(sub.limits.memory_bytes, u64::from(p.limits.memory_mb) << 20);
        assert!(sub.check().is_ok());
    }

    #[test]
    fn tests_and_problem_id_are_one_or_the_other() {
        let bank = Bank::embedded().unwrap();
        let bad = |v: Value| parse(v, &bank, canonical).unwrap_err();
        assert!(matches!(
            bad(json!({"problemId": "a-plus-b", "tests": [], "language": "c", "source": ""})),
            RequestError::BadRequest(m) if m.contains("not both")
        ));
        assert!(matches!(
            bad(json!({"language": "c", "source": ""})),
            RequestError::BadRequest(_)
        ));
        assert!(matches!(
            bad(json!({"problemId": "a-plus-b", "language": "c", "source": "", "limits": {}})),
            RequestError::BadRequest(m) if m.starts_with("limits")
        ));
        assert!(matches!(bad(json!([1])), RequestError::BadRequest(_)));
        assert!(matches!(
            bad(json!({"problemId": 7, "language": "c", "source": ""})),
            RequestError::BadRequest(_)
        ));
        assert_eq!(
            bad(json!({"problemId": "nope", "language": "c", "source": ""})),
            RequestError::UnknownProblem("nope".into())
        );
        assert!(matches!(
            bad(json!({"problemId": "a-plus-b", "language": "rust", "source": ""})),
            RequestError::UnknownLanguage(_)
        ));
        assert!(matches!(
            bad(json!({"tests": [{"stdin": ""}], "language": "cobol", "source": ""})),
            RequestError::UnknownLanguage(_)
        ));
        let own = parse(
            json!({"tests": [{"stdin": "", "expected": "1"}], "language": "rust", "source": ""}),
            &bank,
            canonical,
        )
        .unwrap();
        assert_eq!(own.tests.len(), 1);
    }
}
