//! Resource usage of this process (RSS and CPU time), for /status, /metrics and benches.

/// A snapshot of this process's resource use.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub rss_bytes: u64,
    pub cpu_seconds: f64,
}

/// Read RSS from /proc/self/statm and CPU time from getrusage; zeros where unavailable.
pub fn usage() -> Usage {
    let rss_bytes = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map(|pages| pages * page_size())
        .unwrap_or(0);
    let cpu_seconds = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .map(|u| {
            let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
            t(u.user_time()) + t(u.system_time())
        })
        .unwrap_or(0.0);
    Usage {
        rss_bytes,
        cpu_seconds,
    }
}

fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map(|v| v as u64)
        .unwrap_or(4096)
}

/// The most open files a process may be allowed (`fs.nr_open`'s usual value).
const FD_CEILING: u64 = 1 << 20;

/// Raise the open-files limit as far as this process may: every client is a socket. A
/// privileged process (root, or CAP_SYS_RESOURCE) raises the hard limit too, up to
/// `fs.nr_open`, so a server or a bench holding 100k sockets needs no `ulimit` by hand;
/// any other raises its soft limit to the hard one. Returns the soft limit now in force.
pub fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(FD_CEILING)
        .min(FD_CEILING);
    if hard < ceiling && setrlimit(Resource::RLIMIT_NOFILE, ceiling, ceiling).is_ok() {
        return ceiling;
    }
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return hard;
    }
    soft
}
