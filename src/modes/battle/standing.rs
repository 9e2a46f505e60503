//! A battle's standings: the ICPC rule. Redis computes them (`lua/battle_lib.lua`, in
//! the same step as the verdict that changes them); [`icpc`] is the same rule in Rust,
//! so tests and readers can check the stored standings against the stored submissions.

use serde::{Deserialize, Deserializer, Serialize};

/// Penalty per wrong submission before the first accepted one.
pub const PENALTY_MS: u64 = 20 * 60 * 1000;

/// One player's line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Standing {
    pub player: String,
    /// 1-based; ties share a rank.
    pub rank: u32,
    /// 0 or 1 (one problem per battle).
    pub solved: u32,
    /// Battle time of the first AC plus [`PENALTY_MS`] per wrong submission before it.
    pub penalty_ms: u64,
    /// Judged submissions counted (wrong ones, and the first AC).
    pub attempts: u32,
    #[serde(default)]
    pub solved_at_ms: Option<u64>,
    #[serde(default)]
    pub forfeited: bool,
}

/// What the rule reads from a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged<'a> {
    pub player: &'a str,
    pub submission_id: &'a str,
    /// Battle time at submission (pauses not counted).
    pub elapsed_ms: u64,
    /// `AC`, `WA`, ..., or `judging`.
    pub verdict: &'a str,
}

/// The ICPC standings of `players` over `subs`: solved first, then penalty; CE, IE and
/// submissions still being judged cost nothing; forfeited players last.
pub fn icpc(players: &[String], forfeited: &[String], subs: &[Judged<'_>]) -> Vec<Standing> {
    let mut order: Vec<&Judged<'_>> = subs.iter().collect();
    order.sort_by(|a, b| {
        (a.elapsed_ms, a.submission_id).cmp(&(b.elapsed_ms, b.submission_id))
    });
    let mut lines: Vec<(Standing, u64)> = players
        .iter()
        .map(|p| {
            let line = Standing {
                player: p.clone(),
                forfeited: forfeited.contains(p),
                ..Standing::default()
            };
            (line, 0)
        })
        .collect();
    for s in order {
        let Some((line, wrong)) = lines.iter_mut().find(|(l, _)| l.player == s.player) else {
            continue;
        };
        if line.solved > 0 {
            continue;
        }
        match s.verdict {
            "AC" => {
                line.solved = 1;
                line.attempts += 1;
                line.solved_at_ms = Some(s.elapsed_ms);
                line.penalty_ms = s.elapsed_ms + PENALTY_MS * *wrong;
            }
            "judging" | "CE" | "IE" => {}
            _ => {
                *wrong += 1;
                line.attempts += 1;
            }
        }
    }
    let mut lines: Vec<Standing> = lines.into_iter().map(|(l, _)| l).collect();
    let key = |l: &Standing| (l.forfeited, std::cmp::Reverse(l.solved), l.penalty_ms);
    lines.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| a.player.cmp(&b.player)));
    for i in 0..lines.len() {
        lines[i].rank = if i > 0 && key(&lines[i - 1]) == key(&lines[i]) {
            lines[i - 1].rank
        } else {
            i as u32 + 1
        };
    }
    lines
}

/// A list that Lua's cjson may have written as `{}` (it cannot tell an empty array
/// from an empty object): either shape decodes, an empty object as an empty list.
pub fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Shape<T> {
        List(Vec<T>),
        Empty(serde_json::Map<String, serde_json::Value>),
    }
    match Option::<Shape<T>>::deserialize(d)? {
        Some(Shape::List(v)) => Ok(v),
        Some(Shape::Empty(m)) if m.is_empty() => Ok(Vec::new()),
        Some(Shape::Empty(_)) => Err(serde::de::Error::custom("expected a list")),
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j<'a>(player: &'a str, id: &'a str, at: u64, verdict: &'a str) -> Judged<'a> {
        Judged {
            player,
            submission_id: id,
            elapsed_ms: at,
            verdict,
        }
    }

    #[test]
    fn the_icpc_rule() {
        let players: Vec<String> = ["ann", "bob", "cat", "dan"].map(String::from).to_vec();
        let subs = [
            j("ann", "1", 1_000, "WA"),
            j("ann", "2", 5_000, "AC"),
            j("bob", "3", 90_000, "AC"),
            j("cat", "4", 2_000, "CE"),
            j("cat", "5", 3_000, "TLE"),
            j("dan", "6", 4_000, "judging"),
            j("bob", "7", 95_000, "WA"),
        ];
        let s = icpc(&players, &[], &subs);
        // bob: 90 s, no wrong before; ann: 5 s + 20 min.
        assert_eq!(s[0].player, "bob");
        assert_eq!((s[0].rank, s[0].penalty_ms, s[0].attempts), (1, 90_000, 1));
        assert_eq!(s[1].player, "ann");
        assert_eq!((s[1].rank, s[1].penalty_ms, s[1].attempts), (2, 5_000 + PENALTY_MS, 2));
        // cat and dan: unsolved, tied at rank 3; the CE and the pending one cost nothing.
        assert_eq!((s[2].player.as_str(), s[2].rank, s[2].attempts), ("cat", 3, 1));
        assert_eq!((s[3].player.as_str(), s[3].rank, s[3].attempts), ("dan", 3, 0));
        let f = icpc(&players, &["bob".to_string()], &subs);
        assert_eq!(f[3].player, "bob");
        assert_eq!(f[3].rank, 4);
        assert_eq!(f[0].player, "ann");
    }

    #[test]
    fn empty_lua_tables_decode_as_empty_lists() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "lenient_vec")]
            v: Vec<u32>,
        }
        let t: T = serde_json::from_str(r#"{"v":{}}"#).unwrap();
        assert!(t.v.is_empty());
        let t: T = serde_json::from_str(r#"{"v":[1,2]}"#).unwrap();
        assert_eq!(t.v, vec![1, 2]);
        assert!(serde_json::from_str::<T>(r#"{"v":{"a":1}}"#).is_err());
    }
}
