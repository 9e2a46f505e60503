//! A pairing: the *set* of players of a battle (order does not matter), and its hash,
//! which names the battle's lock and keys.

use sha2::{Digest, Sha256};

use super::error::BattleError;
use crate::base::ids::PlayerId;
use crate::services::lock::Resource;

/// Most players in one battle.
pub const MAX_PLAYERS: usize = 16;

/// A validated set of players.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairing {
    /// Sorted, unique.
    pub players: Vec<String>,
    /// Hex of the first 16 bytes of SHA-256 over the sorted ids.
    pub hash: String,
}

impl Pairing {
    /// 2..=16 distinct valid player ids, in any order.
    pub fn parse(players: &[String]) -> Result<Self, BattleError> {
        if players.len() < 2 || players.len() > MAX_PLAYERS {
            return Err(BattleError::BadRequest(format!(
                "players must list 2 to {MAX_PLAYERS} player ids (got {})",
                players.len()
            )));
        }
        let mut sorted = Vec::with_capacity(players.len());
        for p in players {
            let id = PlayerId::parse(p).map_err(|e| BattleError::BadRequest(e.message))?;
            sorted.push(id.as_str().to_string());
        }
        sorted.sort();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(BattleError::BadRequest("players must be distinct".into()));
        }
        let digest = Sha256::digest(sorted.join("\n").as_bytes());
        let hash = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            players: sorted,
            hash,
        })
    }

    /// The pairing's lock. Its lease stays at `arena:{lock:battle:<hash>}:lease` on the
    /// Redlock masters; its fencing counter moves into the partition's tag beside the
    /// battle's keys and the outbox (`keys.rs`), where the battle scripts check it.
    pub fn resource(&self, partitions: u32) -> Result<Resource, BattleError> {
        let p = super::keys::partition_of(&self.hash, partitions);
        Ok(Resource::parse(&format!("battle:{}", self.hash))?
            .with_fence_key(super::keys::fence(p, &self.hash))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pairing_is_order_free() {
        let a = Pairing::parse(&ids(&["bob", "alice"])).unwrap();
        let b = Pairing::parse(&ids(&["alice", "bob"])).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.players, ids(&["alice", "bob"]));
        assert_eq!(a.hash.len(), 32);
        assert_ne!(
            a.hash,
            Pairing::parse(&ids(&["alice", "carol"])).unwrap().hash
        );
    }

    #[test]
    fn bad_pairings() {
        for bad in [
            vec![],
            ids(&["solo"]),
            ids(&["a", "a"]),
            ids(&["a", "b c"]),
            (0..17).map(|i| format!("p{i}")).collect(),
        ] {
            assert!(
                matches!(Pairing::parse(&bad), Err(BattleError::BadRequest(_))),
                "{bad:?}"
            );
        }
    }

    proptest::proptest! {
        /// Any list of ids: never a panic; an accepted pairing is sorted, distinct, 2..=16.
        #[test]
        fn any_player_list_is_parsed_or_refused(
            players in proptest::collection::vec(crate::base::arbitrary::text(), 0..20)
        ) {
            if let Ok(p) = Pairing::parse(&players) {
                proptest::prop_assert!((2..=MAX_PLAYERS).contains(&p.players.len()));
                proptest::prop_assert!(p.players.windows(2).all(|w| w[0] < w[1]));
                proptest::prop_assert_eq!(p.hash.len(), 32);
            }
        }
    }
}
