"""The sandbox's seccomp filter: allow by default, refuse (EPERM) what a model never needs and an escape would.

The list follows Docker's default profile for a container without capabilities, plus namespaces, new mount API,
io_uring and every socket family but AF_UNIX. Calls from a foreign ABI (i386, x32) kill the process.
"""

from __future__ import annotations

import errno
import os
import socket
import tempfile

# Each is refused with EPERM; names this libseccomp does not know on this architecture are skipped.
DENIED = (
    # debugging other processes, reading or writing their memory
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # mounts, roots and namespaces
    "mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns", "mount_setattr",
    "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
    "open_by_handle_at", "name_to_handle_at",
    # the kernel itself
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
    "query_module", "get_kernel_syms", "reboot", "swapon", "swapoff", "syslog", "acct", "quotactl",
    "quotactl_fd", "lookup_dcookie", "nfsservctl", "uselib", "ustat", "sysfs", "_sysctl", "vhangup",
    "iopl", "ioperm", "vm86", "vm86old",
    # clocks
    "settimeofday", "stime", "clock_settime", "clock_adjtime", "adjtimex",
    # kernel attack surface a model has no use for
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "fanotify_init",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # memory policy (Docker allows these only with CAP_SYS_NICE)
    "mbind", "set_mempolicy", "move_pages", "migrate_pages",
)

CLONE_NAMESPACES = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET


def build_filter() -> object:
    """The filter as a `pyseccomp.SyscallFilter` (imported here: only the deploy host needs libseccomp)."""
    import pyseccomp as seccomp

    arch = seccomp.system_arch()
    deny = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED:
        if seccomp.resolve_syscall(arch, name) >= 0:
            rules.add_rule(deny, name)
    # Sockets: only AF_UNIX (the runtime's own socket); no network, netlink or packet sockets.
    rules.add_rule(deny, "socket", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    rules.add_rule(deny, "socketpair", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    # clone may make threads and processes, never namespaces; clone3 hides its flags in memory, so glibc is told
    # it does not exist and falls back to clone.
    rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NAMESPACES, CLONE_NAMESPACES))
    if seccomp.resolve_syscall(arch, "clone3") >= 0:
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    # personality: only personality(0), which keeps the default Linux one; no ASLR switch-off or other ABI.
    rules.add_rule(deny, "personality", seccomp.Arg(0, seccomp.NE, 0))
    return rules


def bpf_file() -> int:
    """An open file descriptor (read position 0) holding the compiled BPF, for bwrap's `--seccomp FD`."""
    with tempfile.TemporaryFile() as handle:
        build_filter().export_bpf(handle)  # type: ignore[attr-defined]
        handle.flush()
        fd = os.dup(handle.fileno())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
