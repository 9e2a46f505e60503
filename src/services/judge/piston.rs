//! Piston's wire shapes (`POST /api/v2/execute`, `GET /api/v2/runtimes`), shared by the
//! judge's Piston-compatible routes and the client backend that talks to a real Piston.

use serde::{Deserialize, Serialize};

/// One source file; the first is the one run (as Piston does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PistonFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// `POST /api/v2/execute`'s body. A limit of -1 (or none) is the judge's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "language": "python",
    "version": "*",
    "files": [{"name": "main.py", "content": "print(input())"}],
    "stdin": "hello\n",
    "args": [],
    "run_timeout": 3000,
    "run_memory_limit": -1
}))]
pub struct ExecuteRequest {
    /// A language or one of its aliases (`GET /api/v2/runtimes`).
    pub language: String,
    /// A prefix of the runtime's version, or `*` for whatever this judge has.
    #[serde(default = "any_version")]
    #[schema(default = "*")]
    pub version: String,
    /// The first file is the one run.
    #[schema(min_items = 1)]
    pub files: Vec<PistonFile>,
    #[serde(default)]
    pub stdin: String,
    #[serde(default)]
    #[schema(max_items = 64)]
    pub args: Vec<String>,
    /// Not used: a compile step has the judge's own bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compile_timeout: Option<i64>,
    /// CPU and wall time of the run, ms: -1 (or 0, or absent) for 3000, else 50..=20000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 20_000)]
    pub run_timeout: Option<i64>,
    /// Not used: a compile step has the judge's own bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compile_memory_limit: Option<i64>,
    /// Memory of the run, bytes: -1 (or 0, or absent) for the judge's default, else
    /// 16 MiB..=2 GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 2_147_483_648_i64)]
    pub run_memory_limit: Option<i64>,
}

fn any_version() -> String {
    "*".into()
}

/// One stage's outcome (`run`, `compile`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stage {
    pub stdout: String,
    pub stderr: String,
    /// Exit code; null when a signal ended it.
    pub code: Option<i32>,
    /// Signal name (`SIGKILL`); null when it exited.
    pub signal: Option<String>,
    /// stdout then stderr.
    pub output: String,
}

/// `POST /api/v2/execute`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExecuteResponse {
    pub language: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compile: Option<Stage>,
    /// Absent when compilation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Stage>,
}

/// One entry of `GET /api/v2/runtimes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Runtime {
    pub language: String,
    pub version: String,
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
}

/// Piston's error body (`{"message": "..."}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PistonError {
    pub message: String,
}

/// The name of signal `n` as Piston writes it (`SIGKILL`).
pub fn signal_name(n: i32) -> String {
    nix::sys::signal::Signal::try_from(n)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("SIG{n}"))
}

/// The number of a signal name (`SIGKILL` -> 9).
pub fn signal_number(name: &str) -> Option<i32> {
    name.parse::<nix::sys::signal::Signal>()
        .ok()
        .map(|s| s as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request and response of Piston's README (v2 API), verbatim in shape.
    #[test]
    fn pistons_documented_examples_round_trip() {
        let req = r#"{
            "language": "js",
            "version": "15.10.0",
            "files": [{"name": "my_cool_code.js", "content": "console.log(process.argv)"}],
            "stdin": "",
            "args": ["1", "2", "3"],
            "compile_timeout": 10000,
            "run_timeout": 3000,
            "compile_memory_limit": -1,
            "run_memory_limit": -1
        }"#;
        let parsed: ExecuteRequest = serde_json::from_str(req).unwrap();
        assert_eq!(parsed.args, ["1", "2", "3"]);
        let again: serde_json::Value = serde_json::to_value(&parsed).unwrap();
        assert_eq!(
            again,
            serde_json::from_str::<serde_json::Value>(req).unwrap()
        );

        let resp = r#"{
            "language": "js",
            "version": "15.10.0",
            "run": {
                "stdout": "[\n  '/piston/packages/node/15.10.0/bin/node',\n  '/piston/jobs/e87afa0d-6c2a-40b8-a824-ffb9c5c6cb64/my_cool_code.js',\n  '1',\n  '2',\n  '3'\n]\n",
                "stderr": "",
                "code": 0,
                "signal": null,
                "output": "[\n  '/piston/packages/node/15.10.0/bin/node',\n  '/piston/jobs/e87afa0d-6c2a-40b8-a824-ffb9c5c6cb64/my_cool_code.js',\n  '1',\n  '2',\n  '3'\n]\n"
            }
        }"#;
        let parsed: ExecuteResponse = serde_json::from_str(resp).unwrap();
        assert_eq!(parsed.run.as_ref().unwrap().code, Some(0));
        let again: serde_json::Value = serde_json::to_value(&parsed).unwrap();
        assert_eq!(
            again,
            serde_json::from_str::<serde_json::Value>(resp).unwrap()
        );

        let runtimes = r#"[{"language": "bash", "version": "5.1.0", "aliases": ["sh"]}]"#;
        let parsed: Vec<Runtime> = serde_json::from_str(runtimes).unwrap();
        assert_eq!(parsed[0].aliases, ["sh"]);
    }

    #[test]
    fn signals_have_pistons_names() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_number("SIGSEGV"), Some(11));
        assert_eq!(signal_number("nope"), None);
    }
}
