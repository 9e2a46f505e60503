//! What this host provides — the isolation layers and the languages — and the judge
//! built on them. A judge refuses to start (and so to run untrusted code) when a
//! required layer is missing; `arena judge --check` prints the same findings.

use std::path::{Path, PathBuf};

use sha2::Digest;

use super::cgroup::Cgroups;
use super::language::{self, CPP_FLAGS, Detected, PCH};
use super::runner::{COMPILE_CPU_MS, COMPILE_MEMORY, COMPILE_OUTPUT, COMPILE_WALL_MS, Judge, PIDS};
use super::sandbox::{Bind, End, FSIZE_BYTES, Sandbox, Spec};

/// The precompiled `bits/stdc++.h` is large (about 200 MB with g++ 12).
const PCH_FILE_BYTES: u64 = 1024 * 1024 * 1024;

/// Where a judge finds its tools and keeps its files.
#[derive(Debug, Clone)]
pub struct HostSetup {
    /// Jobs (`j<pid>/`) and the precompiled header cache live here.
    pub work_dir: PathBuf,
    pub bwrap: PathBuf,
    /// The `arena` binary (for `arena judge-exec`).
    pub helper: PathBuf,
    pub cgroup_root: PathBuf,
}

/// One isolation layer and whether this host has it.
#[derive(Debug, Clone)]
pub struct Layer {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    /// How to get it, when missing.
    pub fix: &'static str,
}

/// The judge could not start: a required layer is missing, or its folders failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("refusing to run untrusted code: {}", missing(.0))]
    MissingLayers(Vec<Layer>),
    #[error("work folder {path}: {source}")]
    Work {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn missing(layers: &[Layer]) -> String {
    layers
        .iter()
        .filter(|l| !l.ok)
        .map(|l| format!("{} missing ({}; {})", l.name, l.detail, l.fix))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Probe every layer. Returns the sandbox when the required ones are all there.
pub async fn probe(setup: &HostSetup) -> (Vec<Layer>, Option<Sandbox>) {
    let mut layers = Vec::new();
    let bwrap_ok = setup.bwrap.is_file();
    layers.push(Layer {
        name: "namespaces (bubblewrap)",
        ok: bwrap_ok,
        detail: if bwrap_ok {
            format!("{}", setup.bwrap.display())
        } else {
            format!("no {}", setup.bwrap.display())
        },
        fix: "apt-get install bubblewrap",
    });
    let seccomp = super::seccomp::filter();
    layers.push(Layer {
        name: "seccomp deny-list",
        ok: seccomp.is_ok(),
        detail: match &seccomp {
            Ok(f) => format!(
                "{} BPF instructions: {}",
                f.len() / 8,
                super::seccomp::DENIED_SUMMARY
            ),
            Err(e) => e.to_string(),
        },
        fix: "run the judge on x86_64 or aarch64",
    });
    let cgroups = Cgroups::setup(&setup.cgroup_root);
    layers.push(Layer {
        name: "cgroup (memory, pids, cpu usage)",
        ok: cgroups.is_ok(),
        detail: match &cgroups {
            Ok(c) => format!("cgroup {} under {}", c.name(), setup.cgroup_root.display()),
            Err(e) => e.to_string(),
        },
        fix: "run the judge as root with cgroupfs mounted read-write at /sys/fs/cgroup",
    });
    let (Ok(cgroups), true) = (cgroups, bwrap_ok) else {
        return (layers, None);
    };
    let stage = setup.work_dir.join("stage");
    let sandbox = match Sandbox::new(&setup.bwrap, &setup.helper, cgroups, &stage) {
        Ok(s) => s,
        Err(e) => {
            layers.push(Layer {
                name: "sandbox",
                ok: false,
                detail: e.to_string(),
                fix: "apt-get install bubblewrap",
            });
            return (layers, None);
        }
    };
    // The whole stack at once: helper (cgroup, rlimits, seccomp, uid), bubblewrap's
    // namespaces, a program inside.
    let o = sandbox
        .run(&Spec {
            argv: vec!["/bin/sh".into(), "-c".into(), "exit 0".into()],
            binds: vec![],
            env: vec![],
            cwd: "/tmp".into(),
            stdin: vec![],
            cpu_ms: 2_000,
            wall_ms: 10_000,
            memory_bytes: 64 << 20,
            output_bytes: 4096,
            pids: 8,
            file_bytes: FSIZE_BYTES,
        })
        .await;
    let ok = o.end == End::Exited(0);
    layers.push(Layer {
        name: "sandboxed run (user, pid, net, mount namespaces; rlimits; uid 65534)",
        ok,
        detail: if ok {
            format!("a shell ran inside in {} ms", o.wall_ms)
        } else {
            format!("{:?} {}", o.end, String::from_utf8_lossy(&o.stderr).trim())
        },
        fix: "allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0)",
    });
    if !ok {
        return (layers, None);
    }
    (layers, Some(sandbox))
}

/// Start a judge: probe the layers (refusing when one is missing), build the C++
/// precompiled header once (cached by g++ version and flags), detect the languages.
pub async fn start(setup: &HostSetup) -> Result<(Judge, Vec<Layer>), StartError> {
    let (layers, sandbox) = probe(setup).await;
    let Some(sandbox) = sandbox else {
        return Err(StartError::MissingLayers(layers));
    };
    let work = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StartError::Work { path, source }
    };
    std::fs::create_dir_all(&setup.work_dir).map_err(work(&setup.work_dir))?;
    sweep(&setup.work_dir);
    let jobs = setup.work_dir.join(format!("j{}", std::process::id()));
    std::fs::create_dir_all(&jobs).map_err(work(&jobs))?;

    let first = language::detect(Path::new(PCH), false).await;
    let pch = match (&first.stdcpp_header, first.find("cpp")) {
        (Some(header), Some(cpp)) => {
            precompile(&sandbox, &setup.work_dir, header, &cpp.version).await
        }
        _ => None,
    };
    let detected = match &pch {
        Some(dir) => language::detect(dir, true).await,
        None => first,
    };
    Ok((Judge::new(sandbox, detected, jobs), layers))
}

/// Remove job folders of judges on this host that are gone.
fn sweep(work: &Path) {
    let Ok(entries) = std::fs::read_dir(work) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix('j').and_then(|p| p.parse::<u32>().ok())
            && !Path::new("/proc").join(pid.to_string()).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Build `bits/stdc++.h.gch` inside the sandbox into `<work>/pch-<key>/`, unless it is
/// there already; `None` when it cannot be built (C++ then compiles without it).
async fn precompile(
    sandbox: &Sandbox,
    work: &Path,
    header: &Path,
    version: &str,
) -> Option<PathBuf> {
    let key = hex(&sha2::Sha256::digest(format!(
        "{version} {}",
        CPP_FLAGS.join(" ")
    )))[..16]
        .to_string();
    let dir = work.join(format!("pch-{key}"));
    if dir.join("bits/stdc++.h.gch").is_file() {
        return Some(dir);
    }
    // Built in a folder of our own, then renamed: judges starting together never see
    // a half-written header.
    let build = work.join(format!("pch-build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&build);
    std::fs::create_dir_all(build.join("bits")).ok()?;
    if let Some((uid, gid)) = sandbox.host_ids() {
        for d in [build.clone(), build.join("bits")] {
            nix::unistd::chown(
                &d,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )
            .ok()?;
        }
    }
    let mut argv = vec!["/usr/bin/g++".to_string()];
    argv.extend(CPP_FLAGS.iter().map(|s| s.to_string()));
    argv.extend([
        "-x".into(),
        "c++-header".into(),
        header.to_string_lossy().into_owned(),
        "-o".into(),
        format!("{PCH}/bits/stdc++.h.gch"),
    ]);
    let o = sandbox
        .run(&Spec {
            argv,
            binds: vec![Bind {
                host: build.clone(),
                inside: PCH.into(),
                writable: true,
            }],
            env: vec![],
            cwd: "/tmp".into(),
            stdin: vec![],
            cpu_ms: COMPILE_CPU_MS * 4,
            wall_ms: COMPILE_WALL_MS * 4,
            memory_bytes: COMPILE_MEMORY,
            output_bytes: COMPILE_OUTPUT,
            pids: PIDS,
            file_bytes: PCH_FILE_BYTES,
        })
        .await;
    if o.end != End::Exited(0) {
        tracing::warn!(end = ?o.end, stderr = %String::from_utf8_lossy(&o.stderr), "precompiled header not built; C++ compiles without it");
        let _ = std::fs::remove_dir_all(&build);
        return None;
    }
    // Back to the judge's own uid: no sandboxed process (they run as 65534 on the host)
    // may ever change the header later compilations read.
    let me = (nix::unistd::geteuid(), nix::unistd::getegid());
    for p in [
        build.join("bits/stdc++.h.gch"),
        build.join("bits"),
        build.clone(),
    ] {
        nix::unistd::chown(&p, Some(me.0), Some(me.1)).ok()?;
    }
    if std::fs::rename(&build, &dir).is_err() {
        // Another judge renamed its copy first: use that one.
        let _ = std::fs::remove_dir_all(&build);
    }
    dir.join("bits/stdc++.h.gch").is_file().then_some(dir)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `arena judge --check`: the layers and languages, one line each.
pub fn render(layers: &[Layer], detected: Option<&Detected>) -> String {
    let mut s = String::from("isolation layers:\n");
    for l in layers {
        let mark = if l.ok { "ok     " } else { "MISSING" };
        s.push_str(&format!("  {mark} {}: {}\n", l.name, l.detail));
        if !l.ok {
            s.push_str(&format!("          fix: {}\n", l.fix));
        }
    }
    if let Some(d) = detected {
        s.push_str("languages:\n");
        for l in &d.languages {
            let note = l
                .note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            s.push_str(&format!("  ok      {} {}{note}\n", l.name, l.version));
        }
        for (name, why) in &d.missing {
            s.push_str(&format!("  absent  {name}: {why}\n"));
        }
    }
    s
}
