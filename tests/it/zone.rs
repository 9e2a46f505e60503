//! The Battle Zone page (/zone) in headless Chromium (`tests/ui/zone.mjs`): two arena
//! instances sharing one Redis and one records database, a real `arena judge` process,
//! two players' browsers on different instances and a spectator's. Screenshots of the
//! lobby, the battle, the result and the spectator view (light and dark) go to
//! target/ui-artifacts.

use std::time::Duration;

use crate::harness::{Arena, eventually, redis};

const WAIT: Duration = Duration::from_secs(30);

/// An `arena judge` process on `url`, killed when dropped.
fn spawn_judge(url: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("judge")
        .env("REDIS_URL", url)
        .env("JUDGE_ID", "zone-judge")
        .env("JUDGE_HEARTBEAT_MS", "300")
        .env("JUDGE_WORK_DIR", crate::judge::setup().work_dir)
        .env("RUST_LOG", "arena=warn")
        .kill_on_drop(true)
        .spawn()
        .expect("spawn arena judge")
}

/// Run `tests/ui/zone.mjs` against `urls`; fail with its output.
fn run_zone_page(urls: &[String], shots: &str) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ui");
    assert!(
        std::path::Path::new(dir).join("node_modules").exists(),
        "tests/ui/node_modules is missing: run `make test` (or `npm ci --prefix tests/ui`)"
    );
    let out = std::process::Command::new("node")
        .arg("zone.mjs")
        .current_dir(dir)
        .env("ARENA_URLS", urls.join(","))
        .env("SCREENSHOTS", shots)
        .output()
        .expect("node is required for the browser tests");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "zone.mjs failed:\n{text}");
    println!("{text}");
}

#[tokio::test]
async fn zone_page_in_chromium_a_coding_battle_across_two_instances() {
    // The judge's precompiled header is built once for the suite, and judge tests take
    // turns: their host-wide checks must not see this test's sandboxes.
    let _judge = crate::judge::judge().await;
    let _turn = crate::judge::turn().await;
    let server = redis();
    let url = server.url();
    // One records database for both instances: the rating a page fetches after the
    // battle must not depend on which instance applied it.
    let data = tempfile::tempdir().expect("temp dir");
    let db = format!(
        "sqlite://{}?mode=rwc",
        data.path().join("zone.db").display()
    );
    let arena = Arena::spawn_with(&url, 2, |c| {
        c.services.store.database_url = Some(db.clone());
    })
    .await;
    let _judge_process = spawn_judge(&url);
    // The breaker answers judge_unavailable until a judge has sent a heartbeat.
    let c = arena::redis::command_connection(
        &arena::redis::Endpoint::plain(&url),
        Duration::from_secs(2),
    )
    .unwrap();
    eventually(WAIT, "the judge's first heartbeat", || {
        let mut c = c.clone();
        async move {
            let n: usize =
                redis::AsyncCommands::zcard(&mut c, arena::services::judge::keys::judges())
                    .await
                    .ok()?;
            (n > 0).then_some(())
        }
    })
    .await;

    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/target/ui-artifacts");
    std::fs::create_dir_all(shots).unwrap();
    let urls = vec![arena[0].url.clone(), arena[1].url.clone()];
    tokio::task::spawn_blocking(move || run_zone_page(&urls, shots))
        .await
        .unwrap();
}
