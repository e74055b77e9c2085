"""Errors of the file system that name the file.

A failed ``write()`` (full disk, file-size limit, quota) raises an ``OSError`` without a
file name; :func:`names_file` adds it, so the CLI's one error line says which file could
not be written (``<file>: No space left on device``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def names_file(path: str | Path) -> Iterator[None]:
    """Re-raise an ``OSError`` of the block with ``path`` as its file name (when it has none)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise type(exc)(exc.errno, exc.strerror or str(exc), str(path)) from None
