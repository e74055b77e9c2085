"""Opening files under a runs root without following symbolic links (no Streamlit here).

The app may be pointed at a folder someone else prepared, so it treats every name in it
as untrusted. The rule, everywhere (discovery, readers, tables, the run-store index,
the graph inspector's data files and checkpoints): **no symbolic link below the root is
followed** — neither a file link nor a directory link, wherever it points (out of the
root or inside it). The root itself may be a link (``runs -> /data/runs``): it is the
user's own choice and is resolved once, by :func:`workbench.app.discover.scan`; every
path the app reads is built from that resolved root, so it is absolute and canonical.

:func:`open_plain` enforces the rule when a file is opened: it walks the path from ``/``
one component at a time with ``O_NOFOLLOW`` (each directory opened relative to the one
before, so nothing can be swapped in between) and accepts only a regular file — a
symlink, FIFO, device or socket is refused with a :class:`NotPlainFile` (a ``ValueError``
naming the path) and is never read. Nothing here ever writes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_O_PATH = getattr(os, "O_PATH", os.O_RDONLY)  # Linux: walk directories without read permission
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the app on open
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class NotPlainFile(ValueError):
    """The path is (or goes through) a symbolic link, or is not a regular file."""


def _why(path: Path, exc: OSError, component: str) -> NotPlainFile:
    import errno

    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return NotPlainFile(f"{path}: {component!r} is a symbolic link (or not a folder); "
                            "the app follows no symbolic links below the runs root")
    if exc.errno == errno.ENOENT:
        return NotPlainFile(f"{path}: no such file")
    return NotPlainFile(f"{path}: cannot open ({exc.strerror})")


def _absolute(path: str | Path) -> Path:
    # abspath, not resolve(): resolving would follow the very links we refuse.
    return Path(os.path.abspath(os.fspath(path)))


def _open_parent(path: Path) -> int:
    """An ``O_PATH`` descriptor of ``path``'s folder, reached without following any link."""
    fd = os.open("/", _O_PATH | _O_DIRECTORY | _O_CLOEXEC)
    try:
        for part in path.parts[1:-1]:
            try:
                nxt = os.open(part, _O_PATH | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=fd)
            except OSError as exc:
                raise _why(path, exc, part) from None
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_plain(path: str | Path) -> BinaryIO:
    """``path`` opened for binary reading, when it is a regular file reached through no
    symbolic link (see the module docstring); else :class:`NotPlainFile`."""
    path = _absolute(path)
    parent = _open_parent(path)
    try:
        try:
            fd = os.open(path.name, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC, dir_fd=parent)
        except OSError as exc:
            raise _why(path, exc, path.name) from None
    finally:
        os.close(parent)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotPlainFile(f"{path}: not a regular file; the app reads only plain files")
        if _O_NONBLOCK:
            os.set_blocking(fd, True)
        return open(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | Path, limit: int | None = None) -> bytes:
    """The content of a plain file (see :func:`open_plain`); with ``limit``, a file larger
    than ``limit`` bytes is refused (``ValueError``) instead of read."""
    with open_plain(path) as handle:
        if limit is not None:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                raise ValueError(f"{_absolute(path)}: {size / 2**20:.1f} MB is too large to show "
                                 f"(limit {limit / 2**20:.0f} MB)")
        return handle.read()


def read_text(path: str | Path, limit: int | None = None) -> str:
    """UTF-8 text of a plain file; invalid UTF-8 is a ``ValueError`` naming the file."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{_absolute(path)}: not UTF-8 text (byte {exc.start})") from None


def _lstat_chain(path: str | Path) -> os.stat_result | None:
    """``lstat`` of ``path`` when no component of it is a symbolic link, else None."""
    path = _absolute(path)
    try:
        parent = _open_parent(path)
    except NotPlainFile:
        return None
    try:
        return os.stat(path.name, dir_fd=parent, follow_symlinks=False)
    except OSError:
        return None
    finally:
        os.close(parent)


def is_plain_file(path: str | Path) -> bool:
    """Whether :func:`open_plain` would accept ``path`` (a regular file, no link on the way)."""
    info = _lstat_chain(path)
    return info is not None and stat.S_ISREG(info.st_mode)


def is_plain_dir(path: str | Path) -> bool:
    """Whether ``path`` is a folder reached through no symbolic link (and is not one)."""
    info = _lstat_chain(path)
    return info is not None and stat.S_ISDIR(info.st_mode)


def present(path: str | Path) -> bool:
    """Whether a name exists at ``path`` at all (a dangling or outward link counts), so a
    page can say "this file is a link, not followed" instead of "no such file"."""
    return os.path.lexists(_absolute(path))


def lstat_stamp(path: str | Path) -> tuple[int, int]:
    """(modification time, size) of ``path`` itself, never of a link's target."""
    info = os.lstat(_absolute(path))
    return info.st_mtime_ns, info.st_size


def entries(folder: str | Path) -> Iterator[os.DirEntry]:
    """The entries of a plain folder (empty when ``folder`` is a link or not a folder);
    callers use ``entry.is_file(follow_symlinks=False)`` / ``is_dir(follow_symlinks=False)``."""
    if not is_plain_dir(folder):
        return iter(())
    try:
        with os.scandir(_absolute(folder)) as it:
            return iter(sorted(it, key=lambda e: e.name))
    except OSError:
        return iter(())


def plain_files(folder: str | Path, suffix: str = "") -> list[Path]:
    """Regular files (not links) directly in a plain folder whose names end in ``suffix``."""
    return [Path(e.path) for e in entries(folder) if e.is_file(follow_symlinks=False) and e.name.endswith(suffix)]


def inside(root: str | Path, path: str | Path) -> bool:
    """Whether ``path`` (absolute, or relative to the cwd) lies under ``root`` once both
    are made absolute, lexically: ``..`` components are refused, links are not resolved
    (a path through a link is refused later, by :func:`open_plain`)."""
    rel = os.fspath(path)
    if ".." in Path(rel).parts:
        return False
    try:
        _absolute(rel).relative_to(_absolute(Path(root).resolve()))
    except ValueError:
        return False
    return True
