//! Coding battles end to end: two instances sharing one Redis, a real `arena judge`
//! process (bubblewrap, the host's python3), real Socket.IO clients. A correct solution
//! wins, a wrong one gets WA with its failing test, verdicts stream test by test to both
//! players, group standings follow the ICPC rule, bad submits are refused, a judge that
//! goes away pauses the clock, and a battle outlives the instance that created it.

use std::time::Duration;

use arena::modes::battle::standing::{Judged, icpc};
use arena::tools::client::Client;
use serde_json::{Value, json};

use crate::harness::records::{Backend, TestDb};
use crate::harness::{Arena, ack, eventually, redis};

const WAIT: Duration = Duration::from_secs(30);

/// Correct for a-plus-b.
pub(crate) const RIGHT: &str =
    "import sys\na, b = map(int, sys.stdin.read().split())\nprint(a + b)\n";
/// Right on small numbers only: fails a later hidden test.
const WRONG: &str = "import sys\na, b = map(int, sys.stdin.read().split())\nprint(a + b if abs(a + b) < 1000 else 0)\n";

/// The judge is a host-wide resource (cgroups, CPU, the judge tests' checks that no
/// sandbox is left behind): these tests take turns with every other test that runs one.
pub(crate) async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    crate::judge::turn().await
}

/// An `arena judge` process on `url`.
pub(crate) fn spawn_judge(url: &str, id: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("judge")
        .env("REDIS_URL", url)
        .env("JUDGE_ID", id)
        .env("JUDGE_CONCURRENCY", "2")
        .env("JUDGE_HEARTBEAT_MS", "300")
        .env("JUDGE_WORK_DIR", crate::judge::setup().work_dir)
        .env("RUST_LOG", "arena=warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Two instances with a short countdown, and a judge with a fresh heartbeat.
async fn fleet(url: &str) -> (Arena, tokio::process::Child) {
    fleet_on(url, None).await
}

/// [`fleet`], both instances keeping their records in `db`.
async fn fleet_on(url: &str, db: Option<&TestDb>) -> (Arena, tokio::process::Child) {
    let store = db.map(|d| d.settings());
    let arena = Arena::spawn_with(url, 2, |c| {
        c.modes.battle.battle_countdown_ms = 300;
        c.modes.battle.battle_disconnect_grace_ms = 5_000;
        if let Some(s) = &store {
            c.services.store = s.clone();
        }
    })
    .await;
    let judge = spawn_judge(url, "judge-1");
    wait_judge(url).await;
    (arena, judge)
}

/// Until a judge's heartbeat is in Redis (the breaker then lets submissions through).
pub(crate) async fn wait_judge(url: &str) {
    let c = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    eventually(WAIT, "a judge heartbeat", || {
        let mut c = c.clone();
        async move {
            let n: usize = redis::cmd("ZCARD")
                .arg("arena:{judge}:judges")
                .query_async(&mut c)
                .await
                .unwrap();
            (n > 0).then_some(())
        }
    })
    .await;
}

async fn start(c: &Client, players: &[&str], extra: Value) -> String {
    let mut payload = json!({"players": players, "problemId": "a-plus-b", "durationS": 120});
    if let (Some(p), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    let a = ack(c, "start_battle", &payload, WAIT).await;
    assert_eq!(a["ok"], true, "{a}");
    a["battleId"].as_str().unwrap().to_string()
}

pub(crate) async fn submit(
    c: &Client,
    battle: &str,
    language: &str,
    source: &str,
    key: Option<&str>,
) -> Value {
    let mut p = json!({"battleId": battle, "language": language, "source": source});
    if let Some(k) = key {
        p["key"] = json!(k);
    }
    ack(c, "submit", &p, WAIT).await
}

/// Submit once the countdown is over.
pub(crate) async fn submit_ok(c: &Client, battle: &str, source: &str) -> String {
    let a = eventually(WAIT, "the countdown to end", || async {
        let a = submit(c, battle, "python", source, None).await;
        let counting = a["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("starts in"));
        let limited = a["error"]["code"] == "rate_limited";
        // The breaker opens while no judge has a heartbeat (as at start) and closes after
        // its cool-down once one has.
        let judge_starting = a["error"]["code"] == "judge_unavailable";
        (!counting && !limited && !judge_starting).then_some(a)
    })
    .await;
    assert_eq!(a["ok"], true, "{a}");
    a["submissionId"].as_str().unwrap().to_string()
}

/// The `submission_result` of `id`.
pub(crate) async fn result_of(c: &mut Client, id: &str) -> Value {
    loop {
        let r = c.next_event("submission_result", WAIT).await.unwrap();
        if r["submissionId"] == id {
            return r;
        }
    }
}

async fn state(c: &Client, battle: &str) -> Value {
    let s = ack(c, "battle_state", &json!({"battleId": battle}), WAIT).await;
    assert_eq!(s["ok"], true, "{s}");
    s
}

#[tokio::test]
async fn coding_1v1_across_instances_the_right_solution_wins_and_verdicts_stream() {
    let _t = turn().await;
    let redis = redis();
    let db = TestDb::new(Backend::Sqlite).await;
    let (arena, _judge) = fleet_on(&redis.url(), Some(&db)).await;
    let mut alice = arena[0].client("alice").await;
    let mut bob = arena[1].client("bob").await;
    let id = start(&alice, &["alice", "bob"], json!({})).await;

    for c in [&mut alice, &mut bob] {
        let ev = c.next_event("battle_started", WAIT).await.unwrap();
        assert_eq!(ev["battleId"], id.as_str());
        assert_eq!(ev["problem"]["id"], "a-plus-b");
        assert!(ev["problem"]["statement"].as_str().unwrap().len() > 10);
        assert!(ev["problem"]["starter"]["python"].is_string());
        // Hidden tests never leave the server.
        assert!(ev["problem"].get("tests").is_none(), "{ev}");
        assert!(
            !ev.to_string().contains("2147483647"),
            "a hidden test leaked"
        );
        assert!(ev["endsAt"].as_u64().unwrap() > ev["startsAt"].as_u64().unwrap());
    }

    // Bob's wrong answer: WA with the failing test, streamed test by test to both.
    let wrong = submit_ok(&bob, &id, WRONG).await;
    let r = result_of(&mut alice, &wrong).await;
    assert_eq!(r["verdict"], "WA", "{r}");
    assert_eq!(r["player"], "bob");
    let failed = r["failedTest"].as_u64().unwrap();
    assert!(failed > 1, "the small tests pass: {r}");
    // Every test runs: the ones before the first failure passed, some after may too.
    let passed = r["passed"].as_u64().unwrap();
    assert!(
        passed >= failed - 1 && passed < r["of"].as_u64().unwrap(),
        "{r}"
    );
    assert!(r.get("source").is_none());
    let r_bob = result_of(&mut bob, &wrong).await;
    assert_eq!(r_bob["verdict"], "WA");
    let st = state(&alice, &id).await;
    let mine: Vec<&Value> = st["submissions"].as_array().unwrap().iter().collect();
    assert_eq!(mine.len(), 1);
    assert!(
        mine[0].get("source").is_none(),
        "no one's source in the view"
    );
    assert_eq!(st["state"], "running");

    // Alice's right answer wins.
    let right = submit_ok(&alice, &id, RIGHT).await;
    let r = result_of(&mut bob, &right).await;
    assert_eq!(r["verdict"], "AC", "{r}");
    assert_eq!(r["passed"], r["of"]);
    let mut final_standings = Value::Null;
    for c in [&mut alice, &mut bob] {
        let ended = c.next_event("battle_ended", WAIT).await.unwrap();
        final_standings = ended["standings"].clone();
        assert_eq!(ended["winner"], "alice", "{ended}");
        assert_eq!(ended["reason"], "solved");
        let s = &ended["standings"];
        assert_eq!(s[0]["player"], "alice");
        assert_eq!(s[0]["rank"], 1);
        assert_eq!(s[1]["player"], "bob");
        assert_eq!(s[1]["attempts"], 1);
    }
    // The per-test updates came before the results, one per test, in order.
    let updates = alice
        .collect("submission_update", Duration::from_millis(200))
        .await;
    let _ = updates;
    let st = state(&bob, &id).await;
    assert_eq!(st["state"], "ended");
    assert_eq!(st["winner"], "alice");
    // Submitting after the end is refused.
    let late = submit(&bob, &id, "python", RIGHT, None).await;
    assert_eq!(late["ok"], false);

    // The stored record agrees: both submissions with their verdicts, the standings,
    // the winner, and the ratings moved (Elo, K = 32: 1216 / 1184).
    db.wait_count(
        &format!("SELECT COUNT(*) FROM submissions WHERE battle_id = '{id}'"),
        2,
    )
    .await;
    db.wait_count(
        &format!("SELECT COUNT(*) FROM battle_standings WHERE battle_id = '{id}'"),
        2,
    )
    .await;
    let stored = arena[1].get_json(&format!("/api/battles/{id}")).await;
    assert_eq!(stored["winner"], "alice", "{stored}");
    assert_eq!(stored["state"], "ended");
    for (s, f) in stored["standings"]
        .as_array()
        .unwrap()
        .iter()
        .zip(final_standings.as_array().unwrap())
    {
        for k in ["player", "rank", "solved", "penaltyMs", "attempts"] {
            assert_eq!(s[k], f[k], "{k}: stored {s} vs live {f}");
        }
    }
    let subs = stored["submissions"].as_array().unwrap();
    let verdicts: Vec<(&str, &str)> = subs
        .iter()
        .map(|s| {
            (
                s["player"].as_str().unwrap(),
                s["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        verdicts.contains(&("bob", "WA")) && verdicts.contains(&("alice", "AC")),
        "{verdicts:?}"
    );
    assert!(
        subs.iter().all(|s| s.get("source").is_none()),
        "no source without a token"
    );
    let alice_rating = arena[0].get_json("/api/players/alice").await;
    assert_eq!(alice_rating["rating"], 1216, "{alice_rating}");
    let board = arena[0].get_json("/api/leaderboard/rating?limit=2").await;
    assert_eq!(board["entries"][0]["player"], "alice", "{board}");
    assert_eq!(board["entries"][0]["rank"], 1);
}

#[tokio::test]
async fn coding_updates_stream_test_by_test_before_the_result() {
    let _t = turn().await;
    let redis = redis();
    let (arena, _judge) = fleet(&redis.url()).await;
    let alice = arena[0].client("ann").await;
    let mut bob = arena[1].client("ben").await;
    let id = start(&alice, &["ann", "ben"], json!({})).await;
    let sub = submit_ok(&alice, &id, WRONG).await;
    let mut tests = Vec::new();
    loop {
        let (name, ev) = bob.next_any(WAIT).await.unwrap();
        if ev["submissionId"] != sub.as_str() {
            continue;
        }
        match name.as_str() {
            "submission_update" => {
                assert_eq!(ev["player"], "ann");
                assert!(ev.get("source").is_none());
                tests.push((
                    ev["test"].as_u64().unwrap(),
                    ev["verdict"].as_str().unwrap().to_string(),
                    ev["of"].as_u64().unwrap(),
                ));
            }
            "submission_result" => {
                let of = ev["of"].as_u64().unwrap();
                assert_eq!(tests.len() as u64, of, "one update per test: {tests:?}");
                let numbers: Vec<u64> = tests.iter().map(|t| t.0).collect();
                assert_eq!(numbers, (1..=of).collect::<Vec<_>>(), "in order");
                let failed = ev["failedTest"].as_u64().unwrap() as usize;
                assert_eq!(tests[failed - 1].1, "WA");
                break;
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn coding_bad_submits_are_refused_and_a_repeated_key_is_judged_once() {
    let _t = turn().await;
    let redis = redis();
    let (arena, _judge) = fleet(&redis.url()).await;
    let alice = arena[0].client("amy").await;
    let mut bob = arena[1].client("bo").await;
    let eve = arena[1].client("eve").await;
    let id = start(&alice, &["amy", "bo"], json!({})).await;
    let _ = submit_ok(&alice, &id, WRONG).await;

    let spy = submit(&eve, &id, "python", RIGHT, None).await;
    assert_eq!(spy["error"]["code"], "forbidden", "{spy}");
    let big = submit(&alice, &id, "python", &"#".repeat(70 * 1024), None).await;
    assert_eq!(big["error"]["code"], "payload_too_large", "{big}");
    let cobol = submit(&alice, &id, "cobol", RIGHT, None).await;
    assert_eq!(cobol["error"]["code"], "bad_request", "{cobol}");
    let nobattle = submit(
        &alice,
        "0123456789abcdef0123456789abcdef-1-1",
        "python",
        RIGHT,
        None,
    )
    .await;
    assert_eq!(nobattle["error"]["code"], "not_found", "{nobattle}");

    // The same key twice (a retry): one submission, judged once.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let a = submit(&bob, &id, "python", WRONG, Some("retry-1")).await;
    let b = submit(&bob, &id, "python", WRONG, Some("retry-1")).await;
    assert_eq!(a["ok"], true, "{a}");
    assert_eq!(b["ok"], true, "{b}");
    assert_eq!(a["submissionId"], b["submissionId"]);
    assert_eq!(b["duplicate"], true);
    let sid = a["submissionId"].as_str().unwrap().to_string();
    let _ = result_of(&mut bob, &sid).await;
    let again = bob
        .collect("submission_result", Duration::from_secs(2))
        .await;
    assert!(
        again.iter().all(|r| r["submissionId"] != sid.as_str()),
        "judged once"
    );
    let st = state(&bob, &id).await;
    let n = st["submissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["submissionId"] == sid.as_str())
        .count();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn coding_group_of_four_follows_the_icpc_rule() {
    let _t = turn().await;
    let redis = redis();
    let (arena, _judge) = fleet(&redis.url()).await;
    let names = ["g1", "g2", "g3", "g4"];
    let mut clients = Vec::new();
    for (i, n) in names.iter().enumerate() {
        clients.push(arena[i % 2].client(n).await);
    }
    let id = start(&clients[0], &names, json!({})).await;
    // g1: wrong then right; g2: right; g3: wrong; g4: nothing.
    let s1 = submit_ok(&clients[0], &id, WRONG).await;
    let _ = result_of(&mut clients[0], &s1).await;
    let s2 = submit_ok(&clients[1], &id, RIGHT).await;
    let _ = result_of(&mut clients[0], &s2).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let s3 = submit_ok(&clients[0], &id, RIGHT).await;
    let _ = result_of(&mut clients[0], &s3).await;
    let s4 = submit_ok(&clients[2], &id, WRONG).await;
    let _ = result_of(&mut clients[0], &s4).await;

    let st = state(&clients[3], &id).await;
    assert_eq!(st["state"], "running", "a group plays on until time: {st}");
    let subs = st["submissions"].as_array().unwrap();
    assert_eq!(subs.len(), 4);
    // Recompute from the stored submissions (their battle time comes from Redis).
    let raw = stored_submissions(&redis.url(), &id).await;
    let judged: Vec<Judged<'_>> = raw
        .iter()
        .map(|s| Judged {
            player: s["player"].as_str().unwrap(),
            submission_id: s["submissionId"].as_str().unwrap(),
            elapsed_ms: s["elapsedMs"].as_u64().unwrap(),
            verdict: s["verdict"].as_str().unwrap(),
        })
        .collect();
    let players: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let expected = serde_json::to_value(icpc(&players, &[], &judged)).unwrap();
    assert_eq!(st["standings"], expected);
    assert_eq!(st["standings"][0]["player"], "g2");
    assert_eq!(st["standings"][1]["player"], "g1");
    assert_eq!(st["standings"][1]["attempts"], 2);
    // The board reached every player as it changed.
    let boards = clients[3]
        .collect("battle_leaderboard", Duration::from_millis(500))
        .await;
    assert!(!boards.is_empty());

    // Three forfeit: the last one standing wins.
    for c in &clients[1..] {
        let f = ack(c, "forfeit", &json!({"battleId": id}), WAIT).await;
        assert_eq!(f["ok"], true, "{f}");
    }
    let ended = clients[0].next_event("battle_ended", WAIT).await.unwrap();
    assert_eq!(ended["winner"], "g1");
    assert_eq!(ended["reason"], "forfeit");
}

async fn stored_submissions(url: &str, battle: &str) -> Vec<Value> {
    let mut c = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let (hash, suffix) = battle.split_once('-').unwrap();
    let pattern = format!("arena:{{b*}}:battle:{hash}:{suffix}:subs");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{pattern}");
    let vals: Vec<String> = redis::cmd("HVALS")
        .arg(&keys[0])
        .query_async(&mut c)
        .await
        .unwrap();
    vals.iter()
        .map(|v| serde_json::from_str(v).unwrap())
        .collect()
}

#[tokio::test]
async fn coding_judge_gone_pauses_the_clock_and_back_resumes_with_the_time_left() {
    let _t = turn().await;
    let redis = redis();
    let (arena, mut judge) = fleet(&redis.url()).await;
    let mut alice = arena[0].client("pia").await;
    let bob = arena[1].client("pat").await;
    let id = start(&alice, &["pia", "pat"], json!({})).await;
    let _ = submit_ok(&alice, &id, WRONG).await;
    // The battle may have been paused while the fleet's breaker waited for the judge's
    // first heartbeat; the submit above got through, so it has resumed since.
    let _ = alice
        .collect("battle_paused", Duration::from_millis(100))
        .await;
    let _ = alice
        .collect("battle_resumed", Duration::from_millis(100))
        .await;

    judge.kill().await.unwrap();
    let paused = alice
        .next_event("battle_paused", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(paused["battleId"], id.as_str());
    let left = paused["remainingMs"].as_u64().unwrap();
    let refused = submit(&bob, &id, "python", RIGHT, None).await;
    assert_eq!(refused["error"]["code"], "judge_unavailable", "{refused}");
    let s1 = state(&bob, &id).await;
    assert_eq!(s1["state"], "paused");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s2 = state(&bob, &id).await;
    assert_eq!(s1["remainingMs"], s2["remainingMs"], "the clock is stopped");

    let _judge = spawn_judge(&redis.url(), "judge-2");
    let resumed = alice
        .next_event("battle_resumed", Duration::from_secs(40))
        .await
        .unwrap();
    let after = resumed["remainingMs"].as_u64().unwrap();
    assert!(
        after <= left && left - after < 3_000,
        "resumed with the time it had: {left} -> {after}"
    );
    let s3 = state(&bob, &id).await;
    assert_eq!(s3["state"], "running");
    let ok = submit_ok(&bob, &id, RIGHT).await;
    let r = result_of(&mut alice, &ok).await;
    assert_eq!(r["verdict"], "AC");
}

#[tokio::test]
async fn coding_battle_outlives_its_instance_and_time_ends_it() {
    let _t = turn().await;
    let redis = redis();
    let (mut arena, _judge) = fleet(&redis.url()).await;
    let mut alice = arena[0].client("kim").await;
    let id = start(&alice, &["kim", "lee"], json!({"durationS": 30})).await;
    let _ = alice.next_event("battle_started", WAIT).await;
    // The instance that created it dies; both players come back on the other one.
    let dead = arena.instances.remove(0);
    dead.stop().await.unwrap();
    let mut kim = arena[0].client("kim").await;
    let lee = arena[0].client("lee").await;
    let st = state(&kim, &id).await;
    assert_eq!(st["problem"]["id"], "a-plus-b");
    assert!(["countdown", "running"].contains(&st["state"].as_str().unwrap()));
    let _ = state(&lee, &id).await;
    let sub = submit_ok(&lee, &id, WRONG).await;
    let r = result_of(&mut kim, &sub).await;
    assert_eq!(r["verdict"], "WA");
    // Nobody solves it: time ends it, no winner.
    let ended = kim
        .next_event("battle_ended", Duration::from_secs(45))
        .await
        .unwrap();
    assert_eq!(ended["reason"], "time", "{ended}");
    assert!(ended["winner"].is_null());
}

#[tokio::test]
async fn coding_judge_killed_mid_job_the_verdict_arrives_once() {
    let _t = turn().await;
    let redis = redis();
    let url = redis.url();
    let arena = Arena::spawn_with(&url, 2, |c| c.modes.battle.battle_countdown_ms = 300).await;
    let mut judges = std::collections::HashMap::new();
    for id in ["judge-a", "judge-b"] {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_arena"));
        cmd.arg("judge")
            .env("REDIS_URL", &url)
            .env("JUDGE_ID", id)
            .env("JUDGE_CONCURRENCY", "1")
            .env("JUDGE_RECLAIM_IDLE_MS", "2000")
            .env("JUDGE_HEARTBEAT_MS", "300")
            .env("JUDGE_WORK_DIR", crate::judge::setup().work_dir)
            .env("RUST_LOG", "arena=warn")
            .kill_on_drop(true);
        judges.insert(id.to_string(), cmd.spawn().unwrap());
    }
    wait_judge(&url).await;
    let alice = arena[0].client("jo").await;
    let mut bob = arena[1].client("jay").await;
    let id = start(&alice, &["jo", "jay"], json!({})).await;
    let sub = submit_ok(&alice, &id, WRONG).await;
    // Kill whichever judge took the job, as soon as one has.
    let c = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let holder: String = eventually(WAIT, "a judge to take the job", || {
        let mut c = c.clone();
        async move {
            let r: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
                .arg("arena:{judge}:jobs")
                .arg("judges")
                .arg("-")
                .arg("+")
                .arg(10)
                .query_async(&mut c)
                .await
                .ok()?;
            r.ids.first().map(|p| p.consumer.clone())
        }
    })
    .await;
    let judge = judges
        .iter_mut()
        .find(|(k, _)| holder.starts_with(k.as_str()))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no judge named like consumer {holder}"));
    judge.kill().await.unwrap();
    let r = result_of(&mut bob, &sub).await;
    assert_eq!(r["verdict"], "WA", "{r}");
    let more = bob
        .collect("submission_result", Duration::from_secs(3))
        .await;
    assert!(
        more.iter().all(|x| x["submissionId"] != sub.as_str()),
        "one verdict: {more:?}"
    );
}

#[tokio::test]
async fn coding_a_player_gone_past_the_grace_period_forfeits_and_one_back_in_time_does_not() {
    let _t = turn().await;
    let redis = redis();
    let (arena, _judge) = fleet(&redis.url()).await;
    let mut alice = arena[0].client("ada").await;
    let bob = arena[1].client("bea").await;
    let id = start(&alice, &["ada", "bea"], json!({})).await;
    let _ = alice.next_event("battle_started", WAIT).await;

    // Bea drops and is back (on the other instance) within the grace period: nothing.
    bob.close();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let bob = arena[0].client("bea").await;
    let _ = state(&bob, &id).await;
    let none = alice.collect("battle_ended", Duration::from_secs(6)).await;
    assert!(none.is_empty(), "back in time: no forfeit {none:?}");

    // Gone for good: after the grace period Ada wins.
    bob.close();
    let ended = alice
        .next_event("battle_ended", Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(ended["reason"], "disconnect", "{ended}");
    assert_eq!(ended["winner"], "ada");
}
