"""The seccomp filter of the sandboxed process, compiled by libseccomp.

Why a filter on top of the namespaces: EvalPlus's own guard already takes ``os.fork``
and ``subprocess`` away from the code under test, so no solution that EvalPlus can pass
creates processes; but the guard is Python-level and ``_posixsubprocess.fork_exec`` or
``ctypes`` get around it. Refusing process creation in the kernel makes a fork bomb,
a ``setsid`` daemon or a memory hog split over many processes impossible outright (the
PID namespace then only has to clean up threads), and keeps the whole check inside one
address space that ``RLIMIT_AS`` bounds. Threads stay allowed (``clone`` with
``CLONE_THREAD``); ``clone3`` answers ENOSYS, so the C library falls back to ``clone``.

Also refused: the calls that create or enter namespaces or mounts, ptrace and the
kernel interfaces no test needs (keyrings, BPF, perf, userfaultfd, io_uring, modules).
Syscalls of another architecture (32-bit ``int 0x80`` on x86-64) kill the process:
libseccomp's default for a foreign architecture.

The filter is built with libseccomp (``libseccomp2``, present wherever apt is) through
ctypes and handed to bubblewrap as a compiled BPF program (``bwrap --seccomp FD``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os

from evaluations.sandbox.errors import SandboxUnavailable

_ACT_ALLOW = 0x7FFF0000
_CMP_MASKED_EQ = 7  # enum scmp_compare
_CLONE_THREAD = 0x00010000

# Refused with EPERM (process creation, namespaces, mounts, tracing, kernel surfaces).
DENIED = (
    "fork", "vfork", "unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
    "mount_setattr", "fsopen", "fsmount", "fsconfig", "move_mount", "open_tree", "fspick",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "open_by_handle_at", "name_to_handle_at", "acct", "swapon", "swapoff", "reboot",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog", "quotactl",
)


class SeccompUnavailable(SandboxUnavailable):
    """libseccomp is missing or refused to build the filter."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)  # SCMP_ACT_ERRNO(code)


def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise SeccompUnavailable(
            f"libseccomp not found ({exc}); install it: apt-get install -y libseccomp2"
        ) from exc
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


@functools.cache
def filter_program() -> bytes:
    """The compiled BPF program (``struct sock_filter`` array) bwrap loads with
    ``--seccomp``. Built once per process; raises :class:`SeccompUnavailable`."""
    lib = _library()
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        raise SeccompUnavailable("seccomp_init failed")
    try:
        def rule(action: int, name: str, *conditions: _ArgCmp) -> None:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:  # not a syscall on this architecture (e.g. vfork on aarch64)
                return
            array = (_ArgCmp * len(conditions))(*conditions) if conditions else None
            rc = lib.seccomp_rule_add_array(ctx, action, number, len(conditions), array)
            if rc < 0:
                raise SeccompUnavailable(f"seccomp_rule_add({name}) failed: {os.strerror(-rc)}")

        for name in DENIED:
            rule(_errno_action(errno.EPERM), name)
        # clone without CLONE_THREAD creates a process: refused; with it, a thread: allowed.
        rule(_errno_action(errno.EPERM), "clone",
             _ArgCmp(arg=0, op=_CMP_MASKED_EQ, datum_a=_CLONE_THREAD, datum_b=0))
        rule(_errno_action(errno.ENOSYS), "clone3")
        fd = os.memfd_create("workbench-seccomp-export", os.MFD_CLOEXEC)
        try:
            rc = lib.seccomp_export_bpf(ctx, fd)
            if rc < 0:
                raise SeccompUnavailable(f"seccomp_export_bpf failed: {os.strerror(-rc)}")
            size = os.lseek(fd, 0, os.SEEK_END)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


def program_fd() -> int:
    """A fresh readable fd holding :func:`filter_program` (bwrap reads it to the end);
    the caller passes it to bwrap and closes it afterwards."""
    fd = os.memfd_create("workbench-seccomp", os.MFD_CLOEXEC)
    os.write(fd, filter_program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
