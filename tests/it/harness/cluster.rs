//! Redis Clusters for the tests, from Debian's redis-server and redis-cli.
//!
//! [`Cluster::start`] makes one of `masters` masters with `replicas` replicas each:
//! every node a `RedisServer` with `cluster-enabled`, `cluster-node-timeout 500` (a
//! failover takes ~2 s instead of ~4 s), `cluster-require-full-coverage no` (the slots
//! of a live master stay served while another fails over), and its bus port
//! (`cluster-port`) chosen free as well, since port+10000 may be taken or past 65535;
//! joined with `redis-cli --cluster create … --cluster-yes`, then waited for
//! `cluster_state:ok` on every node, a write to every master and every replica's first
//! sync (`master_link_status:up`: a replica that never synced cannot fail over).
//! Dropped: killed.
//!
//! A cluster is ready ~2-3 s after start (a master waits before it takes writes), so the
//! tests share ONE 3-master cluster per test binary ([`shared`]); arena's keys have no
//! per-test prefix, so a test takes the cluster's [`Lease`] (one test at a time) and
//! starts from empty masters. Destructive tests (kill -9 of a master) start their own.

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use arena::tools::redis_server::{RedisOptions, RedisServer, free_port};

/// A running cluster (its nodes are killed when it is dropped).
pub struct Cluster {
    /// Masters first (`0..masters`), then the replicas as `redis-cli` assigned them.
    pub nodes: Vec<RedisServer>,
    pub masters: usize,
}

impl Cluster {
    /// `masters` masters with `replicas` replicas each, ready for writes.
    pub fn start(masters: usize, replicas: usize) -> Result<Self, String> {
        let mut nodes = Vec::new();
        for _ in 0..masters * (1 + replicas) {
            let bus = free_port().map_err(|e| e.to_string())?;
            let node = RedisServer::start(RedisOptions {
                extra: [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "500",
                    "--cluster-require-full-coverage",
                    "no",
                    "--cluster-port",
                    &bus.to_string(),
                    // A master waits `repl-diskless-sync-delay` (5 s by default) for
                    // more replicas before it sends the first full sync; a replica that
                    // never synced refuses to fail over ("Disconnected from master for
                    // longer than allowed"), so a kill in those 5 s lost the slots for
                    // good. Sync at once.
                    "--repl-diskless-sync-delay",
                    "0",
                ]
                .map(String::from)
                .to_vec(),
                ..RedisOptions::default()
            })
            .map_err(|e| e.to_string())?;
            nodes.push(node);
        }
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())))
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("redis-cli: {e} (install redis-tools)"))?;
        if !out.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let cluster = Cluster { nodes, masters };
        cluster.wait_ready(Duration::from_secs(30))?;
        Ok(cluster)
    }

    /// `redis+cluster://` with every node as a seed.
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// `redis+cluster://` with the node on `port` as the first seed (the one `arena
    /// doctor` examines), then the others.
    pub fn url_from(&self, port: u16) -> String {
        let mut ports: Vec<u16> = self.nodes.iter().map(RedisServer::port).collect();
        ports.sort_by_key(|&p| p != port);
        let seeds: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// SIGKILL the node on `port`.
    pub fn kill(&mut self, port: u16) {
        for n in self.nodes.iter_mut().filter(|n| n.port() == port) {
            n.kill();
        }
    }

    /// Every node says `cluster_state:ok` and sees all its masters, and each master
    /// takes a write to a key of its own slots.
    fn wait_ready(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.ready() {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("cluster not ready within {within:?}: {last}"))
    }

    fn ready(&self) -> Result<(), String> {
        for n in &self.nodes {
            let info = cli(n.port(), &["CLUSTER", "INFO"])?;
            if !info.contains("cluster_state:ok") {
                return Err(format!("node {}: {info}", n.port()));
            }
            let masters = cli(n.port(), &["CLUSTER", "NODES"])?
                .lines()
                .filter(|l| l.contains("master") && !l.contains("fail"))
                .count();
            if masters < self.masters {
                return Err(format!("node {} sees {masters} masters", n.port()));
            }
        }
        for port in self.master_ports() {
            // A key of the master's own first slot: a write there must not be refused.
            let slot = self
                .first_slot(port)
                .ok_or_else(|| format!("master {port} serves no slot yet"))?;
            let key = key_in_slot(slot);
            let reply = cli(port, &["SET", &key, "1"])?;
            if reply.trim() != "OK" {
                return Err(format!("master {port} refused a write: {reply}"));
            }
            cli(port, &["DEL", &key])?;
        }
        // A replica can take over only after its first sync: wait for every link.
        for n in &self.nodes {
            let info = cli(n.port(), &["INFO", "replication"])?;
            if info.contains("role:slave") && !info.contains("master_link_status:up") {
                return Err(format!("replica {} has not synced yet", n.port()));
            }
        }
        Ok(())
    }

    /// The ports of the nodes that are masters now.
    pub fn master_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .map(RedisServer::port)
            .filter(|&p| {
                cli(p, &["ROLE"])
                    .map(|r| r.starts_with("master"))
                    .unwrap_or(false)
            })
            .collect()
    }

    /// The first slot that the master on `port` serves.
    fn first_slot(&self, port: u16) -> Option<u16> {
        let nodes = cli(port, &["CLUSTER", "NODES"]).ok()?;
        let me = nodes.lines().find(|l| l.contains("myself"))?;
        let range = me.split_whitespace().nth(8)?;
        range.split('-').next()?.parse().ok()
    }

    /// The port of the master serving `key` now.
    pub fn master_of(&self, key: &str) -> u16 {
        let slot = arena::redis::slot::key_slot(key.as_bytes());
        for port in self.master_ports() {
            let nodes = cli(port, &["CLUSTER", "NODES"]).unwrap_or_default();
            let Some(me) = nodes.lines().find(|l| l.contains("myself")) else {
                continue;
            };
            for range in me.split_whitespace().skip(8) {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>())
                    && (a..=b).contains(&slot)
                {
                    return port;
                }
            }
        }
        panic!("no master serves slot {slot} of {key}")
    }

    /// Empty every master (the shared cluster between tests).
    pub fn flush(&self) {
        for port in self.master_ports() {
            cli(port, &["FLUSHALL"]).unwrap_or_else(|e| panic!("FLUSHALL on {port}: {e}"));
        }
    }
}

/// `redis-cli -p port args…`: its output, or an error with what it printed.
pub fn cli(port: u16, args: &[&str]) -> Result<String, String> {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("redis-cli: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() || text.starts_with("ERR") || text.starts_with("CLUSTERDOWN") {
        return Err(format!(
            "{text}{}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(text)
}

/// A key whose hash slot is `slot` (`{<n>}` for the first n that lands there).
pub fn key_in_slot(slot: u16) -> String {
    (0u32..)
        .map(|n| format!("{{{n}}}"))
        .find(|k| arena::redis::slot::key_slot(k.as_bytes()) == slot)
        .unwrap_or_default()
}

static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();
static LEASE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The binary's shared 3-master cluster, held by one test at a time.
pub struct Lease {
    pub cluster: &'static Cluster,
    _guard: tokio::sync::MutexGuard<'static, ()>,
}

/// A cluster of the test's own (`masters` masters, `replicas` replicas each), for tests
/// that kill nodes or move slots; logs initialised, a clear panic if it cannot start.
pub async fn own(masters: usize, replicas: usize) -> Cluster {
    super::init_logs();
    tokio::task::spawn_blocking(move || Cluster::start(masters, replicas))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("cannot start the test's cluster: {e}"))
}

/// Wait for the shared cluster (started on first use), empty it, and hold it until the
/// lease is dropped.
pub async fn shared() -> Lease {
    super::init_logs();
    let guard = LEASE.lock().await;
    let cluster = tokio::task::spawn_blocking(|| {
        match SHARED.get_or_init(|| {
            let c = Cluster::start(3, 0)?;
            watchdog(&c)?;
            Ok(c)
        }) {
            Ok(c) => c,
            Err(e) => panic!("cannot start the test cluster: {e}"),
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    cluster.flush();
    Lease {
        cluster,
        _guard: guard,
    }
}

/// A static is never dropped: a shell waits for this test process to end, then kills
/// the shared cluster's nodes and removes their directories.
fn watchdog(c: &Cluster) -> Result<(), String> {
    let script = r#"
        parent="$1"; shift
        while kill -0 "$parent" 2>/dev/null; do sleep 0.5; done
        for pid in $PIDS; do kill -KILL "$pid" 2>/dev/null; done
        for d in "$@"; do rm -rf "$d"; done
    "#;
    let pids: Vec<String> = c
        .nodes
        .iter()
        .filter_map(RedisServer::pid)
        .map(|p| p.to_string())
        .collect();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .arg("watchdog")
        .arg(std::process::id().to_string())
        .args(c.nodes.iter().map(|n| n.dir().to_path_buf()))
        .env("PIDS", pids.join(" "))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    cmd.spawn()
        .map(|_| ())
        .map_err(|e| format!("watchdog: {e}"))
}
