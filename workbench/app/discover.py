"""Find what the app can show under a runs root (DESIGN §3), by file layout only.

Read-only and cheap: one bounded directory walk; no file is opened here. Everything a
page shows is found by the files the producing commands write:

* a **fusion run** (``workbench fuse``): a folder with ``metrics.jsonl`` or with both
  ``config.yaml`` and ``checkpoints/``;
* an **evaluation** (``workbench eval``): ``<model>/<benchmark>/results.json`` (with
  ``samples.jsonl`` beside it), wherever it lies — ``runs/<run>/evals/<checkpoint>/...``
  or a stand-alone ``--out`` folder;
* a **bound-validation report** (``workbench bounds``): a folder with ``pairs.csv`` and
  ``summary.json``;
* a **diagnostics** folder (``workbench diagnose``): a folder holding a per-example table
  (``*.parquet`` / ``*.csv``) with ``gw_exact`` and ``wd`` columns, found as a folder named
  ``diagnostics`` or holding ``diagnostics.json``;
* the SQLite index ``workbench.db``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: Folders never descended into: model weights, caches, VCS and tool state.
SKIP_DIRS = frozenset({"checkpoints", "cache", ".git", "__pycache__", ".venv", "node_modules",
                       ".pytest_cache", ".hypothesis", "test-artifacts"})
#: Deep enough for runs/<run>/evals/<checkpoint>/<benchmark>/results.json under a root.
MAX_DEPTH = 7


@dataclass(frozen=True)
class EvalResult:
    """One ``<model>/<benchmark>/results.json`` (``samples`` may not exist)."""

    model: str  # label: the model folder relative to the root
    benchmark: str
    results: Path
    samples: Path

    @property
    def model_dir(self) -> Path:
        """The ``<model>/`` folder (what ``workbench compare`` takes)."""
        return self.results.parent.parent


@dataclass
class Inventory:
    """Everything found under one root."""

    root: Path
    runs: list[Path] = field(default_factory=list)
    evals: list[EvalResult] = field(default_factory=list)
    bounds_reports: list[Path] = field(default_factory=list)
    diagnostics: list[Path] = field(default_factory=list)
    databases: list[Path] = field(default_factory=list)

    def label(self, path: Path) -> str:
        """``path`` relative to the root (``.`` for the root itself)."""
        try:
            rel = path.resolve().relative_to(self.root.resolve())
        except ValueError:
            return str(path)
        return str(rel) or "."


def is_run_dir(path: Path, files: set[str], dirs: set[str]) -> bool:
    """Whether a folder is a fusion run directory (see the module docstring)."""
    return "metrics.jsonl" in files or ("config.yaml" in files and "checkpoints" in dirs)


def is_diagnostics_dir(path: Path, files: set[str]) -> bool:
    """Whether a folder holds a diagnostics table (see the module docstring)."""
    has_table = any(f.endswith((".parquet", ".csv")) for f in files)
    return has_table and (path.name == "diagnostics" or "diagnostics.json" in files)


def scan(root: str | Path) -> Inventory:
    """Walk ``root`` (at most ``MAX_DEPTH`` levels) and list what each page can show.

    Raises FileNotFoundError when ``root`` is not a folder."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"runs root {root} is not a folder")
    inv = Inventory(root=root)
    base_depth = len(root.resolve().parts)
    for current, dirnames, filenames in os.walk(root.resolve(), followlinks=False):
        here = Path(current)
        depth = len(here.parts) - base_depth
        files, dirs = set(filenames), set(dirnames)
        # Prune in place so os.walk skips them; sorted for a stable order on every OS.
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        if depth >= MAX_DEPTH:
            dirnames[:] = []
        if is_run_dir(here, files, dirs):
            inv.runs.append(here)
        if "results.json" in files and depth >= 2:
            model_dir = here.parent
            inv.evals.append(EvalResult(model=inv.label(model_dir), benchmark=here.name,
                                        results=here / "results.json", samples=here / "samples.jsonl"))
        if "pairs.csv" in files and "summary.json" in files:
            inv.bounds_reports.append(here)
        if is_diagnostics_dir(here, files):
            inv.diagnostics.append(here)
        if "workbench.db" in files:
            inv.databases.append(here / "workbench.db")
    for items in (inv.runs, inv.bounds_reports, inv.diagnostics, inv.databases):
        items.sort()
    inv.evals.sort(key=lambda e: (e.model, e.benchmark))
    return inv
