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
    for cmd in ["serve", "demo", "bench", "doctor", "token", "hunt", "db"] {
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
        "projection",
        "flood",
        "outbox",
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
        help(&["db", "migrate"]),
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

#[tokio::test]
async fn serve_reads_a_settings_file_under_env_and_flags() {
    let redis = crate::harness::redis();
    let dir = tempfile::tempdir().unwrap();
    let port = arena::tools::redis_server::free_port().unwrap();
    let file = dir.path().join("arena.toml");
    std::fs::write(
        &file,
        format!(
            "port = {port}\ninstance_id = \"from-file\"\ntick_ms = 1500\nlock_ttl_ms = 1000\narena_auth = \"dev\"\nredis_url = \"{}\"\ndata_dir = \"{}\"\n",
            redis.url(),
            dir.path().display()
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["serve", "--config"])
        .arg(&file)
        .env("TICK_MS", "2500") // the environment wins over the file
        .env_remove("PORT")
        .env_remove("REDIS_URL")
        .env_remove("INSTANCE_ID")
        .env_remove("ARENA_AUTH")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    crate::harness::wait_healthy(&addr, "arena serve --config").await;
    let (_, body) = arena::tools::http_client::http_get(&addr, "/status")
        .await
        .unwrap();
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["instanceId"], "from-file");
    assert_eq!(status["tickMs"], 2500);
    // The records went where the file said.
    assert!(dir.path().join("arena.db").exists());
    child.kill().await.unwrap();
}

#[test]
fn config_check_and_print_say_what_is_wrong_and_where_values_come_from() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "arena_auth = \"dev\"\ntick_ms = 1000\nlock_ttl_ms = 1000\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["config", "check"])
        .arg(&bad)
        .env_remove("TICK_MS")
        .env_remove("LOCK_TTL_MS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid setting LOCK_TTL_MS"), "{err}");

    let unknown = dir.path().join("unknown.toml");
    std::fs::write(&unknown, "tick_msec = 1000\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["config", "check"])
        .arg(&unknown)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown setting `tick_msec`"));

    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "tick_ms = 3000\nredis_url = \"redis://arena:hunter2@127.0.0.1:6390\"\n",
    )
    .unwrap();
    let secret = "s".repeat(40);
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["config", "check"])
        .arg(&good)
        .env("ARENA_TOKEN_SECRET", &secret)
        .env_remove("TICK_MS")
        .env_remove("REDIS_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["config", "print", "--config"])
        .arg(&good)
        .env("ARENA_TOKEN_SECRET", &secret)
        .env_remove("TICK_MS")
        .env_remove("REDIS_URL")
        .env_remove("PORT")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |k: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{k} =")))
            .unwrap_or_else(|| panic!("{k} missing:\n{text}"))
            .to_string()
    };
    assert!(line("tick_ms").ends_with("# file"), "{text}");
    assert!(line("port").ends_with("# default"), "{text}");
    assert!(line("arena_token_secret").contains("\"***\""), "{text}");
    assert!(line("arena_token_secret").ends_with("# env"), "{text}");
    assert!(line("redis_url").contains("arena:***@"), "{text}");
    assert!(
        !text.contains(&secret) && !text.contains("hunter2"),
        "{text}"
    );
}
