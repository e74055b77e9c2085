"""Which model an evaluation output folder belongs to: identity by content, not by name.

A local model folder is identified by its resolved path and a digest of its weight
files (from the checkpoint's complete marker when it has one, else by hashing
``*.safetensors`` / ``*.bin``); any other spec (built-in, ``tiny-random-*``, hub id) by
the spec itself. ``<out>/<label>/.model.json`` records the identity of the model whose
outputs the folder holds; :func:`output_label` gives a model the folder named after it
only when that folder is free or already its own, else ``<name>-<digest[:8]>``, so two
different folders both named ``model`` never share results.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from evaluations.fs import names_file
from fusion.checkpoints import COMPLETE_MARKER, WEIGHT_SUFFIXES, verify_checkpoint, weights_digest
from fusion.integrity import sha256_file

IDENTITY_FILE = ".model.json"


def model_identity(spec: str) -> dict[str, Any]:
    """``{"spec", "path", "weights_sha256"}`` of a model spec (``path``/``weights_sha256``
    are None for specs that are not local folders). A checkpoint is verified against its
    marker first (:func:`fusion.checkpoints.verify_checkpoint`)."""
    path = Path(spec).expanduser()
    if not path.is_dir():
        return {"spec": str(spec), "path": None, "weights_sha256": None}
    path = path.resolve()
    if (path / COMPLETE_MARKER).is_file():
        digest = weights_digest(verify_checkpoint(path))
    else:
        parts = sorted(f"{p.name}:{sha256_file(p)}" for p in path.iterdir()
                       if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
        digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return {"spec": str(spec), "path": str(path), "weights_sha256": digest}


def identity_digest(identity: dict[str, Any]) -> str:
    """Short digest of an identity (what folder-name suffixes and generation keys use)."""
    key = ({k: identity.get(k) for k in ("path", "weights_sha256")} if identity.get("path")
           else {"spec": identity["spec"]})
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _recorded(folder: Path) -> dict[str, Any] | None:
    path = folder / IDENTITY_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: malformed model identity file ({exc}); delete it only if that folder's "
                         "outputs belong to this model") from None
    if not isinstance(data, dict) or "spec" not in data:
        raise ValueError(f"{path}: malformed model identity file (expected spec, path, weights_sha256)")
    return data


def output_label(out: Path, name: str, identity: dict[str, Any]) -> str:
    """The folder under ``out`` for this model's outputs (see the module docstring); call
    it while holding the output lock (:mod:`evaluations.output_lock`)."""
    mine = identity_digest(identity)
    for label in (name, f"{name}-{mine[:8]}"):
        # A folder without an identity file (new, or written before identities were
        # recorded) is taken by the model that first evaluates into it now.
        recorded = _recorded(Path(out) / label)
        if recorded is None or identity_digest(recorded) == mine:
            return label
    raise ValueError(f"{Path(out) / name}: taken by other models; choose another --out")


def record_identity(folder: Path, identity: dict[str, Any]) -> None:
    """Write ``folder/.model.json`` (atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{IDENTITY_FILE}.tmp"
    with names_file(tmp):
        tmp.write_text(json.dumps(identity, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(folder / IDENTITY_FILE)
