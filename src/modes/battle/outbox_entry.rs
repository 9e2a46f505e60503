//! One outbox entry as the consumer reads it: the stream fields `event`, `key`, `record`,
//! `at`, checked and turned into the SQL change it stands for. An entry that breaks the
//! contract (an unknown event, a key that does not name its record, a field of the wrong
//! shape) is poison: `parse` answers `None` and the consumer leaves it pending until it
//! is dead-lettered, rather than guess.

use std::collections::HashSet;

use redis::streams::StreamId;
use serde::Deserialize;
use serde_json::Value;

use super::store::Battle;
use crate::services::store::records::{BattleDetails, BattleEvent, Change};
use crate::services::store::results::{StandingRecord, SubmissionRecord};

/// One outbox entry, parsed.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub event: BattleEvent,
    /// When the battle changed in Redis (ms since the epoch), for the lag.
    pub at: u64,
}

/// What a coding battle's record carries beyond [`Battle`] (all optional: records of
/// battles without a problem have none of them).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CodingFields {
    #[serde(default)]
    problem_id: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    starts_at: Option<u64>,
    #[serde(default)]
    ends_at: Option<u64>,
    /// Lua's cjson writes an empty array as `{}`: read as a JSON value and checked.
    #[serde(default)]
    standings: Option<Value>,
}

/// A standing as the battle record holds it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Standing {
    player: String,
    rank: u32,
    solved: u8,
    penalty_ms: u64,
    attempts: u32,
    #[serde(default)]
    solved_at_ms: Option<u64>,
}

/// The `submission` event's record.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Submission {
    submission_id: String,
    battle_id: String,
    player: String,
    language: String,
    source: String,
    verdict: String,
    passed: u32,
    of: u32,
    #[serde(default)]
    failed_test: Option<u32>,
    tests: Value,
    submitted_at: u64,
    judged_at: u64,
}

/// A JSON array, or the `{}` Lua's cjson writes for an empty one; `None` otherwise.
fn array(v: Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) => Some(a),
        Value::Object(o) if o.is_empty() => Some(Vec::new()),
        _ => None,
    }
}

fn ms(t: u64) -> Option<i64> {
    i64::try_from(t).ok()
}

/// An optional time: `Some(None)` when absent, `None` when out of range.
fn opt_ms(t: Option<u64>) -> Option<Option<i64>> {
    match t {
        None => Some(None),
        Some(t) => ms(t).map(Some),
    }
}

impl OutboxEntry {
    /// Parse an entry of stream `stream`; `None` for a malformed (poison) entry.
    pub fn parse(stream: &str, e: &StreamId) -> Option<Self> {
        let kind: String = e.get("event")?;
        let key: String = e.get("key")?;
        let record: String = e.get("record")?;
        let at: u64 = e.get::<String>("at")?.parse().ok()?;
        let change = match kind.as_str() {
            "created" | "ended" => battle_change(&kind, &key, &record)?,
            "submission" => Change::Submission(submission(&key, &record)?),
            _ => return None,
        };
        Some(Self {
            event: BattleEvent {
                key,
                stream: stream.to_string(),
                stream_id: e.id.clone(),
                change,
            },
            at,
        })
    }
}

/// A `created` or `ended` event: the battle, and for an `ended` one its standings.
fn battle_change(kind: &str, key: &str, record: &str) -> Option<Change> {
    let battle: Battle = serde_json::from_str(record).ok()?;
    let coding: CodingFields = serde_json::from_str(record).ok()?;
    let expected = if kind == "created" { "active" } else { "ended" };
    if battle.state != expected || key != format!("{}:{kind}", battle.battle_id) {
        return None;
    }
    let battle = battle.to_record()?;
    // Standings count only at the end (a created record may carry the empty start).
    let standings = match (kind, coding.standings) {
        ("ended", Some(v)) => Some(standings(v, &battle.players)?),
        _ => None,
    };
    Some(Change::Battle {
        details: BattleDetails {
            problem_id: coding.problem_id,
            reason: coding.reason,
            starts_at: opt_ms(coding.starts_at)?,
            ends_at: opt_ms(coding.ends_at)?,
            standings,
        },
        battle,
    })
}

/// Final standings: each of the battle's players at most once, ranks from 1.
fn standings(v: Value, players: &[String]) -> Option<Vec<StandingRecord>> {
    let mut seen = HashSet::new();
    array(v)?
        .into_iter()
        .map(|s| {
            let s: Standing = serde_json::from_value(s).ok()?;
            let ok = s.rank >= 1
                && s.solved <= 1
                && players.contains(&s.player)
                && seen.insert(s.player.clone());
            ok.then_some(())?;
            Some(StandingRecord {
                player: s.player,
                rank: i64::from(s.rank),
                solved: i64::from(s.solved),
                penalty_ms: ms(s.penalty_ms)?,
                attempts: i64::from(s.attempts),
                solved_at_ms: opt_ms(s.solved_at_ms)?,
            })
        })
        .collect()
}

/// A `submission` event (key `<submissionId>:judged`).
fn submission(key: &str, record: &str) -> Option<SubmissionRecord> {
    let s: Submission = serde_json::from_str(record).ok()?;
    if key != format!("{}:judged", s.submission_id) || s.passed > s.of {
        return None;
    }
    let tests = Value::Array(array(s.tests)?);
    Some(SubmissionRecord {
        id: s.submission_id,
        battle_id: s.battle_id,
        player: s.player,
        language: s.language,
        source: s.source,
        verdict: s.verdict,
        passed: i64::from(s.passed),
        of_tests: i64::from(s.of),
        failed_test: s.failed_test.map(i64::from),
        tests: tests.to_string(),
        submitted_at: ms(s.submitted_at)?,
        judged_at: ms(s.judged_at)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "0123456789abcdef0123456789abcdef-1700000000000-7";

    fn entry(event: &str, key: &str, record: &Value) -> StreamId {
        let mut map = std::collections::HashMap::new();
        for (k, v) in [
            ("event", event.to_string()),
            ("key", key.to_string()),
            ("record", record.to_string()),
            ("at", "1700000000123".to_string()),
        ] {
            map.insert(k.to_string(), redis::Value::BulkString(v.into_bytes()));
        }
        StreamId {
            id: "1-1".into(),
            map,
            ..Default::default()
        }
    }

    fn ended(standings: Value) -> Value {
        json!({"battleId": ID, "players": ["alice", "bob"], "state": "ended",
            "createdAt": 1_700_000_000_000u64, "endedAt": 1_700_000_600_000u64,
            "winner": "alice", "createdBy": "i0", "problemId": "sum", "reason": "solved",
            "startsAt": 1_700_000_003_000u64, "endsAt": 1_700_000_603_000u64,
            "standings": standings})
    }

    fn standing(player: &str, rank: u32) -> Value {
        json!({"player": player, "rank": rank, "solved": 1, "penaltyMs": 5000,
            "attempts": 1, "solvedAtMs": 1_700_000_008_000u64})
    }

    #[test]
    fn an_ended_event_carries_its_standings_and_details() {
        let record = ended(json!([standing("alice", 1), standing("bob", 2)]));
        let e = OutboxEntry::parse("s", &entry("ended", &format!("{ID}:ended"), &record)).unwrap();
        let Change::Battle { battle, details } = e.event.change else {
            panic!("not a battle change");
        };
        assert_eq!(battle.winner.as_deref(), Some("alice"));
        assert_eq!(details.problem_id.as_deref(), Some("sum"));
        assert_eq!(details.reason.as_deref(), Some("solved"));
        assert_eq!(details.starts_at, Some(1_700_000_003_000));
        let standings = details.standings.unwrap();
        assert_eq!(standings.len(), 2);
        assert_eq!((standings[1].player.as_str(), standings[1].rank), ("bob", 2));
        assert_eq!(e.at, 1_700_000_000_123);
    }

    #[test]
    fn an_old_ended_event_has_no_standings() {
        let mut record = ended(Value::Null);
        record.as_object_mut().unwrap().remove("standings");
        let e = OutboxEntry::parse("s", &entry("ended", &format!("{ID}:ended"), &record)).unwrap();
        let Change::Battle { details, .. } = e.event.change else {
            panic!("not a battle change");
        };
        assert_eq!(details.standings, None);
        // cjson's empty array.
        let record = ended(json!({}));
        let e = OutboxEntry::parse("s", &entry("ended", &format!("{ID}:ended"), &record)).unwrap();
        let Change::Battle { details, .. } = e.event.change else {
            panic!("not a battle change");
        };
        assert_eq!(details.standings, Some(Vec::new()));
    }

    #[test]
    fn bad_standings_are_poison() {
        let key = format!("{ID}:ended");
        for bad in [
            json!([standing("alice", 1), standing("alice", 2)]),
            json!([standing("carol", 1)]),
            json!([standing("alice", 0)]),
            json!([{"player": "alice"}]),
            json!("alice"),
        ] {
            assert!(OutboxEntry::parse("s", &entry("ended", &key, &ended(bad.clone()))).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_submission_event_is_checked_against_its_key() {
        let record = json!({"submissionId": "s1", "battleId": ID, "player": "alice",
            "language": "python", "source": "print(1)", "verdict": "WA", "passed": 1, "of": 3,
            "failedTest": 2, "tests": [{"test": 1, "verdict": "AC", "timeMs": 3, "memoryKb": 900},
            {"test": 2, "verdict": "WA", "timeMs": 4, "memoryKb": 900}],
            "submittedAt": 1_700_000_010_000u64, "judgedAt": 1_700_000_011_000u64});
        let e = OutboxEntry::parse("s", &entry("submission", "s1:judged", &record)).unwrap();
        let Change::Submission(s) = e.event.change else {
            panic!("not a submission");
        };
        assert_eq!((s.passed, s.of_tests, s.failed_test), (1, 3, Some(2)));
        let tests: Value = serde_json::from_str(&s.tests).unwrap();
        assert_eq!(tests[1]["verdict"], "WA");
        assert!(OutboxEntry::parse("s", &entry("submission", "s2:judged", &record)).is_none());
        let mut bad = record.clone();
        bad["passed"] = json!(4);
        assert!(OutboxEntry::parse("s", &entry("submission", "s1:judged", &bad)).is_none());
        assert!(OutboxEntry::parse("s", &entry("judged", "s1:judged", &record)).is_none());
    }
}
