"""Safe resume: a run continues only with the config it was started with.

``<run>/config.yaml`` is the config of the latest accepted (re)start and
``<run>/config_history.jsonl`` keeps every one of them (time, the step resumed from, the
config and the changes accepted). Resuming with a config that differs in anything that
shapes training is refused with the differences unless ``--allow-config-change``; the
keys in :data:`RESUMABLE_KEYS` (how long to train, how often to log and save, evaluation
settings, the output folder) may always change. ``config.yaml`` is replaced only once
the trainer has restored the checkpoint (see :class:`ConfigRecorder`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import yaml
from transformers import TrainerCallback

from fusion.config import ConfigError, FusionConfig, load_config

HISTORY_FILE = "config_history.jsonl"
#: Dotted keys (or prefixes ending in ".") that a resume may change without the flag.
RESUMABLE_KEYS = ("training.max_steps", "training.save_steps", "training.logging_steps",
                  "training.dataloader_num_workers", "output_dir", "eval.")


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: data}


def config_changes(old: FusionConfig, new: FusionConfig) -> list[str]:
    """``"key: old -> new"`` for every setting that differs and is not resumable."""
    a, b = _flat(old.to_dict()), _flat(new.to_dict())
    changes = []
    for key in sorted(set(a) | set(b)):
        if any(key == k or (k.endswith(".") and key.startswith(k)) for k in RESUMABLE_KEYS):
            continue
        if a.get(key) != b.get(key):
            changes.append(f"{key}: {a.get(key)!r} -> {b.get(key)!r}")
    return changes


def check_resume_config(run_dir: Path, cfg: FusionConfig, allow_change: bool) -> list[str]:
    """Compare ``cfg`` with the run's ``config.yaml`` before a resume; returns the accepted
    changes. Raises :class:`ConfigError` listing them unless ``allow_change``."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        return []
    try:
        old = load_config(path)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (the config this run was started with; restore it, or move it away to "
                          "resume with the new config)") from None
    changes = config_changes(old, cfg)
    if changes and not allow_change:
        raise ConfigError(f"{path}: refusing to resume with a changed config ({'; '.join(changes)}); pass "
                          "--allow-config-change to accept (recorded in "
                          f"{HISTORY_FILE}), or train into a new --output-dir")
    return changes


def record_config(run_dir: Path, cfg: FusionConfig, resumed_from: int | None, changes: list[str]) -> None:
    """Append ``cfg`` to the history and make it ``config.yaml`` (both atomic enough to
    survive a kill: the history is appended with fsync, ``config.yaml`` replaced by rename)."""
    run_dir = Path(run_dir)
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "resumed_from_step": resumed_from,
              "changes": changes, "config": cfg.to_dict()}
    with (run_dir / HISTORY_FILE).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp = run_dir / ".config.yaml.tmp"
    tmp.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
    os.replace(tmp, run_dir / "config.yaml")


class ConfigRecorder(TrainerCallback):
    """Records the config when training begins: after the Trainer restored the
    checkpoint (weights, optimizer, scheduler, state), so a resume that fails to load
    leaves ``config.yaml`` as it was."""

    def __init__(self, run_dir: Path, cfg: FusionConfig, resumed_from: int | None, changes: list[str]) -> None:
        self.run_dir, self.cfg, self.resumed_from, self.changes = Path(run_dir), cfg, resumed_from, changes
        self.done = False

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.done and state.is_world_process_zero:
            record_config(self.run_dir, self.cfg, self.resumed_from, self.changes)
        self.done = True
