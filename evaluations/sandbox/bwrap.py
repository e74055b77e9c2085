"""The bubblewrap command line that isolates one check.

What the sandboxed process gets (and why):

* **Namespaces**: its own PID namespace (every descendant dies with the check; it sees no
  host process), network namespace (only its own loopback: no TCP, UDP or abstract UNIX
  socket reaches the host), IPC, UTS and cgroup namespaces, and its own mount namespace
  whose root is an empty tmpfs, made read-only once set up.
* **Files**: read-only binds of exactly what runs the check — ``/usr`` (the C library,
  ``setpriv``), the Python installation and the virtual environment it runs from, and the
  two harness files. No benchmark data, no home directory, no host ``/tmp`` (so no host
  pathname UNIX socket either), no ``/etc``, no ``/sys``. Private, size-capped tmpfs on
  ``/tmp`` and ``/dev/shm``; a fresh ``/proc`` of its PID namespace; a minimal ``/dev``.
* **No privilege**: as root, bwrap keeps only the three capabilities ``setpriv`` needs to
  switch to a uid of the check's own (never used by anything else, so per-user limits
  count that check alone) with an empty bounding set and ``no_new_privs``; as a normal
  user, bwrap runs unprivileged in a user namespace that cannot nest another. Either
  way real-time scheduling and negative nice values are refused.
* **A seccomp filter** (:mod:`evaluations.sandbox.seccomp`): no process creation, no
  namespace or mount calls.
* ``--die-with-parent`` (the sandbox dies when the evaluator does) and
  ``--new-session`` (no terminal injection); an environment of a few fixed variables.

Absence of bwrap is an error (:class:`SandboxUnavailable`), never a fallback.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from evaluations.sandbox.errors import SandboxUnavailable

INSTALL_HINT = ("install bubblewrap: `make sandbox` (or `apt-get install -y bubblewrap`, "
                "as root or with sudo)")
HARNESS_DIR = "/sandbox"  # where the harness files appear inside
# Uids handed to checks when the evaluator runs as root: far above any account range
# (useradd stops at 60000, systemd's dynamic users at 65519, container ranges at ~2^31
# only on request), one fresh uid per check.
_UID_BASE, _UID_SPAN = 0x50000000, 1 << 24
_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    # One thread per numeric library, as the old worker processes had.
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


@dataclass(frozen=True)
class SandboxSpec:
    """What one sandbox may use: tmpfs sizes and the fds the command reads/writes."""

    tmpfs_bytes: int
    seccomp_fd: int
    as_root: bool


# Searched after $PATH: where the Debian package puts it.
SYSTEM_DIRS = ("/usr/bin", "/bin")


def bwrap_path() -> str:
    """The bwrap executable; raises :class:`SandboxUnavailable` when there is none."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *SYSTEM_DIRS])
    found = shutil.which("bwrap", path=search)
    if not found:
        raise SandboxUnavailable(f"bubblewrap (bwrap) not found: generated code is never run "
                                 f"without it; {INSTALL_HINT}")
    return found


def setpriv_path() -> str:
    """util-linux's setpriv under /usr (it runs inside the sandbox, where /usr is bound)."""
    for path in ("/usr/bin/setpriv", "/usr/sbin/setpriv"):
        if os.access(path, os.X_OK):
            return path
    raise SandboxUnavailable("setpriv (util-linux) not found under /usr: as root the sandbox "
                             "needs it to drop to an unprivileged uid; apt-get install -y util-linux")


@functools.cache
def bwrap_version() -> str:
    """``bubblewrap X.Y.Z`` as the installed binary reports it."""
    result = subprocess.run([bwrap_path(), "--version"], capture_output=True, text=True,
                            timeout=30, env={"PATH": _ENV["PATH"]})
    return result.stdout.strip() or "bubblewrap (unknown version)"


def harness_files() -> dict[str, Path]:
    """Host paths of the files bound into the sandbox, by their name inside it."""
    here = Path(__file__).resolve().parent
    return {"harness.py": here / "harness.py", "codec.py": here / "codec.py", "codec_base.py": here / "codec_base.py"}


def _under_tmp(path: str) -> bool:
    return path == "/tmp" or path.startswith("/tmp/")


def _python_roots() -> list[str]:
    """Directories the interpreter needs: its installation and its virtual environment
    (both as spelled and resolved, since the venv links into the installation); those
    under ``/usr`` or inside another root are covered already."""
    found = {p for path in (sys.base_prefix, sys.base_exec_prefix, sys.prefix, sys.exec_prefix,
                            os.path.dirname(os.path.realpath(sys.executable)))
             for p in (os.path.abspath(path), os.path.realpath(path))}
    found.add("/usr")
    roots = [p for p in found
             if not any(p != q and (p.startswith(q.rstrip("/") + "/")) for q in found)]
    return sorted(p for p in roots if p != "/usr")


def _parents(path: str) -> list[str]:
    """Every proper ancestor of ``path`` below ``/``, outermost first."""
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _root_level_links() -> list[str]:
    """``/bin``, ``/lib``… as on the host: symlinks into /usr (merged /usr) or binds."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = f"/{name}"
        if os.path.islink(host):
            args += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            args += ["--ro-bind", host, host]
    return args


def fresh_uid() -> int:
    """A uid for one check when running as root (see module docstring)."""
    return _UID_BASE + secrets.randbelow(_UID_SPAN)


def command(spec: SandboxSpec, inner: list[str]) -> list[str]:
    """The full ``bwrap … -- inner`` command line for one check.

    ``inner`` is the command to run inside (the interpreter and its arguments); as root it
    is prefixed by the ``setpriv`` call that drops to the check's own uid.
    """
    args = [bwrap_path(), "--die-with-parent", "--new-session"]
    if spec.as_root:
        # Privileged mode: no user namespace, so the uid switch below is a real one.
        args += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                 "--unshare-cgroup", "--cap-drop", "ALL"]
        args += [a for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP") for a in ("--cap-add", cap)]
    else:
        args += ["--unshare-all", "--unshare-user", "--disable-userns"]
    roots = ["/usr", *_python_roots()]
    # A Python root under /tmp (a checkout or venv there) is bound after the private /tmp
    # tmpfs, which would otherwise hide it; nothing else of the host's /tmp is visible.
    binds = [r for r in roots if not _under_tmp(r)]
    late = [r for r in roots if _under_tmp(r)]
    made: set[str] = set()
    for target in [*binds, HARNESS_DIR + "/x"]:
        for parent in _parents(target):
            if parent not in made:  # bwrap would copy the host's mode (e.g. /root 0700)
                made.add(parent)
                args += ["--perms", "0755", "--dir", parent]
    args += _root_level_links()
    for path in binds:
        args += ["--ro-bind", path, path]
    for name, host_path in harness_files().items():
        args += ["--ro-bind", str(host_path), f"{HARNESS_DIR}/{name}"]
    size = str(spec.tmpfs_bytes)
    args += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
             "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]
    for path in late:
        args += [a for parent in _parents(path) if parent != "/tmp" for a in ("--dir", parent)]
        args += ["--ro-bind", path, path]
    args += ["--remount-ro", "/", "--chdir", "/tmp", "--clearenv"]
    for key, value in _ENV.items():
        args += ["--setenv", key, value]
    args += ["--seccomp", str(spec.seccomp_fd), "--"]
    if spec.as_root:
        uid = str(fresh_uid())
        args += [setpriv_path(),
                 "--reuid", uid, "--regid", uid, "--clear-groups", "--inh-caps=-all",
                 "--bounding-set=-all", "--no-new-privs", "--"]
    return args + inner


def host_env() -> dict[str, str]:
    """The environment bwrap itself starts with: nothing of the evaluator's (its
    ``/proc/1/environ`` must hold no secret even if it were readable)."""
    return {"PATH": _ENV["PATH"]}


def interpreter() -> list[str]:
    """The Python command inside: the evaluator's own interpreter, isolated mode."""
    return [sys.executable, "-I", "-B", f"{HARNESS_DIR}/harness.py"]


def describe(as_root: bool) -> str:
    """One line for results: which isolation the checks ran under."""
    mode = ("root: setpriv to a per-check uid, no capabilities" if as_root
            else "user namespace, no capabilities")
    return (f"{bwrap_version()} (namespaces pid+net+ipc+uts+cgroup+mount, read-only binds, "
            f"{mode}, seccomp no-fork)")
