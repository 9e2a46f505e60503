//! The seccomp deny-list every sandboxed process runs under, as a classic BPF program
//! for bubblewrap's `--seccomp FD`.
//!
//! Written here rather than with `seccompiler`: that crate matches exact syscall numbers
//! only, so it cannot refuse the whole x32 ABI (numbers with bit 30 set, which report
//! the x86-64 audit arch and would slip past a deny-list keyed on x86-64 numbers), and
//! it cannot test a flag bit of `clone`'s first argument. The program is small, has no
//! loops by construction, and the tests below run it through a BPF interpreter.
//!
//! Order: wrong arch -> kill; x32 -> kill; a denied syscall -> its errno; `clone` asking
//! for a new namespace -> EPERM; anything else -> allow. Namespaces, cgroups and rlimits
//! are the other layers; this one closes kernel surfaces a judged program never needs.

use nix::libc;

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
/// BPF_LD | BPF_W | BPF_ABS (0x00 | 0x00 | 0x20).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_JMP_JSET_K: u16 = 0x05 | 0x40;
const BPF_RET_K: u16 = 0x06;

// Seccomp return actions (linux/seccomp.h).
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_ALLOW: u32 = 0x7fff_0000;

// Offsets in `struct seccomp_data`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARG0_LOW: u32 = 16; // little-endian: the low half of args[0]

/// x32 syscalls carry this bit in their number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_003E);
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_00B7);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const AUDIT_ARCH: Option<u32> = None;

/// `clone` flags that make a new namespace (sched.h); a judged program never needs one.
const CLONE_NEW_ANY: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u32;

/// The denied syscalls and the errno each returns. `clone3` and io_uring answer ENOSYS
/// so that glibc and libuv fall back to `clone` (checked below) and plain syscalls.
fn denied() -> Vec<(libc::c_long, i32)> {
    let eperm = libc::EPERM;
    let enosys = libc::ENOSYS;
    vec![
        (libc::SYS_socket, eperm),
        (libc::SYS_ptrace, eperm),
        (libc::SYS_process_vm_readv, eperm),
        (libc::SYS_process_vm_writev, eperm),
        (libc::SYS_mount, eperm),
        (libc::SYS_umount2, eperm),
        (libc::SYS_pivot_root, eperm),
        (libc::SYS_chroot, eperm),
        (libc::SYS_unshare, eperm),
        (libc::SYS_setns, eperm),
        (libc::SYS_bpf, eperm),
        (libc::SYS_perf_event_open, eperm),
        (libc::SYS_keyctl, eperm),
        (libc::SYS_add_key, eperm),
        (libc::SYS_request_key, eperm),
        (libc::SYS_userfaultfd, eperm),
        (libc::SYS_kexec_load, eperm),
        (libc::SYS_kexec_file_load, eperm),
        (libc::SYS_init_module, eperm),
        (libc::SYS_finit_module, eperm),
        (libc::SYS_delete_module, eperm),
        (libc::SYS_open_by_handle_at, eperm),
        (libc::SYS_name_to_handle_at, eperm),
        (libc::SYS_fanotify_init, eperm),
        (libc::SYS_swapon, eperm),
        (libc::SYS_swapoff, eperm),
        (libc::SYS_reboot, eperm),
        (libc::SYS_acct, eperm),
        (libc::SYS_syslog, eperm),
        (libc::SYS_move_mount, eperm),
        (libc::SYS_open_tree, eperm),
        (libc::SYS_fsopen, eperm),
        (libc::SYS_fsmount, eperm),
        (libc::SYS_fspick, eperm),
        (libc::SYS_mount_setattr, eperm),
        (libc::SYS_io_uring_setup, enosys),
        (libc::SYS_io_uring_enter, enosys),
        (libc::SYS_io_uring_register, enosys),
        (libc::SYS_clone3, enosys),
    ]
}

/// This architecture has no filter here.
#[derive(Debug, thiserror::Error)]
#[error("seccomp: no filter for this CPU architecture (x86_64 and aarch64 only)")]
pub struct UnsupportedArch;

/// One BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

const fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

fn program() -> Result<Vec<Insn>, UnsupportedArch> {
    let arch = AUDIT_ARCH.ok_or(UnsupportedArch)?;
    let mut p = vec![
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        jump(BPF_JMP_JEQ_K, arch, 1, 0),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFF_NR),
    ];
    if cfg!(target_arch = "x86_64") {
        p.push(jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 1));
        p.push(stmt(BPF_RET_K, RET_KILL_PROCESS));
    }
    for (nr, errno) in denied() {
        p.push(jump(BPF_JMP_JEQ_K, nr as u32, 0, 1));
        p.push(stmt(BPF_RET_K, RET_ERRNO | (errno as u32 & 0xffff)));
    }
    p.extend([
        jump(BPF_JMP_JEQ_K, libc::SYS_clone as u32, 0, 3),
        stmt(BPF_LD_W_ABS, OFF_ARG0_LOW),
        jump(BPF_JMP_JSET_K, CLONE_NEW_ANY, 0, 1),
        stmt(BPF_RET_K, RET_ERRNO | libc::EPERM as u32),
        stmt(BPF_RET_K, RET_ALLOW),
    ]);
    Ok(p)
}

/// The filter as bubblewrap reads it from `--seccomp FD`: `struct sock_filter`s in
/// native byte order, back to back.
pub fn filter() -> Result<Vec<u8>, UnsupportedArch> {
    let mut out = Vec::new();
    for i in program()? {
        out.extend_from_slice(&i.code.to_ne_bytes());
        out.push(i.jt);
        out.push(i.jf);
        out.extend_from_slice(&i.k.to_ne_bytes());
    }
    Ok(out)
}

/// The names of the denied syscalls, for `arena judge --check`.
pub const DENIED_SUMMARY: &str = "socket ptrace process_vm_* mount umount2 pivot_root chroot \
     unshare setns bpf perf_event_open keyctl add_key request_key userfaultfd kexec_* \
     *_module open_by_handle_at fanotify_init swapon/off reboot acct syslog new mount API \
     io_uring_* clone3, clone with CLONE_NEW*, the x32 ABI";

#[cfg(test)]
mod tests {
    use super::*;

    /// Run the program on one syscall, as the kernel would (classic BPF, the subset used).
    fn eval(p: &[Insn], arch: u32, nr: u32, arg0: u32) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            pc += 1;
            match i.code {
                BPF_LD_W_ABS => {
                    acc = match i.k {
                        OFF_NR => nr,
                        OFF_ARCH => arch,
                        OFF_ARG0_LOW => arg0,
                        k => panic!("load of offset {k}"),
                    }
                }
                BPF_RET_K => return i.k,
                c => {
                    let taken = match c {
                        BPF_JMP_JEQ_K => acc == i.k,
                        BPF_JMP_JGE_K => acc >= i.k,
                        BPF_JMP_JSET_K => acc & i.k != 0,
                        c => panic!("opcode {c:#x}"),
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
            }
        }
    }

    #[test]
    fn denies_what_it_lists_and_allows_the_rest() {
        let p = program().unwrap();
        let arch = AUDIT_ARCH.unwrap();
        let errno = |e: i32| RET_ERRNO | e as u32;
        let nr = |n: libc::c_long| n as u32;
        assert_eq!(eval(&p, arch, nr(libc::SYS_socket), 0), errno(libc::EPERM));
        assert_eq!(eval(&p, arch, nr(libc::SYS_ptrace), 0), errno(libc::EPERM));
        assert_eq!(
            eval(&p, arch, nr(libc::SYS_io_uring_setup), 0),
            errno(libc::ENOSYS)
        );
        assert_eq!(eval(&p, arch, nr(libc::SYS_clone3), 0), errno(libc::ENOSYS));
        assert_eq!(eval(&p, arch, nr(libc::SYS_read), 0), RET_ALLOW);
        assert_eq!(eval(&p, arch, nr(libc::SYS_write), 0), RET_ALLOW);
        assert_eq!(eval(&p, arch, nr(libc::SYS_exit_group), 0), RET_ALLOW);
        // A thread or a fork is fine; a new namespace is not.
        let thread = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u32;
        assert_eq!(eval(&p, arch, nr(libc::SYS_clone), thread), RET_ALLOW);
        let userns = libc::CLONE_NEWUSER as u32;
        assert_eq!(
            eval(&p, arch, nr(libc::SYS_clone), userns),
            errno(libc::EPERM)
        );
        // Another arch (e.g. i386 through int 0x80) is killed.
        assert_eq!(eval(&p, 0x4000_0003, 1, 0), RET_KILL_PROCESS);
        if cfg!(target_arch = "x86_64") {
            let x32_socket = X32_SYSCALL_BIT | nr(libc::SYS_socket);
            assert_eq!(eval(&p, arch, x32_socket, 0), RET_KILL_PROCESS);
        }
    }

    #[test]
    fn serialises_eight_bytes_per_instruction_with_jumps_in_bounds() {
        let p = program().unwrap();
        assert_eq!(filter().unwrap().len(), p.len() * 8);
        for (pc, i) in p.iter().enumerate() {
            if i.code != BPF_LD_W_ABS && i.code != BPF_RET_K {
                assert!(pc + 1 + usize::from(i.jt.max(i.jf)) < p.len());
            }
        }
        assert!(p.len() < 4096, "BPF_MAXINSNS");
    }
}
