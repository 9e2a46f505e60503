//! One cgroup per sandboxed run, for its memory and pids limits and its usage figures.
//!
//! Both hierarchies are supported and detected at start: cgroup v2 (one unified tree,
//! `memory.max`, `pids.max`, `memory.peak`, `cgroup.kill`) and cgroup v1 (one tree per
//! controller under `/sys/fs/cgroup/{memory,pids,cpuacct}`). Every run's processes join
//! its cgroup before bubblewrap starts (see `exec.rs`), so nothing it forks escapes it.
//! The judge only reads the kernel's own files here; nothing the sandbox wrote is read.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where cgroups are mounted.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// The folder (in each hierarchy) that holds the judges' cgroups.
pub const PARENT: &str = "arena-judge";

/// A cgroup file could not be created, written or read.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no usable cgroup hierarchy: {0}")]
    Missing(String),
    #[error("cgroup {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cgroup {path}: unexpected content {content:?}")]
    Parse { path: PathBuf, content: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(io(path))
}

fn read(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(io(path))
}

fn read_u64(path: &Path) -> Result<u64, CgroupError> {
    let s = read(path)?;
    s.trim().parse().map_err(|_| CgroupError::Parse {
        path: path.to_path_buf(),
        content: s,
    })
}

/// `key value` lines (memory.events, cpu.stat, memory.oom_control): the value of `key`.
fn keyed(path: &Path, key: &str) -> Result<u64, CgroupError> {
    let s = read(path)?;
    for line in s.lines() {
        let mut it = line.split_whitespace();
        if it.next() == Some(key)
            && let Some(v) = it.next().and_then(|v| v.parse().ok())
        {
            return Ok(v);
        }
    }
    Err(CgroupError::Parse {
        path: path.to_path_buf(),
        content: s,
    })
}

/// The hierarchy this host has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// Unified: this judge's folder in the one tree.
    V2 { dir: PathBuf },
    /// One folder per controller for this judge.
    V1 {
        memory: PathBuf,
        pids: PathBuf,
        cpuacct: PathBuf,
    },
}

/// This judge's cgroups: `<root>/arena-judge/j<pid>/` in each hierarchy it uses.
#[derive(Debug, Clone)]
pub struct Cgroups {
    pub version: Version,
}

/// Usage figures of one finished run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub cpu_ns: u64,
    pub memory_peak: u64,
    /// The kernel's OOM killer killed a process of the run.
    pub oom_killed: bool,
    /// The run's memory reached its limit at least once (the kernel then reclaims or
    /// refuses the allocation; not always fatal).
    pub limit_hit: bool,
}

impl Cgroups {
    /// Detect the hierarchy under `root`, create this judge's folder, and remove folders
    /// left by judges on this host that are gone (a `kill -9` leaves them behind).
    pub fn setup(root: &Path) -> Result<Self, CgroupError> {
        let me = format!("j{}", std::process::id());
        if root.join("cgroup.controllers").exists() {
            let controllers = read(&root.join("cgroup.controllers"))?;
            for c in ["memory", "pids", "cpu"] {
                if !controllers.split_whitespace().any(|x| x == c) {
                    return Err(CgroupError::Missing(format!(
                        "cgroup v2 without the {c} controller"
                    )));
                }
            }
            let parent = root.join(PARENT);
            std::fs::create_dir_all(&parent).map_err(io(&parent))?;
            // Children of arena-judge/ and of j<pid>/ get the controllers. A cgroup that
            // holds processes cannot delegate (no internal processes): ours hold none.
            write(&root.join("cgroup.subtree_control"), "+memory +pids +cpu")?;
            write(&parent.join("cgroup.subtree_control"), "+memory +pids +cpu")?;
            sweep(&parent);
            let dir = parent.join(&me);
            make(&dir)?;
            write(&dir.join("cgroup.subtree_control"), "+memory +pids +cpu")?;
            return Ok(Self {
                version: Version::V2 { dir },
            });
        }
        let mut dirs = Vec::new();
        for c in ["memory", "pids", "cpuacct"] {
            let base = root.join(c);
            if !base.join("cgroup.procs").exists() {
                return Err(CgroupError::Missing(format!(
                    "neither cgroup v2 nor the v1 {c} controller at {}",
                    base.display()
                )));
            }
            let parent = base.join(PARENT);
            std::fs::create_dir_all(&parent).map_err(io(&parent))?;
            sweep(&parent);
            let dir = parent.join(&me);
            make(&dir)?;
            dirs.push(dir);
        }
        let [memory, pids, cpuacct] = <[PathBuf; 3]>::try_from(dirs)
            .map_err(|_| CgroupError::Missing("v1 controllers".into()))?;
        Ok(Self {
            version: Version::V1 {
                memory,
                pids,
                cpuacct,
            },
        })
    }

    /// "v1" or "v2".
    pub fn name(&self) -> &'static str {
        match self.version {
            Version::V1 { .. } => "v1",
            Version::V2 { .. } => "v2",
        }
    }

    /// A fresh cgroup for one run with its limits set. Swap is not allowed (v2:
    /// `memory.swap.max`; v1: `memsw` where the kernel accounts swap).
    pub fn create(&self, name: &str, memory: u64, pids: u32) -> Result<RunCgroup, CgroupError> {
        let cg = match &self.version {
            Version::V2 { dir } => {
                let d = dir.join(name);
                make(&d)?;
                let cg = RunCgroup {
                    version: Version::V2 { dir: d.clone() },
                };
                write(&d.join("memory.max"), &memory.to_string())?;
                if d.join("memory.swap.max").exists() {
                    write(&d.join("memory.swap.max"), "0")?;
                }
                write(&d.join("pids.max"), &pids.to_string())?;
                cg
            }
            Version::V1 {
                memory: m,
                pids: p,
                cpuacct: c,
            } => {
                let (m, p, c) = (m.join(name), p.join(name), c.join(name));
                for d in [&m, &p, &c] {
                    make(d)?;
                }
                let cg = RunCgroup {
                    version: Version::V1 {
                        memory: m.clone(),
                        pids: p.clone(),
                        cpuacct: c,
                    },
                };
                write(&m.join("memory.limit_in_bytes"), &memory.to_string())?;
                let memsw = m.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    write(&memsw, &memory.to_string())?;
                }
                write(&m.join("memory.swappiness"), "0").ok();
                write(&p.join("pids.max"), &pids.to_string())?;
                cg
            }
        };
        Ok(cg)
    }

    /// Remove this judge's folders (at a clean stop).
    pub fn remove(&self) {
        for d in dirs(&self.version) {
            let _ = std::fs::remove_dir(d);
        }
    }
}

fn dirs(v: &Version) -> Vec<&Path> {
    match v {
        Version::V2 { dir } => vec![dir],
        Version::V1 {
            memory,
            pids,
            cpuacct,
        } => vec![memory, pids, cpuacct],
    }
}

fn make(dir: &Path) -> Result<(), CgroupError> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(dir)(e)),
    }
}

/// Remove `j<pid>` folders of judges that no longer run (their runs died with them:
/// bubblewrap's `--die-with-parent`), and their runs' folders.
fn sweep(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix('j').and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        if let Ok(runs) = std::fs::read_dir(e.path()) {
            for r in runs.flatten() {
                if r.path().is_dir() {
                    kill_in(&r.path());
                    let _ = std::fs::remove_dir(r.path());
                }
            }
        }
        let _ = std::fs::remove_dir(e.path());
    }
}

/// SIGKILL every process listed in `dir/cgroup.procs`.
fn kill_in(dir: &Path) -> usize {
    let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return 0;
    };
    let mut n = 0;
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        n += 1;
    }
    n
}

/// The cgroup of one run; [`RunCgroup::destroy`] kills what is left and removes it.
#[derive(Debug)]
pub struct RunCgroup {
    version: Version,
}

impl RunCgroup {
    /// The `cgroup.procs` files a process writes its pid to, to join this cgroup.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        dirs(&self.version)
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect()
    }

    /// CPU time used so far by the run's processes (polled while it runs).
    pub fn cpu_ns(&self) -> Result<u64, CgroupError> {
        match &self.version {
            Version::V2 { dir } => {
                Ok(keyed(&dir.join("cpu.stat"), "usage_usec")?.saturating_mul(1000))
            }
            Version::V1 { cpuacct, .. } => read_u64(&cpuacct.join("cpuacct.usage")),
        }
    }

    /// What the run used. Read after its processes are gone.
    pub fn usage(&self) -> Result<Usage, CgroupError> {
        match &self.version {
            Version::V2 { dir } => {
                let cpu_us = keyed(&dir.join("cpu.stat"), "usage_usec")?;
                // memory.peak exists from Linux 5.19; older kernels report no peak.
                let peak = read_u64(&dir.join("memory.peak")).unwrap_or(0);
                let events = dir.join("memory.events");
                Ok(Usage {
                    cpu_ns: cpu_us.saturating_mul(1000),
                    memory_peak: peak,
                    oom_killed: keyed(&events, "oom_kill")? > 0,
                    limit_hit: keyed(&events, "max")? > 0,
                })
            }
            Version::V1 {
                memory, cpuacct, ..
            } => {
                let cpu_ns = read_u64(&cpuacct.join("cpuacct.usage"))?;
                let peak = read_u64(&memory.join("memory.max_usage_in_bytes"))?;
                let failcnt = read_u64(&memory.join("memory.failcnt"))?;
                // oom_kill appears in memory.oom_control from Linux 4.13.
                let oom = keyed(&memory.join("memory.oom_control"), "oom_kill").unwrap_or(0);
                Ok(Usage {
                    cpu_ns,
                    memory_peak: peak,
                    oom_killed: oom > 0,
                    limit_hit: failcnt > 0,
                })
            }
        }
    }

    /// SIGKILL every process still in the cgroup, until it is empty (bounded).
    pub async fn kill_all(&self) {
        for _ in 0..100 {
            let n = match &self.version {
                Version::V2 { dir } => {
                    // cgroup.kill (Linux 5.14) kills the whole subtree at once.
                    let _ = std::fs::write(dir.join("cgroup.kill"), "1");
                    kill_in(dir)
                }
                Version::V1 { memory, pids, .. } => kill_in(memory) + kill_in(pids),
            };
            if n == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tracing::warn!(cgroup = ?self.version, "processes survive SIGKILL in a run's cgroup");
    }

    /// Kill what is left and remove the cgroup's folders (retrying while the kernel
    /// finishes tearing the processes down).
    pub async fn destroy(self) {
        self.kill_all().await;
        for d in dirs(&self.version) {
            let mut removed = false;
            for _ in 0..200 {
                match std::fs::remove_dir(d) {
                    Ok(()) => {
                        removed = true;
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        removed = true;
                        break;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
            if !removed {
                tracing::warn!(dir = %d.display(), "a run's cgroup could not be removed");
            }
        }
    }
}
