"""Confine a process (and every process it forks) so it can only write under given dirs.

EvalPlus runs model-generated code in a forked child after its ``reliability_guard``,
which removes dangerous functions (``os.remove``, ``builtins.open``…) but, as its own
docstring says, is *not* a sandbox: ``pathlib.Path.write_text`` or ``io.open`` still
write anywhere. The evaluation worker processes therefore confine themselves first, in
two independent layers:

1. **Landlock** (Linux ≥ 5.13, unprivileged, kernel-enforced, inherited by children and
   irrevocable): every write-like file-system access is denied except beneath the allowed
   directories; with ABI ≥ 4 all TCP bind/connect is denied; with ABI ≥ 6 the process
   cannot signal processes outside its domain (it cannot kill the evaluator).
2. **A Python audit hook** (``sys.addaudithook``; cannot be removed from Python code):
   refuses write-mode opens, removals, renames, directory creation, links, chmod and
   ``ctypes`` loading outside the allowed directories. This is the layer that still
   works where Landlock is unavailable.

Reads stay allowed everywhere: the code under test needs the standard library.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterable
from pathlib import Path

# --- Landlock ABI (include/uapi/linux/landlock.h); x86-64 and aarch64 share these numbers.
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_O_PATH = getattr(os, "O_PATH", 0o10000000)

_FS_WRITE_FILE = 1 << 1
_FS_REMOVE_DIR = 1 << 4
_FS_REMOVE_FILE = 1 << 5
_FS_MAKE_ALL = sum(1 << b for b in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is unavailable."""
    if not sys.platform.startswith("linux"):
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(version), 0)


def apply_landlock(writable: Iterable[Path]) -> int:
    """Deny writes outside ``writable`` (plus TCP and outward signals where supported).

    Returns the ABI version applied, or 0 when Landlock is unavailable (nothing done).
    Raises OSError when the kernel refuses a rule (e.g. a path that does not exist).
    """
    abi = landlock_abi()
    if abi <= 0:
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    write_rights = _FS_WRITE_FILE | _FS_REMOVE_DIR | _FS_REMOVE_FILE | _FS_MAKE_ALL
    if abi >= 2:
        write_rights |= _FS_REFER
    if abi >= 3:
        write_rights |= _FS_TRUNCATE
    attr = _RulesetAttr(handled_access_fs=write_rights)
    size = 8
    if abi >= 4:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL
        size = 24
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path in writable:
            fd = os.open(str(path), _O_PATH | os.O_CLOEXEC)
            try:
                rights = write_rights if os.path.isdir(path) else write_rights & (
                    _FS_WRITE_FILE | _FS_TRUNCATE
                )
                rule = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
                if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0):
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0):
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0):
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


# Audit events whose first argument is a path that gets modified.
_PATH_EVENTS = frozenset(
    {"os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "os.chown", "os.utime",
     "os.mkfifo", "os.mknod", "shutil.rmtree", "os.chflags", "os.lchflags", "os.setxattr",
     "os.removexattr"}
)
# Audit events whose first two arguments are both paths that get modified/created.
_TWO_PATH_EVENTS = frozenset({"os.rename", "os.link", "os.symlink", "shutil.move", "shutil.copyfile"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Escape hatches that would bypass every Python-level check.
_FORBIDDEN_EVENTS = frozenset({"ctypes.dlopen", "ctypes.dlsym", "os.exec",
                               "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen"})
# Allowed only to the process that installed the hook (the evaluation worker), which
# forks EvalPlus's per-check child and must be able to kill it on timeout.
_OWNER_ONLY_EVENTS = frozenset({"os.fork", "os.forkpty", "os.kill", "os.killpg"})


def install_audit_guard(writable: Iterable[Path]) -> None:
    """Refuse, through a permanent audit hook, Python-level writes outside ``writable``.

    Only the installing process may fork or send signals (EvalPlus forks one child per
    check and kills it on timeout; that child, which runs the untrusted code, inherits the
    hook and may neither fork — no fork bomb — nor signal anyone). ``ctypes`` library
    loading, ``os.system``, ``exec*`` and ``subprocess`` are refused to everyone.
    Everything is resolved with functions captured now, because EvalPlus's
    ``reliability_guard`` later sets ``os.getcwd`` & co. to ``None``.
    """
    roots = tuple(os.path.realpath(p) for p in writable)
    realpath, fsdecode, getcwd, join = os.path.realpath, os.fsdecode, os.getcwd, os.path.join
    getpid = os.getpid
    owner = getpid()

    def inside(path: object) -> bool:
        if isinstance(path, int) or path is None:  # an already-open descriptor
            return True
        name = fsdecode(path)
        full = realpath(name if name.startswith("/") else join(getcwd(), name))
        return any(full == r or full.startswith(r + "/") for r in roots)

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing and not inside(path):
                raise PermissionError(f"sandbox: writing {path!r} is not allowed")
        elif event in _PATH_EVENTS:
            if args and not inside(args[0]):
                raise PermissionError(f"sandbox: {event} on {args[0]!r} is not allowed")
        elif event in _TWO_PATH_EVENTS:
            if len(args) >= 2 and not (inside(args[0]) and inside(args[1])):
                raise PermissionError(f"sandbox: {event} outside the sandbox is not allowed")
        elif event in _FORBIDDEN_EVENTS or (
            event in _OWNER_ONLY_EVENTS and getpid() != owner
        ):
            raise PermissionError(f"sandbox: {event} is not allowed")

    sys.addaudithook(hook)


def confine_to(writable: Iterable[Path]) -> str:
    """Apply both layers; returns a short description of what is active (for results)."""
    dirs = [Path(p) for p in writable]
    abi = apply_landlock(dirs)
    install_audit_guard(dirs)
    return f"landlock-abi{abi}+audit-hook" if abi else "audit-hook"
