//! Fenced writes: a write guarded by a lock commits only with a fencing token that is not
//! stale, checked and applied in one Lua step on the data Redis.
//!
//! The fence key (`arena:{lock:<r>}:fence`, or where `Resource::with_fence_key` put it)
//! holds the newest token issued (INCR at acquire) or seen (a commit with a newer token,
//! only after the key was lost). A write with token
//! `t` commits iff `t >= fence`. So once the data Redis has issued a newer token, no write
//! with an older one ever commits, whatever pauses or delays its holder suffered.

use crate::redis::Conn;

use super::error::LockError;
use super::lease::Lease;
use super::outcome::FencedOutcome;
use super::scripts;
use super::settings::Resource;
use crate::redis::keys;

fn check_tag(resource: &Resource, data_key: &str) -> Result<(), LockError> {
    let fence = resource.fence_key();
    let tag = keys::hash_tag(data_key);
    if tag.is_some() && tag == keys::hash_tag(&fence) {
        Ok(())
    } else {
        Err(LockError::CrossSlot {
            key: data_key.to_string(),
            resource: resource.to_string(),
        })
    }
}

/// `SET data_key value` on the data Redis if fencing `token` is not stale for `resource`.
/// `data_key` must be in the hash tag of the resource's fence (e.g. [`Resource::data_key`]).
pub async fn fenced_set(
    data: &mut Conn,
    resource: &Resource,
    data_key: &str,
    token: u64,
    value: &str,
) -> Result<FencedOutcome<()>, LockError> {
    check_tag(resource, data_key)?;
    let fence = resource.fence_key();
    Ok(scripts::fenced_set(data, &fence, data_key, token, value).await?)
}

/// `INCRBY data_key by` on the data Redis if fencing `token` is not stale for `resource`;
/// commits with the counter's new value.
pub async fn fenced_incr_by(
    data: &mut Conn,
    resource: &Resource,
    data_key: &str,
    token: u64,
    by: i64,
) -> Result<FencedOutcome<i64>, LockError> {
    check_tag(resource, data_key)?;
    let fence = resource.fence_key();
    Ok(scripts::fenced_incr_by(data, &fence, data_key, token, by).await?)
}

impl Lease {
    /// [`fenced_set`] with this lease's fencing token on its data Redis. The fence, not
    /// [`Lease::is_valid`], decides: a lease that lapsed while no newer one was granted
    /// still commits (nobody else wrote meanwhile).
    pub async fn fenced_set(
        &self,
        data_key: &str,
        value: &str,
    ) -> Result<FencedOutcome<()>, LockError> {
        let mut data = self.lock.data();
        fenced_set(
            &mut data,
            &self.resource,
            data_key,
            self.fencing_token,
            value,
        )
        .await
    }

    /// [`fenced_incr_by`] with this lease's fencing token on its data Redis.
    pub async fn fenced_incr_by(
        &self,
        data_key: &str,
        by: i64,
    ) -> Result<FencedOutcome<i64>, LockError> {
        let mut data = self.lock.data();
        fenced_incr_by(&mut data, &self.resource, data_key, self.fencing_token, by).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_in_the_resource_tag_are_fenced() {
        let r = Resource::parse("battle:1").unwrap();
        assert!(check_tag(&r, &r.data_key("record")).is_ok());
        assert!(check_tag(&r, "arena:{lock:battle:1}:other").is_ok());
        for bad in ["arena:{lock:battle:2}:x", "arena:{battle:1}:x", "plain"] {
            assert!(matches!(
                check_tag(&r, bad),
                Err(LockError::CrossSlot { .. })
            ));
        }
        // A moved fence moves the tag fenced writes accept.
        let moved = r
            .with_fence_key("arena:{b3}:battle:1:fence".into())
            .unwrap();
        assert!(check_tag(&moved, "arena:{b3}:battle:1:active").is_ok());
        assert!(check_tag(&moved, "arena:{lock:battle:1}:data:x").is_err());
        assert!(
            Resource::parse("x")
                .unwrap()
                .with_fence_key("no-tag".into())
                .is_err()
        );
    }
}
