/* Each call the seccomp deny-list covers, and the errno it gets. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
static void try(const char *name, long r) { printf("%s=%s ", name, r == -1 && errno == EPERM ? "EPERM" : r == -1 && errno == ENOSYS ? "ENOSYS" : "ALLOWED"); }
int main(void) {
    try("ptrace", syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0));
    try("unshare", syscall(SYS_unshare, CLONE_NEWUSER));
    try("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0));
    try("bpf", syscall(SYS_bpf, 0, 0, 0));
    try("keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
    try("perf_event_open", syscall(SYS_perf_event_open, 0, 0, -1, -1, 0));
    try("userfaultfd", syscall(SYS_userfaultfd, 0));
    try("setns", syscall(SYS_setns, 0, 0));
    try("clone_newns", syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0));
    try("io_uring_setup", syscall(SYS_io_uring_setup, 1, 0));
    try("clone3", syscall(SYS_clone3, 0, 0));
    puts("");
    return 0;
}
