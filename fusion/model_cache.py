"""The on-disk model cache: where prepared models live and how they are written safely.

Every prepared model (a dense copy of a GGUF built-in, a built-in's tokenizer, a tiny
random model) is one directory under the cache. A directory is built in a private temp
folder, then ``manifest.json`` (sha256 + size of every file) is written last and the
folder is renamed into place, so a directory that exists under its final name is
complete. A file lock serialises builders, so two processes never build the same entry.

Cache root: ``$WORKBENCH_CACHE`` if set, else ``~/.cache/fusion-workbench``; models live
in ``<root>/models``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from fusion.integrity import sha256_file  # one definition; re-exported

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def default_models_dir() -> Path:
    """Return the models cache folder: ``$WORKBENCH_CACHE/models`` or ``~/.cache/fusion-workbench/models``."""
    root = os.environ.get("WORKBENCH_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "fusion-workbench"
    return base / "models"


def models_dir(cache_dir: str | Path | None) -> Path:
    """Return ``cache_dir`` as a Path, or the default models cache folder when None."""
    return Path(cache_dir).expanduser() if cache_dir is not None else default_models_dir()


def log(message: str) -> None:
    """Progress line on stderr (stdout stays clean for the paths the CLI prints)."""
    print(f"[models] {message}", file=sys.stderr, flush=True)


def write_manifest(directory: Path, info: dict) -> None:
    """Write ``manifest.json`` listing sha256 and size of every file in ``directory`` plus ``info``."""
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if rel == MANIFEST_NAME:
            continue
        files[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    manifest = {"manifest_version": MANIFEST_VERSION, **info, "files": files}
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True))


def read_manifest(directory: Path) -> dict:
    """Read a cache entry's manifest; ValueError if it is missing or unreadable."""
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise ValueError(f"{directory}: no {MANIFEST_NAME} (incomplete or foreign cache entry)")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable manifest ({exc})") from exc


def check_entry(directory: Path, *, full: bool = False) -> dict:
    """Check a cache entry against its manifest and return the manifest.

    Always checks that every listed file exists with its recorded size (cheap); with
    ``full=True`` also re-hashes every file. Raises ValueError naming the bad file.
    """
    manifest = read_manifest(directory)
    for rel, meta in manifest.get("files", {}).items():
        path = directory / rel
        if not path.is_file():
            raise ValueError(f"{path}: missing (listed in {directory / MANIFEST_NAME})")
        size = path.stat().st_size
        if size != meta["size"]:
            raise ValueError(f"{path}: size {size} bytes, manifest says {meta['size']}")
        if full and sha256_file(path) != meta["sha256"]:
            raise ValueError(f"{path}: sha256 differs from the manifest")
    return manifest


def entry_size_bytes(directory: Path) -> int:
    """Total size in bytes of the files in a cache entry."""
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def build_entry(
    target: Path,
    build: Callable[[Path], dict],
    *,
    fix_hint: str,
    force: bool = False,
    is_stale: Callable[[dict], bool] | None = None,
) -> Path:
    """Return the complete cache entry ``target``, building it once if needed.

    ``build(tmp_dir)`` fills ``tmp_dir`` and returns extra manifest info. The build runs
    under a file lock; the manifest is written last and the folder renamed into place
    atomically. An existing entry that fails the quick check raises ValueError with
    ``fix_hint`` (unless ``force``, which rebuilds it). An entry whose manifest
    ``is_stale`` (e.g. written by an older converter) is rebuilt.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(target.parent / f".{target.name}.lock"))
    with lock:
        if target.exists() and not force:
            try:
                manifest = check_entry(target)
            except ValueError as exc:
                raise ValueError(f"corrupted model cache: {exc}. Fix: {fix_hint}") from exc
            if is_stale is None or not is_stale(manifest):
                return target
            log(f"{target} was built by an older version; rebuilding it")
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        started = time.perf_counter()
        try:
            info = build(tmp)
            info = {**info, "build_seconds": round(time.perf_counter() - started, 2)}
            write_manifest(tmp, info)
            if target.exists():  # only with force: replace the old entry
                old = target.parent / f".{target.name}.old-{os.getpid()}"
                target.rename(old)
                shutil.rmtree(old, ignore_errors=True)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target
