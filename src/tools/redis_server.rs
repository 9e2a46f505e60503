//! Start and stop a local `redis-server` process: used by `arena demo` and by the tests.
//!
//! Free port, its own temp dir, log file in that dir, killed on drop. Readiness waits for
//! a PING answer and reports the server's log when it never comes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Errors starting a `redis-server`.
#[derive(Debug, thiserror::Error)]
pub enum RedisServerError {
    #[error(
        "redis-server was not found on PATH: install it (Debian: apt-get install redis-server)"
    )]
    NotInstalled,
    #[error("cannot start redis-server: {0}")]
    Spawn(std::io::Error),
    #[error("redis-server on port {port} did not become ready; its log:\n{log}")]
    NotReady { port: u16, log: String },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// AOF persistence (`appendonly yes`).
    pub appendonly: bool,
    /// `always`, `everysec` or `no`.
    pub appendfsync: &'static str,
    /// Extra `--name value` arguments.
    pub extra: Vec<String>,
    /// Serve TLS only (`--port 0 --tls-port <port>`) with these files.
    pub tls: Option<ServerTls>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            appendonly: false,
            appendfsync: "everysec",
            extra: Vec::new(),
            tls: None,
        }
    }
}

/// The PEM files of a TLS-only server: its certificate and key, and the CA that client
/// certificates must chain to (Redis needs one even when client certificates are
/// optional).
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    /// `tls-auth-clients`: `yes` (mutual TLS), `no` or `optional`.
    pub auth_clients: &'static str,
}

/// A running `redis-server`, killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    opts: RedisOptions,
}

impl RedisServer {
    /// Start a server on a free port in a new temp dir (retrying on a port clash).
    pub fn start(opts: RedisOptions) -> Result<Self, RedisServerError> {
        let mut dir = tempfile::Builder::new().prefix("arena-redis-").tempdir()?;
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            let mut s = Self {
                child: None,
                port,
                dir,
                opts: opts.clone(),
            };
            match s.spawn() {
                Ok(()) => return Ok(s),
                Err(RedisServerError::NotReady { port, log })
                    if log.contains("Address already in use") =>
                {
                    last = Some(RedisServerError::NotReady { port, log });
                    dir = std::mem::replace(&mut s.dir, tempfile::tempdir()?);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(RedisServerError::NotInstalled))
    }

    fn spawn(&mut self) -> Result<(), RedisServerError> {
        let log = self.log_path();
        // A restart appends to the same log: readiness reads only what this run writes.
        let log_from = std::fs::metadata(&log).map_or(0, |m| m.len() as usize);
        let mut cmd = Command::new("redis-server");
        match &self.opts.tls {
            None => cmd.arg("--port").arg(self.port.to_string()),
            Some(tls) => cmd
                .args(["--port", "0", "--tls-port"])
                .arg(self.port.to_string())
                .arg("--tls-cert-file")
                .arg(&tls.cert)
                .arg("--tls-key-file")
                .arg(&tls.key)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca)
                .args(["--tls-auth-clients", tls.auth_clients]),
        };
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--daemonize", "no"])
            .args(["--protected-mode", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .args([
                "--appendonly",
                if self.opts.appendonly { "yes" } else { "no" },
            ])
            .args(["--appendfsync", self.opts.appendfsync])
            .args(&self.opts.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Own process group: a terminal Ctrl-C reaches `arena demo`, which stops the
            // instances first and Redis last.
            .process_group(0);
        let child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RedisServerError::NotInstalled,
            _ => RedisServerError::Spawn(e),
        })?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(10), log_from)
    }

    fn wait_ready(&mut self, within: Duration, log_from: usize) -> Result<(), RedisServerError> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let up = match self.opts.tls {
                None => ping(self.port),
                // No plain port to PING: the server says when it listens.
                Some(_) => std::fs::read(self.log_path()).is_ok_and(|log| {
                    String::from_utf8_lossy(log.get(log_from..).unwrap_or_default())
                        .contains("Ready to accept connections")
                }),
            };
            if up {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(_)) = c.try_wait()
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        Err(RedisServerError::NotReady {
            port: self.port,
            log: std::fs::read_to_string(self.log_path()).unwrap_or_default(),
        })
    }

    /// `redis://127.0.0.1:<port>`, or `rediss://…` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.opts.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL the server and reap it (no-op if it is not running).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (Redis flushes its AOF), falling back to SIGKILL after 5 s.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again on the same port and dir (after `kill` or `stop`): the AOF, if any, is replayed.
    pub fn restart(&mut self) -> Result<(), RedisServerError> {
        self.kill();
        self.spawn()
    }

    /// Freeze the server (SIGSTOP): it keeps its connections but answers nothing.
    pub fn sigstop(&self) {
        self.signal(Signal::SIGSTOP);
    }

    /// Resume a frozen server (SIGCONT).
    pub fn sigcont(&self) {
        self.signal(Signal::SIGCONT);
    }

    fn signal(&self, sig: Signal) {
        if let Some(c) = &self.child {
            let _ = kill(Pid::from_raw(c.id() as i32), sig);
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.sigcont();
        self.kill();
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Does something on `port` answer a RESP `PING`?
fn ping(port: u16) -> bool {
    let Ok(mut s) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}
