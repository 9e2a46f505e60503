//! The languages this host can judge: where each toolchain is, how a program is
//! compiled and run inside the sandbox, and its version.
//!
//! Toolchains are looked up at fixed system paths, never through PATH: the sandbox
//! shows `/usr` only, so a shim elsewhere (pyenv, nvm) would not run inside it. Rust is
//! the exception: its sysroot (wherever rustup put it) is bound read-only at
//! `/opt/rust`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::sandbox::Bind;

/// Where the submission's folder appears inside the sandbox.
pub const BOX: &str = "/box";
/// Where the judge's precompiled header folder appears inside the sandbox.
pub const PCH: &str = "/pch";
/// Where a Rust sysroot appears inside the sandbox.
pub const RUST: &str = "/opt/rust";

/// One language.
#[derive(Debug, Clone)]
pub struct Language {
    /// Its name in submissions and in `/api/v2/runtimes`.
    pub name: &'static str,
    /// Other names accepted (Piston's aliases).
    pub aliases: &'static [&'static str],
    /// The toolchain's version, e.g. `3.11.2`.
    pub version: String,
    /// The source file's name in the box.
    pub file: &'static str,
    /// The compile command (run in the box, writable), if any.
    pub compile: Option<Vec<String>>,
    /// The run command (the box read-only).
    pub run: Vec<String>,
    /// Extra read-only folders it needs (the precompiled header, a sysroot).
    pub binds: Vec<Bind>,
    /// The compile step only checks the syntax (an interpreted language).
    pub syntax_check: bool,
    /// A remark for `--check`, e.g. "without a precompiled header".
    pub note: Option<String>,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The first of `paths` that is a file.
fn first(paths: &[&str]) -> Option<PathBuf> {
    paths.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// Run a trusted host tool (a compiler's `--version`) and return its stdout.
async fn host_output(program: &Path, args: &[&str]) -> Option<String> {
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new(program)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .ok()?
    .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The first token that starts with a digit, without a leading `v` (`v20.1.0` -> `20.1.0`).
fn version_in(text: &str) -> String {
    text.split_whitespace()
        .map(|t| t.trim_start_matches('v'))
        .find(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or("unknown")
        .to_string()
}

/// Which languages the host has, and why the others are missing.
#[derive(Debug, Clone, Default)]
pub struct Detected {
    pub languages: Vec<Language>,
    pub missing: Vec<(&'static str, String)>,
    /// The C++ header to precompile, when g++ is present.
    pub stdcpp_header: Option<PathBuf>,
}

/// The flags C++ submissions are compiled with; the precompiled header is built with
/// the same ones (GCC ignores a `.gch` made with different flags).
pub const CPP_FLAGS: [&str; 4] = ["-O2", "-std=gnu++17", "-pipe", "-w"];

/// Look for every toolchain. `pch_dir` is the judge's folder for the precompiled header
/// (bound at `/pch`); C++ uses it when `pch_ready`.
pub async fn detect(pch_dir: &Path, pch_ready: bool) -> Detected {
    let mut d = Detected::default();
    let bx = |f: &str| format!("{BOX}/{f}");

    match first(&["/usr/bin/python3", "/usr/local/bin/python3"]) {
        Some(py) => {
            let v = host_output(&py, &["--version"]).await.unwrap_or_default();
            d.languages.push(Language {
                name: "python",
                aliases: &["py", "python3", "py3"],
                version: version_in(&v),
                file: "main.py",
                // A syntax check as the compile step, so a syntax error is CE (as in
                // DMOJ), not a runtime error on every test. Nothing is written.
                compile: Some(vec![
                    py.to_string_lossy().into_owned(),
                    "-I".into(),
                    "-B".into(),
                    "-S".into(),
                    "-c".into(),
                    "import sys; compile(open(sys.argv[1], 'rb').read(), 'main.py', 'exec')".into(),
                    bx("main.py"),
                ]),
                // -I: no user site, no env vars; -B: no .pyc writes; -S: no site import
                // (faster start, nothing of the host's site-packages).
                run: vec![
                    py.to_string_lossy().into_owned(),
                    "-I".into(),
                    "-B".into(),
                    "-S".into(),
                    bx("main.py"),
                ],
                binds: vec![],
                syntax_check: true,
                note: None,
            });
        }
        None => d.missing.push((
            "python",
            "no /usr/bin/python3 (apt-get install python3)".into(),
        )),
    }

    match first(&["/usr/bin/node", "/usr/local/bin/node"]) {
        Some(node) => {
            let v = host_output(&node, &["--version"]).await.unwrap_or_default();
            d.languages.push(Language {
                name: "javascript",
                aliases: &["js", "node", "node-js", "nodejs"],
                version: version_in(&v),
                file: "main.js",
                compile: Some(vec![
                    node.to_string_lossy().into_owned(),
                    "--check".into(),
                    bx("main.js"),
                ]),
                run: vec![node.to_string_lossy().into_owned(), bx("main.js")],
                binds: vec![],
                syntax_check: true,
                note: None,
            });
        }
        None => d.missing.push((
            "javascript",
            "no /usr/bin/node (apt-get install nodejs)".into(),
        )),
    }

    match first(&["/usr/bin/gcc"]) {
        Some(gcc) => {
            let v = host_output(&gcc, &["-dumpfullversion"])
                .await
                .unwrap_or_default();
            let mut compile = vec![gcc.to_string_lossy().into_owned()];
            compile.extend(strings(&["-O2", "-std=gnu17", "-pipe", "-w", "-o"]));
            compile.extend([bx("main"), bx("main.c"), "-lm".into()]);
            d.languages.push(Language {
                name: "c",
                aliases: &["gcc"],
                version: version_in(&v),
                file: "main.c",
                compile: Some(compile),
                run: vec![bx("main")],
                binds: vec![],
                syntax_check: false,
                note: None,
            });
        }
        None => d
            .missing
            .push(("c", "no /usr/bin/gcc (apt-get install gcc)".into())),
    }

    match first(&["/usr/bin/g++"]) {
        Some(gpp) => {
            let v = host_output(&gpp, &["-dumpfullversion"])
                .await
                .unwrap_or_default();
            let machine = host_output(&gpp, &["-dumpmachine"])
                .await
                .unwrap_or_default();
            let major = host_output(&gpp, &["-dumpversion"])
                .await
                .unwrap_or_default();
            let header = PathBuf::from(format!("/usr/include/{machine}/c++/{major}/bits/stdc++.h"));
            d.stdcpp_header = header.is_file().then_some(header);
            let mut compile = vec![gpp.to_string_lossy().into_owned()];
            compile.extend(strings(&CPP_FLAGS));
            let mut binds = vec![];
            let mut note = Some("without a precompiled header".to_string());
            if pch_ready {
                compile.extend(["-I".into(), PCH.into()]);
                binds.push(Bind {
                    host: pch_dir.to_path_buf(),
                    inside: PCH.into(),
                    writable: false,
                });
                note = Some("bits/stdc++.h precompiled".into());
            }
            compile.extend(["-o".into(), bx("main"), bx("main.cpp")]);
            d.languages.push(Language {
                name: "cpp",
                aliases: &["c++", "g++", "cplusplus"],
                version: version_in(&v),
                file: "main.cpp",
                compile: Some(compile),
                run: vec![bx("main")],
                binds,
                syntax_check: false,
                note,
            });
        }
        None => d
            .missing
            .push(("cpp", "no /usr/bin/g++ (apt-get install g++)".into())),
    }

    // rustc: the operator's toolchain, wherever rustup put it; linked with gcc.
    let sysroot = match host_output(Path::new("rustc"), &["--print", "sysroot"]).await {
        Some(s) if Path::new(&s).join("bin/rustc").is_file() => Some(PathBuf::from(s)),
        _ => None,
    };
    match (sysroot, first(&["/usr/bin/gcc"])) {
        (Some(root), Some(gcc)) => {
            let v = host_output(&root.join("bin/rustc"), &["--version"])
                .await
                .unwrap_or_default();
            let mut compile = vec![format!("{RUST}/bin/rustc")];
            compile.extend(strings(&["-O", "--edition", "2021", "-C"]));
            compile.push(format!("linker={}", gcc.to_string_lossy()));
            compile.extend(["-o".into(), bx("main"), bx("main.rs")]);
            d.languages.push(Language {
                name: "rust",
                aliases: &["rs", "rustc"],
                version: version_in(&v),
                file: "main.rs",
                compile: Some(compile),
                run: vec![bx("main")],
                binds: vec![Bind {
                    host: root,
                    inside: RUST.into(),
                    writable: false,
                }],
                syntax_check: false,
                note: None,
            });
        }
        _ => d
            .missing
            .push(("rust", "no rustc on PATH (or no gcc to link with)".into())),
    }
    d
}

impl Detected {
    /// The language called `name` (or one of its aliases).
    pub fn find(&self, name: &str) -> Option<&Language> {
        self.languages
            .iter()
            .find(|l| l.name == name || l.aliases.contains(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_tool_output() {
        assert_eq!(version_in("Python 3.11.2"), "3.11.2");
        assert_eq!(version_in("v20.20.2"), "20.20.2");
        assert_eq!(version_in("rustc 1.95.0 (59807616e 2026-04-14)"), "1.95.0");
        assert_eq!(version_in(""), "unknown");
    }
}
