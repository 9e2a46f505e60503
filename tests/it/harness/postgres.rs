//! A private PostgreSQL for the tests, from Debian's `postgresql` package: at most one
//! per test binary, started on first use (initdb in a temp dir, a free port, the unix
//! socket in that dir), one fresh database per test (`CREATE DATABASE`).
//!
//! PostgreSQL refuses to run as root, and the tests run as root here and in CI: then
//! initdb and the server run as the package's `postgres` user (`setpriv`, which execs,
//! so the pid we hold is the postmaster's). A static is never dropped, so a watchdog
//! shell waits for this test process to exit, then stops the server (SIGINT: fast
//! shutdown; SIGKILL if it lingers) and removes the temp dir. No server outlives the tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::Connection;

/// The running server (leaked on purpose: the watchdog stops it).
pub struct Postgres {
    port: u16,
}

static SERVER: OnceLock<Result<Postgres, String>> = OnceLock::new();

/// The shared server, started on first use; a clear panic if it cannot start.
pub fn postgres() -> &'static Postgres {
    match SERVER.get_or_init(|| std::thread::spawn(Postgres::start).join().unwrap()) {
        Ok(p) => p,
        Err(e) => panic!("cannot start PostgreSQL for the tests: {e}"),
    }
}

/// `/usr/lib/postgresql/<newest version>/bin`.
fn bin_dir() -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no /usr/lib/postgresql ({e}): run scripts/deps.sh test"))?
        .filter_map(Result::ok)
        .filter_map(|d| {
            let v = d.file_name().to_str()?.parse().ok()?;
            let bin = d.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".into())
}

/// `program args..`, as the `postgres` user when we are root.
fn as_pg_user(program: &Path) -> Command {
    if nix::unistd::Uid::effective().is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--clear-groups",
            "--",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn chown_to_pg(path: &Path) -> Result<(), String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(());
    }
    let user = nix::unistd::User::from_name("postgres")
        .map_err(|e| e.to_string())?
        .ok_or("no postgres user: install the postgresql package (scripts/deps.sh test)")?;
    nix::unistd::chown(path, Some(user.uid), Some(user.gid)).map_err(|e| e.to_string())?;
    Ok(())
}

impl Postgres {
    fn start() -> Result<Self, String> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("arena-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?
            .keep();
        let data = dir.join("data");
        std::fs::create_dir(&data).map_err(|e| e.to_string())?;
        chown_to_pg(&dir)?;
        chown_to_pg(&data)?;
        let out = as_pg_user(&bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args(["-U", "arena", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let log = std::fs::File::create(dir.join("postgres.log")).map_err(|e| e.to_string())?;
        chown_to_pg(&dir.join("postgres.log"))?;
        let child = as_pg_user(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(&dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=300",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("postgres: {e}"))?;
        watchdog(child.id(), &dir)?;
        // The child is reaped by the watchdog's kill; we keep no handle.
        std::mem::forget(child);
        let pg = Postgres { port };
        let deadline = Instant::now() + Duration::from_secs(30);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        loop {
            let url = pg.url("postgres");
            if rt.block_on(async { sqlx::PgConnection::connect(&url).await.is_ok() }) {
                return Ok(pg);
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
                return Err(format!("not ready within 30 s; its log:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://arena@127.0.0.1:{}/{db}", self.port)
    }

    /// A new, empty database; its URL.
    pub async fn database(&self) -> String {
        let name = format!("t{:016x}", rand::random::<u64>());
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .unwrap();
        let create = format!("CREATE DATABASE {name}");
        sqlx::raw_sql(&create).execute(&mut admin).await.unwrap();
        admin.close().await.unwrap();
        self.url(&name)
    }
}

/// A detached shell that outlives nothing: when this process is gone, stop the server
/// (fast shutdown, then SIGKILL after 10 s) and remove its directory.
fn watchdog(pg_pid: u32, dir: &Path) -> Result<(), String> {
    let script = r#"
        while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
        kill -INT "$2" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$2" 2>/dev/null
        rm -rf "$3"
    "#;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .arg("watchdog")
        .arg(std::process::id().to_string())
        .arg(pg_pid.to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Its own session: a Ctrl-C to the test run's process group must not kill it first.
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    cmd.spawn()
        .map(|_| ())
        .map_err(|e| format!("watchdog: {e}"))
}
