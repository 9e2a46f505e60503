//! Where arena reaches a Redis: an [`Endpoint`] (a URL plus the TLS material for
//! `rediss://`) and the one function that turns it into a client ([`Endpoint::client`]).
//!
//! Every connection arena opens (commands, pub/sub, Redlock masters, stream readers,
//! `/ready`, the tools) is made here, so TLS and ACL credentials reach all of them;
//! `tests/layers.rs` fails on a `redis::Client` made anywhere else in `src/`, and on an
//! [`Endpoint::plain`] there (an endpoint that drops the configured TLS files).
//!
//! URL forms: `redis://[user:password@]host:port[/db]`, and `rediss://…` for TLS (rustls,
//! verified against the system's roots, or against a private CA given with [`Tls::load`]).
//! A Redis Cluster: `redis+cluster://[user:password@]host:port[,host:port…]` (or
//! `rediss+cluster://…`), the seed nodes; the command connections are then cluster
//! connections ([`Conn::Cluster`]), the namespace's pub/sub uses the master of
//! [`PUBSUB_SLOT`] as the live cluster names it ([`Endpoint::pubsub_node`]), and `arena
//! doctor` one reachable seed ([`Endpoint::first_node`]).
//! A password never leaves this module unredacted: [`Endpoint`]'s `Debug` and
//! [`Endpoint::redacted`] print `user:***`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::Duration;

use futures_util::FutureExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::{
    AsyncConnectionConfig, Client, ClientTlsConfig, ConnectionAddr, ErrorKind, IntoConnectionInfo,
    ProtocolVersion, RedisError, TlsCertificates,
};

use super::conn::Conn;
use super::slot_map::SlotMap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::base::config::redact_url;

/// The TLS files arena reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    /// The CA certificate(s) to trust instead of the system's roots.
    Ca,
    /// The client certificate (chain) for mutual TLS.
    ClientCert,
    /// The client certificate's private key.
    ClientKey,
}

impl fmt::Display for TlsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ca => "CA certificate",
            Self::ClientCert => "client certificate",
            Self::ClientKey => "client key",
        })
    }
}

/// A TLS file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {file} {}: {source}", path.display())]
    Read {
        file: TlsFile,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file} {} is not usable: {reason}", path.display())]
    Invalid {
        file: TlsFile,
        path: PathBuf,
        reason: String,
    },
}

impl TlsError {
    /// Which file it is about.
    pub fn file(&self) -> TlsFile {
        match self {
            Self::Read { file, .. } | Self::Invalid { file, .. } => *file,
        }
    }
}

/// The TLS material for `rediss://` URLs: a private CA to trust instead of the system's
/// roots, and a client certificate and key for mutual TLS. The default (none of them)
/// verifies servers against the system's roots.
#[derive(Clone, Default)]
pub struct Tls {
    certs: Option<Arc<TlsCertificates>>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is a secret: say only what is configured.
        let (ca, identity) = match &self.certs {
            Some(c) => (c.root_cert.is_some(), c.client_tls.is_some()),
            None => (false, false),
        };
        f.debug_struct("Tls")
            .field("private_ca", &ca)
            .field("client_certificate", &identity)
            .finish()
    }
}

impl Tls {
    /// Read and check the PEM files: `ca` (one or more CA certificates) and `identity`
    /// (a client certificate chain and its private key).
    pub fn load(ca: Option<&Path>, identity: Option<(&Path, &Path)>) -> Result<Self, TlsError> {
        if ca.is_none() && identity.is_none() {
            return Ok(Self::default());
        }
        let root_cert = ca
            .map(|path| {
                let pem = read(TlsFile::Ca, path)?;
                certificates(TlsFile::Ca, path, &pem)?;
                Ok::<_, TlsError>(pem)
            })
            .transpose()?;
        let client_tls = identity
            .map(|(cert, key)| {
                let client_cert = read(TlsFile::ClientCert, cert)?;
                certificates(TlsFile::ClientCert, cert, &client_cert)?;
                let client_key = read(TlsFile::ClientKey, key)?;
                PrivateKeyDer::from_pem_slice(&client_key).map_err(|e| TlsError::Invalid {
                    file: TlsFile::ClientKey,
                    path: key.to_path_buf(),
                    reason: format!("no PEM private key in it ({e})"),
                })?;
                Ok::<_, TlsError>(ClientTlsConfig {
                    client_cert,
                    client_key,
                })
            })
            .transpose()?;
        let certs = TlsCertificates {
            client_tls,
            root_cert,
        };
        // Let redis-rs build its TLS parameters once now, so a file it cannot use fails at
        // start-up with the setting's name rather than at the first connection.
        let (file, path) = match (identity, ca) {
            (Some((cert, _)), _) => (TlsFile::ClientCert, cert),
            (None, Some(ca)) => (TlsFile::Ca, ca),
            (None, None) => return Ok(Self::default()),
        };
        crypto_provider();
        Client::build_with_tls("rediss://localhost", certs.clone()).map_err(|e| {
            TlsError::Invalid {
                file,
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        })?;
        Ok(Self {
            certs: Some(Arc::new(certs)),
        })
    }

    /// Is anything set beyond the system's roots?
    pub fn is_set(&self) -> bool {
        self.certs.is_some()
    }
}

fn read(file: TlsFile, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        file,
        path: path.to_path_buf(),
        source,
    })
}

/// `pem` must hold at least one certificate, all of them well formed.
fn certificates(file: TlsFile, path: &Path, pem: &[u8]) -> Result<(), TlsError> {
    let invalid = |reason: String| TlsError::Invalid {
        file,
        path: path.to_path_buf(),
        reason,
    };
    let mut n = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        cert.map_err(|e| invalid(format!("a certificate does not parse ({e})")))?;
        n += 1;
    }
    if n == 0 {
        return Err(invalid("no PEM certificate in it".into()));
    }
    Ok(())
}

/// rustls needs a process-wide crypto provider; ring is the one compiled in. Installing
/// it explicitly keeps TLS working if another crate ever enables a second provider (then
/// rustls cannot pick one by itself).
fn crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err: one is installed already, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// One Redis to connect to: its URL and the TLS material for it.
#[derive(Clone)]
pub struct Endpoint {
    url: String,
    tls: Tls,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.redacted())
            .field("tls", &self.tls)
            .finish()
    }
}

impl fmt::Display for Endpoint {
    /// The URL with its password replaced by `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Endpoint {
    /// `url` with `tls` (used only if the URL is `rediss://`).
    pub fn new(url: impl Into<String>, tls: &Tls) -> Self {
        Self {
            url: url.into(),
            tls: tls.clone(),
        }
    }

    /// `url` without TLS files: a `rediss://` URL is verified against the system's roots.
    /// For tests and URL checks; arena's own connections take the configured files
    /// (`services::settings::Settings::endpoints`), which `tests/layers.rs` enforces.
    pub fn plain(url: impl Into<String>) -> Self {
        Self::new(url, &Tls::default())
    }

    /// The URL with any password replaced by `***`: the only form that may be printed.
    pub fn redacted(&self) -> String {
        redact_url(&self.url)
    }

    /// Does the URL ask for TLS (`rediss://` or `rediss+cluster://`)?
    pub fn is_tls(&self) -> bool {
        self.url.starts_with("rediss://") || self.url.starts_with("rediss+cluster://")
    }

    /// Does the URL name a Redis Cluster (`redis+cluster://`, `rediss+cluster://`)?
    pub fn is_cluster(&self) -> bool {
        self.url.starts_with("redis+cluster://") || self.url.starts_with("rediss+cluster://")
    }

    /// The nodes to reach: for a cluster URL its seeds as standalone endpoints (each with
    /// the credentials, path and query of the cluster URL and the same TLS files), else
    /// this endpoint alone.
    pub fn seeds(&self) -> Vec<Endpoint> {
        let Some(parts) = self.cluster_parts() else {
            return vec![self.clone()];
        };
        parts
            .hosts
            .split(',')
            .map(str::trim)
            .map(|h| parts.with_host(h, &self.tls))
            .collect()
    }

    /// The cluster node at `addr` (`host:port`, as the slot map names it) as a standalone
    /// endpoint with this cluster URL's credentials, path, query and TLS files; for a
    /// standalone URL, this endpoint itself (its one node).
    pub fn node(&self, addr: &str) -> Endpoint {
        match self.cluster_parts() {
            Some(parts) => parts.with_host(addr, &self.tls),
            None => self.clone(),
        }
    }

    /// A cluster URL cut into the standalone scheme, the user info, the hosts and the
    /// tail (path and query); `None` for a standalone URL.
    fn cluster_parts(&self) -> Option<ClusterParts<'_>> {
        let (scheme, rest) = self
            .url
            .strip_prefix("redis+cluster://")
            .map(|r| ("redis://", r))
            .or_else(|| {
                self.url
                    .strip_prefix("rediss+cluster://")
                    .map(|r| ("rediss://", r))
            })?;
        // The password may hold an unescaped '@' (see `redact_url`): the last one ends it.
        let (userinfo, after) = match rest.rfind('@') {
            Some(at) => (&rest[..=at], &rest[at + 1..]),
            None => ("", rest),
        };
        let end = after.find(['/', '?']).unwrap_or(after.len());
        let (hosts, tail) = after.split_at(end);
        Some(ClusterParts {
            scheme,
            userinfo,
            hosts,
            tail,
        })
    }

    /// `host:port` of a standalone URL (an IPv6 host in brackets), as a cluster's slot
    /// map names its nodes; `None` for a cluster URL or one that does not parse.
    pub fn addr(&self) -> Option<String> {
        if self.is_cluster() {
            return None;
        }
        match self.url.as_str().into_connection_info().ok()?.addr() {
            ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                Some(if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                })
            }
            _ => None,
        }
    }

    /// Is this the same server as `other` (the same URL)?
    pub fn same_url(&self, other: &Endpoint) -> bool {
        self.url == other.url
    }

    /// The user name in the URL (`default` when none is given), for messages.
    pub fn user(&self) -> String {
        let first = self.seeds().swap_remove(0);
        first
            .url
            .as_str()
            .into_connection_info()
            .ok()
            .and_then(|i| i.redis_settings().username().map(str::to_string))
            .unwrap_or_else(|| "default".into())
    }

    /// Check the URL without connecting.
    pub fn parse(&self) -> Result<(), RedisError> {
        if self.is_cluster() {
            self.cluster_client(Duration::from_secs(1)).map(drop)
        } else {
            self.client(false).map(drop)
        }
    }

    /// A client for this endpoint, forcing RESP3 when `resp3` is set (pub/sub push
    /// messages need it). The one place in arena that makes a [`redis::Client`]. A cluster
    /// URL is refused: its connections are made by [`command_connection`] and
    /// [`stream_connection`], its pub/sub by [`Endpoint::first_node`].
    pub fn client(&self, resp3: bool) -> Result<Client, RedisError> {
        if self.is_cluster() {
            return Err(RedisError::from((
                ErrorKind::InvalidClientConfig,
                "a cluster URL has no single-server client; use one of its seeds",
            )));
        }
        let mut info = self.url.as_str().into_connection_info()?;
        if resp3 {
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            info = info.set_redis_settings(settings);
        }
        let tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. });
        if tls {
            crypto_provider();
        }
        match &self.tls.certs {
            Some(certs) if tls => Client::build_with_tls(info, (**certs).clone()),
            _ => Client::open(info),
        }
    }

    /// The cluster client of a cluster URL: the seeds, the TLS files for `rediss+cluster`,
    /// and each node request bounded by `timeout`.
    fn cluster_client(&self, timeout: Duration) -> Result<ClusterClient, RedisError> {
        let seeds: Vec<String> = self.seeds().into_iter().map(|e| e.url).collect();
        let mut builder = ClusterClientBuilder::new(seeds)
            .connection_timeout(timeout.min(Duration::from_secs(2)))
            .response_timeout(timeout)
            // MOVED, ASK, TRYAGAIN and a failover's CLUSTERDOWN are retried with a short
            // backoff; a failover takes ~2 s with cluster-node-timeout 500 ms.
            .retries(6)
            .min_retry_wait(20)
            .max_retry_wait(500);
        if self.is_tls() {
            crypto_provider();
            if let Some(certs) = &self.tls.certs {
                builder = builder.certs((**certs).clone());
            }
        }
        builder.build()
    }

    /// One server to talk to directly: this endpoint itself, or for a cluster the first
    /// seed that answers (`check`) within `timeout`. Pub/sub uses it (classic PUBLISH is
    /// copied to every node of a cluster, so subscribers and publishers on any one node
    /// see every message), and `arena doctor` examines it.
    pub async fn first_node(&self, timeout: Duration) -> Result<Endpoint, RedisError> {
        if !self.is_cluster() {
            return Ok(self.clone());
        }
        let mut last = None;
        for seed in self.seeds() {
            match check_single(&seed, timeout).await {
                Ok(()) => return Ok(seed),
                Err(e) if is_auth_error(&e) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            RedisError::from((
                ErrorKind::InvalidClientConfig,
                "a cluster URL without seeds",
            ))
        }))
    }
}

/// On a cluster, the slot whose master carries the namespace's classic pub/sub (see
/// [`Endpoint::pubsub_node`]). Any fixed slot would do; every instance must use the same.
pub const PUBSUB_SLOT: u16 = 0;

impl Endpoint {
    /// The server for the namespace's classic pub/sub: this endpoint itself, or for a
    /// cluster the master serving [`PUBSUB_SLOT`] as `conn` (the live cluster connection)
    /// reads it from `CLUSTER SLOTS` now, as a standalone endpoint of this cluster.
    ///
    /// Why one slot's master rather than the first seed: a cluster copies a classic
    /// PUBLISH to every node, so any node would deliver, but `PUBSUB NUMSUB` (how the
    /// driver knows its peers are subscribed) counts one node's subscribers only, so every
    /// instance must sit on the same node, and must land on the same one again when that
    /// node dies. The live map names the promoted replica after a failover (seeds are
    /// only where the cluster was at start), and every instance reading it agrees.
    pub async fn pubsub_node(
        &self,
        conn: &Conn,
        timeout: Duration,
    ) -> Result<Endpoint, RedisError> {
        if !self.is_cluster() {
            return Ok(self.clone());
        }
        let mut conn = conn.clone();
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("SLOTS");
        let ask = cmd.query_async::<redis::Value>(&mut conn);
        let reply = tokio::time::timeout(timeout, ask).await.map_err(|_| {
            RedisError::from((
                ErrorKind::Io,
                "CLUSTER SLOTS",
                format!("no answer within {timeout:?}"),
            ))
        })??;
        // An empty host in the reply means the node that answered; redis-rs does not say
        // which one did, so the first seed's host stands in (nodes of one cluster
        // announce one kind of address; an empty one is seen on single-host clusters).
        let seed = self.seeds().into_iter().next().and_then(|s| s.addr());
        let host = seed
            .as_deref()
            .and_then(|a| a.rsplit_once(':'))
            .map_or("", |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let map = SlotMap::parse(&reply, &host).map_err(|e| {
            RedisError::from((ErrorKind::UnexpectedReturnType, "CLUSTER SLOTS", e.0))
        })?;
        match map.owner(PUBSUB_SLOT) {
            Some(node) => Ok(self.node(node)),
            None => Err(RedisError::from((
                ErrorKind::ClusterConnectionNotFound,
                "no master serves the pub/sub slot",
            ))),
        }
    }
}

/// A cluster URL's pieces (see [`Endpoint::cluster_parts`]).
struct ClusterParts<'a> {
    scheme: &'static str,
    userinfo: &'a str,
    hosts: &'a str,
    tail: &'a str,
}

impl ClusterParts<'_> {
    /// The standalone endpoint of one host of this cluster.
    fn with_host(&self, host: &str, tls: &Tls) -> Endpoint {
        let Self {
            scheme,
            userinfo,
            tail,
            ..
        } = self;
        Endpoint::new(format!("{scheme}{userinfo}{host}{tail}"), tls)
    }
}

/// A lazy cluster connection for `endpoint`: opened by the first command.
fn cluster_conn(endpoint: &Endpoint, timeout: Duration) -> Result<Conn, RedisError> {
    let client = Arc::new(endpoint.cluster_client(timeout)?);
    Ok(Conn::cluster(
        Arc::new(move || {
            let client = client.clone();
            async move { client.get_async_connection().await }.boxed()
        }),
        0,
    ))
}

/// A command connection: reconnects with backoff, each command bounded by `timeout`; a
/// cluster connection for a cluster URL.
///
/// Created lazily: the first command connects.
pub fn command_connection(endpoint: &Endpoint, timeout: Duration) -> Result<Conn, RedisError> {
    if endpoint.is_cluster() {
        return cluster_conn(endpoint, timeout);
    }
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(timeout))
        .set_connection_timeout(Some(timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(endpoint.client(false)?, config).map(Conn::from)
}

/// A connection for blocking stream reads (`XREADGROUP ... BLOCK`): its response
/// timeout covers `block`, so a quiet stream is not taken for a dead Redis. Its own
/// connection (a blocked read holds its server connection), a cluster one for a cluster
/// URL.
pub fn stream_connection(endpoint: &Endpoint, block: Duration) -> Result<Conn, RedisError> {
    if endpoint.is_cluster() {
        return cluster_conn(endpoint, block + Duration::from_secs(2));
    }
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(block + Duration::from_secs(2)))
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_lazy_with_config(endpoint.client(false)?, config).map(Conn::from)
}

/// `PING` within `timeout`: is Redis reachable right now?
pub async fn ping<C>(conn: &C, timeout: Duration) -> Result<(), RedisError>
where
    C: redis::aio::ConnectionLike + Clone + Send,
{
    let mut conn = conn.clone();
    match tokio::time::timeout(timeout, redis::cmd("PING").query_async::<String>(&mut conn)).await {
        Ok(r) => r.map(|_| ()),
        Err(_) => Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "PING timed out",
        ))),
    }
}

/// Connect once, as RESP2 and as RESP3 (the pub/sub connections), and `PING`, each step
/// within `timeout`: do the address, TLS and credentials work? Start-up runs it before
/// the reconnecting connections, which would retry a refused password for ever. For a
/// cluster: a cluster connection (it reads the slot map from a seed) and `PING`, then
/// the pub/sub node.
pub async fn check(endpoint: &Endpoint, timeout: Duration) -> Result<(), RedisError> {
    if endpoint.is_cluster() {
        let client = endpoint.cluster_client(timeout)?;
        let mut conn = tokio::time::timeout(timeout, client.get_async_connection())
            .await
            .map_err(|_| {
                RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no cluster seed answered in time",
                ))
            })??;
        redis::cmd("PING").query_async::<()>(&mut conn).await?;
        return endpoint.first_node(timeout).await.map(drop);
    }
    check_single(endpoint, timeout).await
}

/// [`check`] of one server.
async fn check_single(endpoint: &Endpoint, timeout: Duration) -> Result<(), RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    for resp3 in [false, true] {
        let mut conn = endpoint
            .client(resp3)?
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        redis::cmd("PING").query_async::<()>(&mut conn).await?;
    }
    Ok(())
}

/// Did Redis refuse the credentials (a wrong password, an unknown or disabled user, a
/// password needed and none given)? Unlike an unreachable Redis, retrying cannot help.
pub fn is_auth_error(e: &RedisError) -> bool {
    matches!(e.kind(), ErrorKind::AuthenticationFailed)
        || matches!(e.code(), Some("WRONGPASS" | "NOAUTH"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_password() {
        let e = Endpoint::plain("rediss://alice:s3cret@h:6380/0");
        assert_eq!(e.to_string(), "rediss://alice:***@h:6380/0");
        let dbg = format!("{e:?}");
        assert!(!dbg.contains("s3cret"), "{dbg}");
        assert!(dbg.contains("alice:***"), "{dbg}");
        assert_eq!(e.user(), "alice");
        assert_eq!(Endpoint::plain("redis://h:1").user(), "default");
        assert!(e.is_tls());
    }

    #[test]
    fn a_cluster_node_keeps_the_credentials_and_tail() {
        let c = Endpoint::plain("rediss+cluster://u:p@w@h1:1,h2:2/0?x=1");
        let seeds: Vec<String> = c.seeds().iter().map(|e| e.url.clone()).collect();
        assert_eq!(
            seeds,
            ["rediss://u:p@w@h1:1/0?x=1", "rediss://u:p@w@h2:2/0?x=1"]
        );
        assert_eq!(
            c.node("10.0.0.9:7001").url,
            "rediss://u:p@w@10.0.0.9:7001/0?x=1"
        );
        let plain = Endpoint::plain("redis+cluster://u:p@h1:1,[::1]:2");
        assert_eq!(plain.seeds()[1].addr().as_deref(), Some("[::1]:2"));
        assert_eq!(c.addr(), None);
        let single = Endpoint::plain("redis://h:1");
        assert_eq!(single.node("other:2").url, "redis://h:1");
    }

    #[test]
    fn urls_are_checked_without_connecting() {
        assert!(Endpoint::plain("rediss://h:6380").parse().is_ok());
        assert!(Endpoint::plain("redis://u:p@h:1/2").parse().is_ok());
        assert!(Endpoint::plain("http//nope").parse().is_err());
    }

    #[test]
    fn tls_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = Tls::load(Some(&missing), None).unwrap_err();
        assert!(
            e.to_string().starts_with("cannot read CA certificate"),
            "{e}"
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let e = Tls::load(Some(&junk), None).unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        assert!(!Tls::load(None, None).unwrap().is_set());
    }
}
