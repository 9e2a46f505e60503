//! Every Lua script arena runs keeps its keys (and any channel it publishes to, which a
//! script takes in KEYS) on one Redis Cluster slot. The keys are built with the same key
//! builders the script wrappers use, for many ids and partitions; a script file that is
//! not in the table fails the test, so a new script cannot skip the check.
//!
//! (At run time `redis::Conn` refuses a script command whose keys span two slots, on a
//! standalone Redis too; this test catches it without a server.)

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeSet;
use std::path::Path;

use arena::modes::battle::keys as battle;
use arena::modes::hunt::keys as hunt;
use arena::redis::keys as shared;
use arena::redis::slot::one_slot;
use arena::services::judge::keys as judge;

/// Script files that are not scripts of their own (prepended to others).
const LIBRARIES: &[&str] = &["battle_lib.lua", "gcra.lua"];

/// `(script file, the keys of one invocation)` for a spread of ids and partitions.
fn invocations() -> Vec<(&'static str, Vec<String>)> {
    let mut out: Vec<(&'static str, Vec<String>)> = Vec::new();
    let ids = ["a", "player-7", "x{y}", "9f86d081884c7d65", "ffffffff00"];
    for r in ["shared:counter", "battle:9f86d081", "r"] {
        out.push(("lock_release.lua", vec![shared::lock_lease(r)]));
        out.push(("lock_extend.lua", vec![shared::lock_lease(r)]));
        for name in ["value", "x"] {
            let k = vec![shared::lock_fence(r), shared::lock_data(r, name)];
            out.push(("fenced_set.lua", k.clone()));
            out.push(("fenced_incrby.lua", k));
        }
    }
    for id in ids {
        out.push(("rate_limit.lua", vec![shared::rate_limit("claim", id)]));
    }
    // The room's channel is published to from the script (it travels in ARGV: SPUBLISH
    // needs no key), so it must share the slot as well.
    for partitions in [1, 256, 1024] {
        let tags = arena::services::realtime::room_channel::Partitions::new(partitions);
        for room in ["lobby", "battle:9f86d081", "x{y}", "r"] {
            let k = tags.room(room);
            out.push((
                "room_publish.lua",
                vec![k.meta.clone(), k.log.clone(), k.channel],
            ));
            out.push(("room_since.lua", vec![k.meta, k.log]));
        }
    }
    for race in ["tick", hunt::MAPGEN_RACE, hunt::BOARD_RACE] {
        for n in [0, 1, 17, 1_700_000_000] {
            out.push((
                "period_acquire.lua",
                vec![shared::period_lock(race, n), shared::period_last(race)],
            ));
        }
    }
    for token in ids {
        out.push(("enqueue.lua", vec![judge::job(token), judge::jobs()]));
        out.push((
            "record.lua",
            vec![
                judge::result(token),
                judge::job(token),
                judge::jobs(),
                judge::results(),
                judge::dead(),
            ],
        ));
    }
    out.push((
        "breaker.lua",
        vec![
            judge::breaker(),
            judge::breaker_window(),
            judge::judges(),
            judge::jobs(),
        ],
    ));
    out.push(("dead_letter.lua", vec![judge::jobs(), judge::dead()]));
    for partitions in [1, 16, 256] {
        for map_id in [0u64, 1, 15, 16, 255, 1_000_003] {
            let p = hunt::partition_of(map_id, partitions);
            out.push((
                "claim.lua",
                vec![
                    hunt::hunt_map(p, map_id),
                    hunt::hunt_owners(p, map_id),
                    hunt::hunt_claims(p),
                    hunt::claim_limit(p, "player-7"),
                    hunt::hunt_claimed(p),
                ],
            ));
            out.push((
                "dead_letter.lua",
                vec![hunt::hunt_claims(p), hunt::hunt_dead_letters(p)],
            ));
            out.push((
                "leaderboard_apply.lua",
                vec![
                    hunt::lb_global().to_string(),
                    hunt::lb_map(map_id),
                    hunt::lb_applied(map_id),
                ],
            ));
        }
        for hash in ["9f86d081884c7d65", "00000000aa", "ffffffff00", "1234"] {
            let p = battle::partition_of(hash, partitions);
            let record = battle::record(p, hash, "1700000000000-3");
            let subs = battle::subs(p, hash, "1700000000000-3");
            let active = battle::active(p, hash);
            let outbox = battle::outbox(p);
            out.push((
                "battle_create.lua",
                vec![
                    battle::fence(p, hash),
                    active.clone(),
                    record.clone(),
                    outbox.clone(),
                ],
            ));
            out.push((
                "battle_end.lua",
                vec![active.clone(), record.clone(), outbox.clone(), subs.clone()],
            ));
            out.push(("battle_pause.lua", vec![record.clone()]));
            for player in ids {
                out.push((
                    "submission_open.lua",
                    vec![
                        record.clone(),
                        subs.clone(),
                        battle::submit_key(&record, player, "k-1"),
                    ],
                ));
            }
            out.push((
                "submission_final.lua",
                vec![record.clone(), subs.clone(), active.clone(), outbox.clone()],
            ));
            out.push((
                "dead_letter.lua",
                vec![outbox.clone(), battle::outbox_dead(p)],
            ));
        }
    }
    for player in ids {
        let mut keys: Vec<String> = ["easy", "medium", "hard", "any"]
            .iter()
            .map(|d| battle::mm_queue(d))
            .collect();
        keys.push(format!("{}{player}", battle::MM_QUEUED_PREFIX));
        out.push(("matchmake.lua", keys));
    }
    out
}

fn lua_files(dir: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            lua_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "lua") {
            out.insert(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
}

#[test]
fn every_scripts_keys_share_one_slot() {
    let mut bad = Vec::new();
    for (script, keys) in invocations() {
        if let Err(e) = one_slot(&keys) {
            bad.push(format!("{script}: {e}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_script_file_is_in_the_table() {
    let mut files = BTreeSet::new();
    lua_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let covered: BTreeSet<String> = invocations()
        .into_iter()
        .map(|(s, _)| s.to_string())
        .collect();
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| !covered.contains(*f) && !LIBRARIES.contains(&f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "scripts without a slot check in tests/script_slots.rs: {missing:?}"
    );
}

#[test]
fn the_checker_sees_a_cross_slot_script() {
    // Two partitions' claim streams: the CROSSSLOT a cluster would answer.
    assert!(one_slot(&[hunt::hunt_claims(0), hunt::hunt_claims(1)]).is_err());
}
