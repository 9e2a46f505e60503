//! The command line describes itself: every command and bench scenario is listed, and
//! each option shows its default once (clap's `[default: ...]`), never again in prose.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_lists_every_command_and_scenario_with_one_default_each() {
    let top = help(&[]);
    for cmd in ["serve", "demo", "bench", "doctor", "token", "hunt"] {
        assert!(
            top.lines().any(|l| l.trim_start().starts_with(cmd)),
            "{cmd} missing:\n{top}"
        );
    }
    let bench = help(&["bench"]);
    let scenarios = [
        "fanout",
        "connections",
        "ticks",
        "battles",
        "claims",
        "flood",
    ];
    for s in scenarios {
        assert!(
            bench.lines().any(|l| l.trim_start().starts_with(s)),
            "{s} missing:\n{bench}"
        );
        // The summary line of `arena --help` names every scenario too.
        let summary = top
            .lines()
            .find(|l| l.trim_start().starts_with("bench"))
            .unwrap();
        assert!(summary.contains(s), "{summary}");
    }
    let mut pages = vec![
        help(&["serve"]),
        help(&["demo"]),
        help(&["doctor"]),
        help(&["token"]),
    ];
    for s in scenarios {
        pages.push(help(&["bench", s]));
    }
    for page in pages {
        // Long help puts an option's text and its default on separate lines: check
        // per option block.
        for block in page.split("\n\n") {
            assert!(
                !(block.contains("(default") && block.contains("[default:")),
                "an option states its default twice:\n{block}"
            );
        }
    }
}
