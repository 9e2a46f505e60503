//! Redlock over one or N independent Redis masters: quorum leases, renewal with a
//! lost-lease signal, and fencing tokens for the writes a lease guards.
//!
//! [`Redlock::try_acquire`] makes one attempt (zero retries, for races such as ticks);
//! [`Redlock::acquire_until`] retries with jittered backoff until a deadline. Both return
//! a [`Lease`], renewed by a watchdog while it is held and released when dropped.
//!
//! # Guarantees
//!
//! - **At most one holder per resource while valid.** A lease is granted only when a
//!   quorum (N/2+1) of the masters stored its random 128-bit token with `SET NX PX ttl`,
//!   all masters asked in parallel, each bounded by [`LockConfig::node_timeout`] (the
//!   round returns as soon as a quorum granted; the other copies land in the
//!   background, so one frozen master delays nobody). It is valid for
//!   `ttl − elapsed − drift` from the *start* of that round (drift = 1% of the TTL + 2 ms),
//!   so its validity ends before its key expires on the quorum, and two quorums always
//!   share a master. This assumes masters and holders measure time at
//!   about the same rate and that a master does not forget keys (a master restarted
//!   without AOF should stay down for one TTL before it rejoins).
//! - **Only the holder can release or extend**: both are Lua check-and-delete /
//!   check-and-pexpire on the token (`lua/lock_release.lua`, `lua/lock_extend.lua`).
//!   A failed attempt releases what it may have taken on every master that did not
//!   answer "held by someone else".
//! - **A lost lease is signalled before its validity runs out** ([`Lease::lost`]): the
//!   watchdog gives up renewing one node timeout before the end of the validity, or as
//!   soon as too many masters answer that the key is no longer ours.
//! - **A stale fencing token can never commit.** At acquire, after the quorum, the lease
//!   takes a fencing token: `INCR arena:{lock:<r>}:fence` on one designated *data Redis*
//!   (by default the first master; in the app, the main Redis). Tokens of a resource
//!   therefore grow in the order leases were granted. [`fenced_set`] and
//!   [`fenced_incr_by`] check the token and write in one Lua step on the data Redis, and
//!   commit only if the token is `>=` the newest token that Redis has *issued or seen* for
//!   the resource. Because the newest token is issued at acquire (not at the first write),
//!   once a newer lease exists no write with an older token commits, so a
//!   read-modify-write made after acquiring cannot lose an update. Precisely: *no write
//!   with token `t` commits after the data Redis has issued a token greater than `t`*;
//!   this holds whatever the clocks, pauses and network do. (An attempt that got its
//!   token but then failed, e.g. validity used up, also makes older tokens stale; that
//!   only costs liveness: a `Stale` answer means "stop, re-acquire".)
//!
//! # What it does not guarantee
//!
//! Redlock cannot stop a holder from acting on a lease it no longer has (Kleppmann, "How
//! to do distributed locking", 2016): a GC or scheduler pause, SIGSTOP, swap or a delayed
//! packet can fall between "is the lease still valid?" and the write, and the lease can
//! expire and be granted to someone else meanwhile. Checking [`Lease::is_valid`] narrows
//! that window but cannot close it. That is why writes that must not interleave go through
//! a fenced write, which the data Redis decides atomically. The fence covers only keys in
//! the resource's hash tag on the data Redis (`keys::lock_data`); a side effect elsewhere
//! (another Redis, an HTTP call) is not fenced. If the data Redis loses the fence key (no
//! AOF), the data it guarded went with it; the fenced scripts then re-learn the newest
//! token from the first write they see.

mod error;
mod fence;
mod lease;
mod masters;
mod outcome;
mod redlock;
pub mod scripts;
mod settings;

pub use error::LockError;
pub use fence::{fenced_incr_by, fenced_set};
pub use lease::{Lease, LossReason};
pub use masters::Released;
pub use outcome::FencedOutcome;
pub use redlock::Redlock;
pub use settings::{LockConfig, LockMetrics, Resource};
