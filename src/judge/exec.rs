//! `arena judge-exec`: the few steps between the judge and bubblewrap that must happen
//! in the sandboxed process itself, before it becomes bubblewrap.
//!
//! The crate forbids `unsafe`, so the judge cannot use `pre_exec` to run code in the
//! child between fork and exec. Instead it spawns its own binary in this hidden mode,
//! which (single-threaded, nothing else running) joins the run's cgroup, sets its
//! rlimits, writes the seccomp filter into a pipe that stays open across exec, drops to
//! an unprivileged uid when it runs as root, and execs bubblewrap. Joining the cgroup
//! *before* bubblewrap starts is the point: a fork bomb cannot fork before it is counted,
//! and no pid has to be moved later (which would race with the process's own forks).
//! `prlimit(1)` on a spawned pid would have the same race for rlimits.

use std::os::fd::IntoRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use nix::sys::resource::{Resource, setrlimit};

/// Exit code of this mode when a step failed (bubblewrap never started); the message
/// on stderr starts with [`FAILED_PREFIX`].
pub const FAILED_EXIT: i32 = 125;
pub const FAILED_PREFIX: &str = "arena judge-exec: ";

/// The hidden `arena judge-exec` arguments (built by `sandbox.rs`, not by people).
#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    /// `cgroup.procs` files to write this process's pid to.
    #[arg(long = "cgroup-procs")]
    pub cgroup_procs: Vec<PathBuf>,
    /// RLIMIT_CPU in seconds (soft; the hard limit is one more).
    #[arg(long)]
    pub cpu_secs: u64,
    /// RLIMIT_FSIZE: largest file the run may write (its /tmp is a capped tmpfs too).
    #[arg(long)]
    pub fsize: u64,
    /// RLIMIT_NOFILE.
    #[arg(long)]
    pub nofile: u64,
    /// RLIMIT_STACK (deep recursion is normal in judged programs; memory is capped by
    /// the cgroup anyway).
    #[arg(long)]
    pub stack: u64,
    /// Run as this uid and gid (when started as root).
    #[arg(long)]
    pub uid: Option<u32>,
    #[arg(long)]
    pub gid: Option<u32>,
    /// A host folder to show read-only inside, as `INSIDE=HOST`. bubblewrap runs as
    /// the sandbox's uid and could not reach a host path under a folder closed to it
    /// (a toolchain under a 0700 home), so this step, still root, bind-mounts HOST on a
    /// staging folder in a mount namespace of its own (gone with the run; the host's
    /// mounts are untouched) and bubblewrap binds the staging folder.
    #[arg(long = "ro")]
    pub ro: Vec<String>,
    /// The same, writable: the job folder during compilation.
    #[arg(long = "rw")]
    pub rw: Vec<String>,
    /// Empty folders the sandbox's uid can reach, one per bind (created by the judge).
    #[arg(long)]
    pub stage: Option<PathBuf>,
    /// Install the judge's seccomp filter (bubblewrap's `--seccomp FD` is added).
    #[arg(long)]
    pub seccomp: bool,
    /// bubblewrap and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// A step failed; bubblewrap was not started.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("joining cgroup {path}: {source}")]
    Cgroup {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("setrlimit {0:?}: {1}")]
    Rlimit(Resource, nix::Error),
    #[error("{0}")]
    Seccomp(#[from] super::seccomp::UnsupportedArch),
    #[error("seccomp pipe: {0}")]
    Pipe(nix::Error),
    #[error("dropping privileges: {0}")]
    Privileges(nix::Error),
    #[error("exec {0}: {1}")]
    Exec(String, std::io::Error),
    #[error("bind {0}: {1}")]
    Bind(String, nix::Error),
    #[error("binds given without --stage")]
    NoStage,
    #[error("no command")]
    NoCommand,
}

/// Do the steps and exec the command; returns only on failure.
pub fn exec(args: ExecArgs) -> ExecError {
    match prepare(&args) {
        Ok(cmd) => {
            let mut cmd = cmd;
            let e = cmd.exec();
            ExecError::Exec(args.command.first().cloned().unwrap_or_default(), e)
        }
        Err(e) => e,
    }
}

fn prepare(args: &ExecArgs) -> Result<std::process::Command, ExecError> {
    let pid = std::process::id().to_string();
    for path in &args.cgroup_procs {
        std::fs::write(path, &pid).map_err(|source| ExecError::Cgroup {
            path: path.clone(),
            source,
        })?;
    }
    let limit = |r: Resource, soft: u64, hard: u64| {
        setrlimit(r, soft, hard).map_err(|e| ExecError::Rlimit(r, e))
    };
    limit(Resource::RLIMIT_CPU, args.cpu_secs, args.cpu_secs + 1)?;
    limit(Resource::RLIMIT_FSIZE, args.fsize, args.fsize)?;
    limit(Resource::RLIMIT_NOFILE, args.nofile, args.nofile)?;
    limit(Resource::RLIMIT_STACK, args.stack, args.stack)?;
    limit(Resource::RLIMIT_CORE, 0, 0)?;

    let (program, rest) = args.command.split_first().ok_or(ExecError::NoCommand)?;
    let mut cmd = std::process::Command::new(program);
    if args.seccomp {
        let filter = super::seccomp::filter()?;
        // A pipe without O_CLOEXEC: bubblewrap inherits the read end and reads the
        // filter to EOF. The filter (a few hundred bytes) fits the pipe's buffer, so
        // writing it all before anyone reads cannot block.
        let (r, w) = nix::unistd::pipe().map_err(ExecError::Pipe)?;
        let mut written = 0;
        while written < filter.len() {
            written += nix::unistd::write(&w, &filter[written..]).map_err(ExecError::Pipe)?;
        }
        drop(w);
        let fd = r.into_raw_fd();
        cmd.arg("--seccomp").arg(fd.to_string());
    }
    let binds: Vec<(&String, bool)> = args
        .ro
        .iter()
        .map(|s| (s, false))
        .chain(args.rw.iter().map(|s| (s, true)))
        .collect();
    if !binds.is_empty() {
        let stage = args.stage.as_ref().ok_or(ExecError::NoStage)?;
        if nix::unistd::geteuid().is_root() {
            use nix::mount::{MsFlags, mount};
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
                .map_err(|e| ExecError::Bind("unshare".into(), e))?;
            // Nothing mounted here may propagate back to the host.
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .map_err(|e| ExecError::Bind("make mounts private".into(), e))?;
        }
        for (i, (spec, writable)) in binds.into_iter().enumerate() {
            let (inside, host) = spec
                .split_once('=')
                .ok_or_else(|| ExecError::Bind(spec.clone(), nix::Error::EINVAL))?;
            let source = if nix::unistd::geteuid().is_root() {
                use nix::mount::{MsFlags, mount};
                let target = stage.join(i.to_string());
                mount(
                    Some(host),
                    &target,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(|e| ExecError::Bind(spec.clone(), e))?;
                target.to_string_lossy().into_owned()
            } else {
                host.to_string()
            };
            let flag = if writable { "--bind" } else { "--ro-bind" };
            cmd.arg(flag).arg(source).arg(inside);
        }
    }
    cmd.args(rest);

    if let (Some(uid), Some(gid)) = (args.uid, args.gid) {
        use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};
        setgroups(&[]).map_err(ExecError::Privileges)?;
        setgid(Gid::from_raw(gid)).map_err(ExecError::Privileges)?;
        setuid(Uid::from_raw(uid)).map_err(ExecError::Privileges)?;
    }
    Ok(cmd)
}
