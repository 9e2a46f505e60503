//! A TLS-only Redis (`--port 0 --tls-port`) with a CA and certificates made at test time
//! (rcgen), and an ACL user restricted to arena's keys and channels; the `default` user
//! has a password of its own (the "admin" of the tests).

use std::path::PathBuf;
use std::time::Duration;

use arena::edge::config::Config;
use arena::redis::Conn;
use arena::redis::{Endpoint, Tls};
use arena::tools::redis_server::ServerTls;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::{RedisOptions, RedisServer, init_logs};

/// The ACL user arena connects as.
pub const USER: &str = "arena";

/// What arena's user may do: its keys (`arena:*`), its pub/sub channels (socketioxide-
/// redis's `arena-request#…` / `arena-response#…`, the round-trip probe's
/// `arena-probe#…`, the rooms' shard channels `arena:{…}:room:…`), every command but the
/// dangerous ones. The README quotes this line.
pub const ACL_RULES: [&str; 7] = [
    "~arena:*",
    "&arena:*",
    "&arena-request#*",
    "&arena-response#*",
    "&arena-probe#*",
    "+@all",
    "-@dangerous",
];

/// A TLS-only Redis with the `arena` ACL user. Dropping it stops the server and removes
/// the certificates.
pub struct TlsRedis {
    pub server: RedisServer,
    dir: tempfile::TempDir,
    password: String,
    admin_password: String,
}

impl TlsRedis {
    /// Client certificates are not asked for.
    pub fn start() -> TlsRedis {
        Self::start_with("no")
    }

    /// Mutual TLS: every client must show a certificate signed by the CA
    /// ([`TlsRedis::client_cert`], [`TlsRedis::client_key`]).
    pub fn start_mutual() -> TlsRedis {
        Self::start_with("yes")
    }

    fn start_with(auth_clients: &'static str) -> TlsRedis {
        init_logs();
        let dir = tempfile::Builder::new()
            .prefix("arena-tls-")
            .tempdir()
            .unwrap();
        write_certificates(&dir);
        let password = format!("pw-{:016x}", rand::random::<u64>());
        let admin_password = format!("admin-{:016x}", rand::random::<u64>());
        let mut extra = vec![
            "--requirepass".to_string(),
            admin_password.clone(),
            "--user".into(),
            USER.into(),
            "on".into(),
            format!(">{password}"),
        ];
        extra.extend(ACL_RULES.iter().map(|r| r.to_string()));
        let server = RedisServer::start(RedisOptions {
            extra,
            tls: Some(ServerTls {
                cert: dir.path().join("server.pem"),
                key: dir.path().join("server.key"),
                ca: dir.path().join("ca.pem"),
                auth_clients,
            }),
            ..RedisOptions::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        TlsRedis {
            server,
            dir,
            password,
            admin_password,
        }
    }

    /// The CA certificate (PEM) that signed the server's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A client certificate signed by the CA, for mutual TLS.
    pub fn client_cert(&self) -> PathBuf {
        self.dir.path().join("client.pem")
    }

    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client.key")
    }

    /// The `arena` user's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// `rediss://arena:<password>@127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.url_as(USER, &self.password)
    }

    /// `rediss://<user>:<password>@127.0.0.1:<port>`.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        format!(
            "rediss://{user}:{password}@127.0.0.1:{}",
            self.server.port()
        )
    }

    /// The `default` user (all rights), for a test's own look at the data.
    pub fn admin_url(&self) -> String {
        self.url_as("default", &self.admin_password)
    }

    /// The CA as arena's TLS setting.
    pub fn tls(&self) -> Tls {
        Tls::load(Some(&self.ca()), None).unwrap()
    }

    /// A connected command connection for `url`, trusting the test CA.
    pub async fn conn(&self, url: &str) -> Conn {
        let c = arena::redis::command_connection(
            &Endpoint::new(url, &self.tls()),
            Duration::from_secs(5),
        )
        .unwrap();
        arena::redis::ping(&c, Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("cannot reach the TLS Redis: {e}"));
        c
    }

    /// A connection as the `default` user.
    pub async fn admin(&self) -> Conn {
        self.conn(&self.admin_url()).await
    }

    /// A test config for this server: the `arena` user, the test CA, then `tweak`.
    pub fn config(&self, tweak: impl Fn(&mut Config)) -> Config {
        super::app::config(&self.url(), |c| {
            c.services.redis_tls.redis_tls_ca = Some(self.ca());
            tweak(c);
        })
    }
}

/// Write `ca.pem`, `server.pem` / `server.key` (for 127.0.0.1 and localhost) and
/// `client.pem` / `client.key` into `dir`.
fn write_certificates(dir: &tempfile::TempDir) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "arena test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
    write("ca.pem", ca_cert.pem());

    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, cn: &str| {
        let mut p = CertificateParams::new(names).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.use_authority_key_identifier_extension = true;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (cert, key) = leaf(
        vec!["127.0.0.1".into(), "localhost".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
        "redis",
    );
    write("server.pem", cert);
    write("server.key", key);
    let (cert, key) = leaf(vec![], ExtendedKeyUsagePurpose::ClientAuth, "arena");
    write("client.pem", cert);
    write("client.key", key);
}
