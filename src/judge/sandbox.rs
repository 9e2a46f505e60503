//! One sandboxed process: bubblewrap namespaces, the seccomp filter, a fresh cgroup,
//! rlimits, a wall-clock bound and capped output, all set up through `arena judge-exec`.
//!
//! Inside: its own pid, mount, ipc, uts, cgroup, user and network namespaces (only a
//! loopback of its own: the host's 127.0.0.1 is unreachable), uid 65534, an empty
//! environment, `/usr` read-only and nothing else of the host but `ld.so.cache` and the
//! binds the language asks for, a private size-capped `/tmp`, a new session (no TTY
//! injection), killed with its parent. Results come back over pipes only: the judge
//! never opens a path the sandbox could have written, so a planted symlink leads nowhere.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::cgroup::{Cgroups, RunCgroup};
use super::exec::{FAILED_EXIT, FAILED_PREFIX};

/// The uid and gid sandboxed processes run as on the host when the judge is root.
pub const NOBODY: u32 = 65534;
/// Size of each run's private `/tmp`.
pub const TMP_BYTES: u64 = 64 * 1024 * 1024;
/// Largest file a run may write (RLIMIT_FSIZE).
pub const FSIZE_BYTES: u64 = 64 * 1024 * 1024;
/// How often a run's CPU time is compared with its limit.
const CPU_POLL: Duration = Duration::from_millis(50);
/// Open files per process (RLIMIT_NOFILE).
pub const NOFILE: u64 = 256;

/// A host path made visible inside the sandbox.
#[derive(Debug, Clone)]
pub struct Bind {
    pub host: PathBuf,
    pub inside: String,
    pub writable: bool,
}

/// What to run and within which limits.
#[derive(Debug, Clone)]
pub struct Spec {
    pub argv: Vec<String>,
    pub binds: Vec<Bind>,
    pub env: Vec<(String, String)>,
    pub cwd: String,
    pub stdin: Vec<u8>,
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub memory_bytes: u64,
    /// Cap of stdout and, separately, of stderr.
    pub output_bytes: u64,
    pub pids: u32,
    /// Largest file it may write (RLIMIT_FSIZE).
    pub file_bytes: u64,
}

/// How the process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    Signaled(i32),
    /// The sandbox could not be set up (the judge's fault, not the program's).
    SandboxFailed(String),
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub end: End,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// stdout or stderr passed the cap (the run was killed then).
    pub output_exceeded: bool,
    /// The wall-clock bound passed (the run was killed then).
    pub wall_exceeded: bool,
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub memory_peak: u64,
    /// The memory limit ended the run: an OOM kill, or the limit reached and the
    /// program then failed (a refused allocation it could not survive).
    pub memory_limited: bool,
}

impl Outcome {
    fn failed(reason: String) -> Self {
        Self {
            end: End::SandboxFailed(reason),
            stdout: Vec::new(),
            stderr: Vec::new(),
            output_exceeded: false,
            wall_exceeded: false,
            cpu_ms: 0,
            wall_ms: 0,
            memory_peak: 0,
            memory_limited: false,
        }
    }
}

/// The sandbox could not be prepared at start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("bubblewrap not found at {0} (install it: apt-get install bubblewrap)")]
    NoBwrap(PathBuf),
    #[error("staging folder {0}: {1}")]
    Stage(PathBuf, std::io::Error),
    #[error(transparent)]
    Cgroup(#[from] super::cgroup::CgroupError),
}

/// Starts sandboxed processes. One per judge process; shared by its workers.
#[derive(Debug)]
pub struct Sandbox {
    bwrap: PathBuf,
    /// The `arena` binary, run as `arena judge-exec`.
    helper: PathBuf,
    pub cgroups: Cgroups,
    /// Host uid/gid of sandboxed processes (`None` when the judge is not root: they keep
    /// the judge's own, mapped to 65534 inside).
    host_ids: Option<(u32, u32)>,
    /// Run the seccomp filter (always, except in `--check`'s probe of each layer).
    pub seccomp: bool,
    /// Empty folders `0..STAGES` the helper mounts binds on (see `exec.rs`).
    stage: PathBuf,
    next: AtomicU64,
}

/// Most binds one run may have (the job folder, a header cache, a sysroot).
pub const STAGES: usize = 4;

impl Sandbox {
    /// `stage` must be a folder the judge owns; its numbered children are created here.
    pub fn new(
        bwrap: &Path,
        helper: &Path,
        cgroups: Cgroups,
        stage: &Path,
    ) -> Result<Self, SandboxError> {
        if !bwrap.is_file() {
            return Err(SandboxError::NoBwrap(bwrap.to_path_buf()));
        }
        for i in 0..STAGES {
            let d = stage.join(i.to_string());
            std::fs::create_dir_all(&d).map_err(|e| SandboxError::Stage(d, e))?;
        }
        let root = nix::unistd::geteuid().is_root();
        Ok(Self {
            bwrap: bwrap.to_path_buf(),
            helper: helper.to_path_buf(),
            cgroups,
            host_ids: root.then_some((NOBODY, NOBODY)),
            seccomp: true,
            stage: stage.to_path_buf(),
            next: AtomicU64::new(0),
        })
    }

    /// The host uid sandboxed processes run as (for a job folder they must write).
    pub fn host_ids(&self) -> Option<(u32, u32)> {
        self.host_ids
    }

    fn bwrap_args(&self, spec: &Spec) -> Vec<String> {
        let mut a: Vec<String> = [
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--uid",
            "65534",
            "--gid",
            "65534",
            "--hostname",
            "judge",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Merged-/usr hosts have /bin, /lib, ... as symlinks into /usr: recreate them.
        for top in ["/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"] {
            match std::fs::read_link(top) {
                Ok(target) => {
                    a.extend(["--symlink".into(), target.to_string_lossy().into_owned()]);
                    a.push(top.into());
                }
                Err(_) if Path::new(top).is_dir() => {
                    a.extend(["--ro-bind".into(), top.into(), top.into()]);
                }
                Err(_) => {}
            }
        }
        for f in ["/etc/ld.so.cache", "/etc/alternatives"] {
            a.extend(["--ro-bind-try".into(), f.into(), f.into()]);
        }
        a.extend(["--proc", "/proc", "--dev", "/dev"].map(String::from));
        a.extend([
            "--size".into(),
            TMP_BYTES.to_string(),
            "--perms".into(),
            "1777".into(),
            "--tmpfs".into(),
            "/tmp".into(),
        ]);
        a.extend(["--chdir".into(), spec.cwd.clone(), "--clearenv".into()]);
        let mut env = vec![
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("HOME".into(), "/tmp".into()),
            ("TMPDIR".into(), "/tmp".into()),
            ("LANG".into(), "C.UTF-8".into()),
        ];
        env.extend(spec.env.iter().cloned());
        for (k, v) in env {
            a.extend(["--setenv".into(), k, v]);
        }
        // Last: the root bubblewrap built (a tmpfs holding the mount points) goes
        // read-only, so only /tmp (and the box while compiling) can be written.
        a.extend(["--remount-ro".into(), "/".into()]);
        a.push("--".into());
        a.extend(spec.argv.iter().cloned());
        a
    }

    /// Run `spec` to its end (or its limits). Never fails: a sandbox that could not be
    /// set up is `End::SandboxFailed`.
    pub async fn run(&self, spec: &Spec) -> Outcome {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let cg = match self
            .cgroups
            .create(&format!("r{n}"), spec.memory_bytes, spec.pids)
        {
            Ok(cg) => cg,
            Err(e) => return Outcome::failed(format!("cgroup: {e}")),
        };
        let outcome = self.run_in(spec, &cg).await;
        cg.destroy().await;
        outcome
    }

    async fn run_in(&self, spec: &Spec, cg: &RunCgroup) -> Outcome {
        let mut cmd = tokio::process::Command::new(&self.helper);
        cmd.arg("judge-exec");
        for p in cg.procs_files() {
            cmd.arg("--cgroup-procs").arg(p);
        }
        // RLIMIT_CPU is per process and whole seconds: a backstop for a single busy
        // process. The run's CPU time is measured over its cgroup and compared exactly.
        let cpu_secs = spec.cpu_ms.div_ceil(1000) + 1;
        cmd.args(["--cpu-secs", &cpu_secs.to_string()])
            .args(["--fsize", &spec.file_bytes.to_string()])
            .args(["--nofile", &NOFILE.to_string()])
            .args(["--stack", &spec.memory_bytes.to_string()]);
        if let Some((uid, gid)) = self.host_ids {
            cmd.args(["--uid", &uid.to_string(), "--gid", &gid.to_string()]);
        }
        if self.seccomp {
            cmd.arg("--seccomp");
        }
        if spec.binds.len() > STAGES {
            return Outcome::failed(format!("more than {STAGES} binds"));
        }
        cmd.arg("--stage").arg(&self.stage);
        for b in &spec.binds {
            let flag = if b.writable { "--rw" } else { "--ro" };
            cmd.arg(flag)
                .arg(format!("{}={}", b.inside, b.host.to_string_lossy()));
        }
        cmd.arg("--").arg(&self.bwrap).args(self.bwrap_args(spec));
        cmd.env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);

        let started = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return Outcome::failed(format!("spawn {}: {e}", self.helper.display())),
        };
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Outcome::failed("child pipes missing".into());
        };
        let input = spec.stdin.clone();
        // The program may never read its input: feeding it must not hold the run up.
        let feeder = tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        });
        let (over_tx, mut over_rx) = tokio::sync::mpsc::channel::<()>(2);
        let out = tokio::spawn(read_capped(stdout, spec.output_bytes, over_tx.clone()));
        let err = tokio::spawn(read_capped(stderr, spec.output_bytes, over_tx));

        let deadline =
            tokio::time::Instant::from_std(started + Duration::from_millis(spec.wall_ms));
        let mut wall_exceeded = false;
        let mut output_exceeded = false;
        // The run's CPU time (all its processes) is polled, so a run is stopped at its
        // limit, not at the per-process RLIMIT_CPU (whole seconds) or the wall bound.
        let mut poll = tokio::time::interval(CPU_POLL);
        let status = loop {
            tokio::select! {
                s = child.wait() => break s,
                _ = tokio::time::sleep_until(deadline) => {
                    wall_exceeded = true;
                    break stop(&mut child, cg).await;
                }
                Some(()) = over_rx.recv() => {
                    output_exceeded = true;
                    break stop(&mut child, cg).await;
                }
                _ = poll.tick() => {
                    if cg.cpu_ns().is_ok_and(|ns| ns / 1_000_000 > spec.cpu_ms) {
                        break stop(&mut child, cg).await;
                    }
                }
            }
        };
        let wall_ms = started.elapsed().as_millis() as u64;
        // Whatever is left in the cgroup (nothing, normally: the pid namespace died with
        // bubblewrap) goes now, so the pipes reach EOF.
        cg.kill_all().await;
        feeder.abort();
        let collect = async {
            let o = out.await.unwrap_or_default();
            let e = err.await.unwrap_or_default();
            (o, e)
        };
        let ((stdout, o_over), (stderr, e_over)) =
            match tokio::time::timeout(Duration::from_secs(5), collect).await {
                Ok(v) => v,
                Err(_) => return Outcome::failed("output pipes stayed open after the run".into()),
            };
        output_exceeded |= o_over || e_over;

        let usage = match cg.usage() {
            Ok(u) => u,
            Err(e) => return Outcome::failed(format!("usage: {e}")),
        };
        let end = match status {
            Err(e) => End::SandboxFailed(format!("wait: {e}")),
            Ok(s) => decode(s, &stderr),
        };
        Outcome {
            memory_limited: usage.oom_killed || (usage.limit_hit && end != End::Exited(0)),
            end,
            stdout,
            stderr,
            output_exceeded,
            wall_exceeded,
            cpu_ms: usage.cpu_ns / 1_000_000,
            wall_ms,
            memory_peak: usage.memory_peak,
        }
    }
}

/// Kill the run (bubblewrap, then anything left in its cgroup) and reap bubblewrap.
async fn stop(
    child: &mut tokio::process::Child,
    cg: &RunCgroup,
) -> std::io::Result<std::process::ExitStatus> {
    let _ = child.start_kill();
    cg.kill_all().await;
    child.wait().await
}

/// bubblewrap exits with the program's code, or 128 + the signal that killed it
/// (a program exiting with 129..=192 itself reads as a signal: it cannot be told apart).
fn decode(status: std::process::ExitStatus, stderr: &[u8]) -> End {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        return End::Signaled(sig);
    }
    let code = status.code().unwrap_or(-1);
    if code == FAILED_EXIT && stderr.starts_with(FAILED_PREFIX.as_bytes()) {
        return End::SandboxFailed(String::from_utf8_lossy(stderr).trim().to_string());
    }
    // bubblewrap's own set-up errors: exit 1 and "bwrap: ..." before the program runs.
    if code == 1 && stderr.starts_with(b"bwrap: ") {
        return End::SandboxFailed(String::from_utf8_lossy(stderr).trim().to_string());
    }
    if (129..=128 + 64).contains(&code) {
        return End::Signaled(code - 128);
    }
    End::Exited(code)
}

/// Read `r` to EOF keeping at most `cap` bytes; past the cap, say so once and stop.
async fn read_capped<R: AsyncRead + Unpin>(
    mut r: R,
    cap: u64,
    over: tokio::sync::mpsc::Sender<()>,
) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => return (buf, false),
            Ok(n) => {
                let room = (cap as usize).saturating_sub(buf.len());
                if n > room {
                    buf.extend_from_slice(&chunk[..room]);
                    let _ = over.try_send(());
                    return (buf, true);
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}
