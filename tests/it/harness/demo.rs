//! `arena demo` as a child process (the real binary), stopped on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub struct Demo {
    child: Child,
    /// Its DATA_DIR (the records' SQLite file), removed on drop.
    _data: tempfile::TempDir,
    pub port: u16,
    pub instances: u16,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Demo {
    /// Start `arena demo --port <free> --instances n` with extra env, wait until every
    /// instance answers /health.
    pub async fn start(instances: u16, env: &[(&str, &str)]) -> Demo {
        let port = super::free_port_pair_n(instances);
        let data = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_arena"));
        cmd.args([
            "demo",
            "--port",
            &port.to_string(),
            "--instances",
            &instances.to_string(),
        ])
        .env_remove("REDIS_URL")
        .env_remove("PORT")
        .env_remove("DATABASE_URL")
        .env("DATA_DIR", data.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if std::env::var_os("TEST_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn arena demo");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("stdout");
        let lines = stdout.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(l);
            }
        });
        let demo = Demo {
            child,
            _data: data,
            port,
            instances,
            stdout,
        };
        for i in 0..instances {
            super::wait_healthy(&demo.addr(i), &format!("demo instance {i} /health")).await;
        }
        demo
    }

    pub fn addr(&self, i: u16) -> String {
        format!("127.0.0.1:{}", self.port + i)
    }

    pub fn url(&self, i: u16) -> String {
        format!("http://{}", self.addr(i))
    }

    pub fn urls(&self) -> Vec<String> {
        (0..self.instances).map(|i| self.url(i)).collect()
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM the launcher and wait for its exit code (None: it did not exit in time).
    pub fn terminate(&mut self, within: Duration) -> Option<i32> {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.terminate(Duration::from_secs(15));
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
