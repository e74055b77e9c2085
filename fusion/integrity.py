"""File integrity: one sha256 helper and ``SHA256SUMS`` verification (stdlib only).

``SHA256SUMS`` is the ``sha256sum`` format: one ``<64 hex>  <relative path>`` per line
(``*`` before the path marks binary mode and is ignored). Files are verified against it
when it is present; a mismatch raises :class:`IntegrityError` naming the file, the line of
``SHA256SUMS`` and both digests. Verified files are remembered per process by
``(path, size, mtime)``, so repeated evaluations do not re-hash unchanged data.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

SUMS_NAME = "SHA256SUMS"
_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")
_verified: dict[tuple[str, int, int], str] = {}


class IntegrityError(ValueError):
    """A file's content differs from its recorded sha256; ``str()`` names the file."""


def sha256_file(path: str | Path, chunk_size: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in chunks (model files are hundreds of MB)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def read_sha256sums(path: str | Path) -> dict[str, tuple[str, int]]:
    """``{relative path: (hex digest, line number)}`` of a ``SHA256SUMS`` file; a line that
    is not ``<64 hex>  <path>`` raises :class:`IntegrityError` naming ``file:line``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise IntegrityError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    sums: dict[str, tuple[str, int]] = {}
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _LINE.match(line.rstrip("\r"))
        if not match:
            raise IntegrityError(f"{path}:{lineno}: expected '<sha256 hex>  <path>', got {line[:60]!r}")
        sums[match.group(2).strip()] = (match.group(1).lower(), lineno)
    return sums


def verify_file(path: str | Path, expected: str, where: str) -> None:
    """Raise :class:`IntegrityError` unless ``path`` hashes to ``expected`` (``where``
    says which record holds the expected digest, e.g. ``SHA256SUMS:12``)."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    actual = _verified.get(key) or sha256_file(path)
    if actual != expected:
        raise IntegrityError(f"{path}: sha256 {actual[:16]}... differs from {expected[:16]}... recorded in "
                             f"{where} (the file was modified or corrupted)")
    _verified[key] = actual


def verify_tree(root: str | Path, under: str | Path | None = None) -> int:
    """Verify the files of ``root`` listed in ``root/SHA256SUMS`` (only those below the
    sub-folder ``under`` when given); returns how many were checked, 0 when there is no
    ``SHA256SUMS``. Listed files that are absent are not an error here (the reader of
    the data reports what it needs)."""
    root = Path(root)
    sums_path = root / SUMS_NAME
    if not sums_path.is_file():
        return 0
    prefix = None if under is None else Path(under).as_posix().strip("/") + "/"
    checked = 0
    for rel, (digest, lineno) in read_sha256sums(sums_path).items():
        if prefix is not None and not rel.startswith(prefix):
            continue
        target = root / rel
        if os.path.isfile(target):
            verify_file(target, digest, f"{sums_path}:{lineno}")
            checked += 1
    return checked
