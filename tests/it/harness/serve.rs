//! `arena serve` as a child process (the real binary) with its output captured line by
//! line: for tests of what the process prints (start-up errors, log formats, secrets).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The token secret `arena serve` gets unless a test gives its own (`ARENA_AUTH=token`,
/// the default, needs one).
pub const TOKEN_SECRET: &str = "serve-harness-token-secret-0123456789abcdef";

/// A running `arena serve`, killed on drop.
pub struct Serve {
    child: Child,
    pub addr: String,
    stdout: Lines,
    stderr: Lines,
}

/// Lines read so far from one pipe, and the reader thread.
struct Lines {
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Lines {
    fn read(pipe: impl Read + Send + 'static) -> Lines {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(l);
            }
        });
        Lines {
            lines,
            reader: Some(reader),
        }
    }

    /// Every line, once the pipe is closed (the process has exited).
    fn finish(&mut self) -> Vec<String> {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.lines.lock().unwrap().clone()
    }
}

/// What a finished `arena serve` printed.
#[derive(Debug)]
pub struct Output {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl Serve {
    /// Start `arena serve` on a free port with `env` (no `RUST_LOG` or `LOG_FORMAT` unless
    /// given; [`TOKEN_SECRET`] as the token secret).
    pub fn spawn(env: &[(&str, &str)]) -> Serve {
        let port = arena::tools::redis_server::free_port().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_arena"));
        cmd.arg("serve")
            .env_remove("RUST_LOG")
            .env_remove("LOG_FORMAT")
            .env_remove("ARENA_AUTH")
            .env_remove("ARENA_TOKEN_SECRET_FILE")
            .env("ARENA_TOKEN_SECRET", TOKEN_SECRET)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn arena serve");
        let stdout = Lines::read(child.stdout.take().expect("stdout"));
        let stderr = Lines::read(child.stderr.take().expect("stderr"));
        Serve {
            child,
            addr: format!("127.0.0.1:{port}"),
            stdout,
            stderr,
        }
    }

    /// Start it and wait until `/health` answers.
    pub async fn start(env: &[(&str, &str)]) -> Serve {
        let s = Self::spawn(env);
        super::wait_healthy(&s.addr, "arena serve /health").await;
        s
    }

    /// Run it until it exits by itself; panic if it runs longer than `within`.
    pub fn run_to_exit(env: &[(&str, &str)], within: Duration) -> Output {
        let mut s = Self::spawn(env);
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = s.child.try_wait() {
                return s.output();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = s.stop();
        panic!("arena serve still running after {within:?}: {out:?}");
    }

    /// SIGTERM, wait for the exit, and return what it printed.
    pub fn stop(mut self) -> Output {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.output();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        self.output()
    }

    fn output(&mut self) -> Output {
        let status = self.child.wait().expect("wait for arena serve");
        Output {
            code: status.code(),
            stdout: self.stdout.finish(),
            stderr: self.stderr.finish(),
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
