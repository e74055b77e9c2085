"""What a complete checkpoint is — the one definition used by resume, ``eval --watch``,
``diagnose``, the run store and the app (stdlib only).

The trainer saves ``checkpoints/step-N/`` (Hugging Face weights, tokenizer, optimizer,
scheduler, RNG and trainer state) and then, **last**, writes the marker
``checkpoint_complete.json``: the step and the sha256 and size of every other file in the
folder. A folder without a readable marker is incomplete (being written, or left by a
kill mid-save) and nothing reads it. :func:`is_complete_checkpoint` is the cheap test
(the marker is there and readable); :func:`verify_checkpoint` checks every listed file's
size and sha256 and is called before a checkpoint is trained on or evaluated.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from fusion.integrity import IntegrityError, sha256_file

COMPLETE_MARKER = "checkpoint_complete.json"
CHECKPOINT_PREFIX = "step-"
MARKER_VERSION = 1
_STEP = re.compile(rf"^{re.escape(CHECKPOINT_PREFIX)}(\d+)$")
#: The files whose digest identifies a checkpoint's model (see :func:`weights_digest`).
WEIGHT_SUFFIXES = (".safetensors", ".bin")


class CheckpointError(ValueError):
    """A checkpoint folder is incomplete, malformed or corrupted; ``str()`` names the file."""


def checkpoint_step(path: str | Path) -> int | None:
    """N of a ``step-N`` folder name, else None."""
    match = _STEP.match(Path(path).name)
    return int(match.group(1)) if match else None


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and not p.is_symlink()
                  and p.name != COMPLETE_MARKER and not p.name.endswith(".tmp"))


def write_complete_marker(directory: str | Path, step: int) -> Path:
    """Hash every file of ``directory`` and write the marker atomically (temp file,
    fsync, rename). Call it after everything else of the checkpoint is written."""
    directory = Path(directory)
    files = {p.relative_to(directory).as_posix(): {"sha256": sha256_file(p), "size": p.stat().st_size}
             for p in _files(directory)}
    marker = {"marker_version": MARKER_VERSION, "step": int(step), "files": files}
    tmp = directory / f".{COMPLETE_MARKER}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(marker, indent=2, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, directory / COMPLETE_MARKER)
    return directory / COMPLETE_MARKER


def read_marker(directory: str | Path) -> dict[str, Any]:
    """The marker of a checkpoint; :class:`CheckpointError` naming the file when it is
    absent or malformed."""
    path = Path(directory) / COMPLETE_MARKER
    if not path.is_file():
        raise CheckpointError(f"{directory}: incomplete checkpoint (no {COMPLETE_MARKER}: still being "
                              "written, or the save was interrupted)")
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: malformed checkpoint marker ({exc})") from None
    files = marker.get("files") if isinstance(marker, dict) else None
    if not isinstance(files, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) and isinstance(v.get("size"), int)
            for v in files.values()):
        raise CheckpointError(f"{path}: malformed checkpoint marker (expected "
                              "{\"step\": N, \"files\": {name: {\"sha256\", \"size\"}}})")
    return marker


def _check_sizes(directory: Path, marker: dict[str, Any]) -> None:
    for rel, info in marker["files"].items():
        path = directory / rel
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (listed in {directory / COMPLETE_MARKER})")
        size = path.stat().st_size
        if size != info["size"]:
            raise CheckpointError(f"{path}: {size} bytes, but {COMPLETE_MARKER} records {info['size']} "
                                  "(truncated or replaced)")


def is_complete_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a complete checkpoint: a real folder with a readable marker
    (written last). Cheap: no file is hashed; a complete checkpoint whose files were
    damaged later is still complete, and :func:`verify_checkpoint` refuses it naming the
    file (it is never silently skipped, and so never overwritten)."""
    path = Path(path)
    if path.is_symlink() or not path.is_dir():
        return False
    try:
        read_marker(path)
    except (CheckpointError, OSError):
        return False
    return True


def verify_checkpoint(path: str | Path) -> dict[str, Any]:
    """Check ``path`` against its marker, re-hashing every file; returns the marker.
    Raises :class:`CheckpointError` naming the first bad file."""
    path = Path(path)
    marker = read_marker(path)
    _check_sizes(path, marker)
    for rel, info in marker["files"].items():
        if sha256_file(path / rel) != info["sha256"]:
            raise CheckpointError(f"{path / rel}: sha256 differs from {COMPLETE_MARKER} (the file was modified "
                                  "or corrupted after the checkpoint was saved)")
    return marker


def weights_digest(marker: dict[str, Any]) -> str:
    """One digest of a checkpoint's weight files, from its marker (model identity)."""
    import hashlib

    parts = sorted(f"{rel}:{info['sha256']}" for rel, info in marker["files"].items()
                   if rel.endswith(WEIGHT_SUFFIXES) and "/" not in rel)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def complete_checkpoints(checkpoint_dir: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every complete ``step-N`` folder of ``checkpoint_dir``, by step."""
    directory = Path(checkpoint_dir)
    if not directory.is_dir():
        return []
    found = []
    for child in directory.iterdir():
        step = checkpoint_step(child)
        if step is not None and is_complete_checkpoint(child):
            found.append((step, child))
    return sorted(found)


def last_complete_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """The complete checkpoint with the largest step, or None."""
    found = complete_checkpoints(checkpoint_dir)
    return found[-1][1] if found else None


__all__ = ["COMPLETE_MARKER", "CHECKPOINT_PREFIX", "CheckpointError", "IntegrityError", "checkpoint_step",
           "complete_checkpoints", "is_complete_checkpoint", "last_complete_checkpoint", "read_marker",
           "verify_checkpoint", "weights_digest", "write_complete_marker"]
