//! Redis Cluster hash slots: which of the 16384 slots a key lives in, and the check that
//! every script's keys share one slot.
//!
//! A Lua script runs on one node, so on a cluster all its keys (and a channel it
//! publishes to, which arena passes in KEYS for that reason) must hash to one slot, or
//! the cluster answers CROSSSLOT. A standalone Redis never complains, so [`Conn`]
//! (`conn.rs`) checks every EVAL/EVALSHA before sending it, on both kinds: a script
//! whose keys drift apart fails in the standalone tests too, not first in production.
//!
//! The CRC16 is written out here (20 lines) because redis-rs computes slots only
//! internally: its `Slot` does not expose the number.
//!
//! [`Conn`]: super::conn::Conn

use redis::{Cmd, ErrorKind, RedisError};

/// The number of hash slots of a Redis Cluster.
pub const SLOTS: u16 = 16_384;

/// CRC16-XMODEM (polynomial 0x1021, initial value 0), the checksum Redis Cluster uses.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The slot of `key`: of its hash tag (the text between the first `{` and the next `}`,
/// when not empty), else of the whole key.
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let len = key[open + 1..].iter().position(|&b| b == b'}')?;
        (len > 0).then(|| &key[open + 1..open + 1 + len])
    });
    crc16(tagged.unwrap_or(key)) % SLOTS
}

/// The one slot all of `keys` share (`None` for no keys), or the two keys that differ.
pub fn one_slot<K: AsRef<[u8]>>(keys: &[K]) -> Result<Option<u16>, CrossSlot> {
    let mut first: Option<(&[u8], u16)> = None;
    for k in keys {
        let k = k.as_ref();
        let slot = key_slot(k);
        match first {
            None => first = Some((k, slot)),
            Some((f, s)) if s != slot => {
                return Err(CrossSlot {
                    first: String::from_utf8_lossy(f).into_owned(),
                    other: String::from_utf8_lossy(k).into_owned(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|(_, s)| s))
}

/// Two keys of one script in different slots.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("script keys span two cluster slots: {first:?} (slot {}) and {other:?} (slot {})", key_slot(first.as_bytes()), key_slot(other.as_bytes()))]
pub struct CrossSlot {
    pub first: String,
    pub other: String,
}

/// For an `EVAL`/`EVALSHA`/`FCALL` (and their `_RO` forms): do its keys share one slot?
/// Other commands pass (the cluster routes or refuses them itself). A script command
/// whose key count does not parse is refused too: it would be sent nowhere sensible.
pub fn check_script(cmd: &Cmd) -> Result<(), RedisError> {
    let mut args = cmd.args_iter().map(|a| match a {
        redis::Arg::Simple(b) => b,
        // A cursor argument (SCAN) never appears in a script command.
        _ => &[][..],
    });
    let Some(name) = args.next() else {
        return Ok(());
    };
    let script = [
        &b"EVAL"[..],
        b"EVALSHA",
        b"EVAL_RO",
        b"EVALSHA_RO",
        b"FCALL",
        b"FCALL_RO",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n));
    if !script {
        return Ok(());
    }
    let _body_or_sha = args.next();
    let numkeys = args
        .next()
        .and_then(|n| std::str::from_utf8(n).ok()?.parse::<usize>().ok())
        .ok_or_else(|| {
            RedisError::from((ErrorKind::Client, "script command without a key count"))
        })?;
    let keys: Vec<&[u8]> = args.take(numkeys).collect();
    one_slot(&keys)
        .map(drop)
        .map_err(|e| RedisError::from((ErrorKind::Client, "CROSSSLOT", e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster() {
        // The reference value of CRC16-XMODEM, and slots as `CLUSTER KEYSLOT` answers.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"arena:{p3}:claims"), key_slot(b"p3"));
    }

    #[test]
    fn script_commands_are_checked_and_others_pass() {
        let mut ok = redis::cmd("EVALSHA");
        ok.arg("abc")
            .arg(2)
            .arg("a:{x}:1")
            .arg("a:{x}:2")
            .arg("free");
        assert!(check_script(&ok).is_ok());
        let mut bad = redis::cmd("evalsha");
        bad.arg("abc").arg(2).arg("a:{x}:1").arg("a:{y}:2");
        let e = check_script(&bad).unwrap_err();
        assert!(e.to_string().contains("span two cluster slots"), "{e}");
        let mut other = redis::cmd("MGET");
        other.arg("{x}").arg("{y}");
        assert!(check_script(&other).is_ok());
        let mut no_count = redis::cmd("EVAL");
        no_count.arg("return 1");
        assert!(check_script(&no_count).is_err());
        assert_eq!(one_slot::<&str>(&[]), Ok(None));
    }
}
