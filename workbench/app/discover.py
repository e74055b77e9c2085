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

Symbolic links are never followed (see :mod:`workbench.app.safe`): only regular files
and real folders count, a linked folder is not descended into and a linked file is not
found (both are listed in :attr:`Inventory.links`, so a page can say so). The root itself
is resolved once (it may be a link); everything found is under that resolved path.
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
    has_samples: bool = True  # samples.jsonl is a regular file beside results.json

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
    #: Symbolic links met under the root (not followed).
    links: list[Path] = field(default_factory=list)

    def label(self, path: Path) -> str:
        """``path`` relative to the root (``.`` for the root itself); lexical, so a link is
        never resolved here."""
        try:
            rel = Path(os.path.abspath(path)).relative_to(self.root)
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


def _listing(folder: Path) -> tuple[set[str], set[str], list[str]]:
    """(regular files, real folders, symbolic links) directly in ``folder``; other kinds
    (FIFOs, sockets, devices) are ignored."""
    files, dirs, links = set(), set(), []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.is_symlink():
                    links.append(entry.name)
                elif entry.is_dir(follow_symlinks=False):
                    dirs.add(entry.name)
                elif entry.is_file(follow_symlinks=False):
                    files.add(entry.name)
    except OSError:
        pass  # unreadable folder: nothing to show from it
    return files, dirs, sorted(links)


def scan(root: str | Path) -> Inventory:
    """Walk ``root`` (at most ``MAX_DEPTH`` levels, no symbolic link followed) and list
    what each page can show.

    Raises FileNotFoundError when ``root`` is not a folder."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"runs root {root} is not a folder")
    root = root.resolve()
    inv = Inventory(root=root)
    stack = [(root, 0)]
    while stack:
        here, depth = stack.pop()
        files, dirs, links = _listing(here)
        inv.links.extend(here / name for name in links)
        if is_run_dir(here, files, dirs):
            inv.runs.append(here)
        if "results.json" in files and depth >= 2:
            model_dir = here.parent
            inv.evals.append(EvalResult(model=inv.label(model_dir), benchmark=here.name,
                                        results=here / "results.json", samples=here / "samples.jsonl",
                                        has_samples="samples.jsonl" in files))
        if "pairs.csv" in files and "summary.json" in files:
            inv.bounds_reports.append(here)
        if is_diagnostics_dir(here, files):
            inv.diagnostics.append(here)
        if "workbench.db" in files:
            inv.databases.append(here / "workbench.db")
        if depth < MAX_DEPTH:
            # Reversed so the stack pops them in sorted order (stable on every OS).
            stack.extend((here / d, depth + 1) for d in sorted(dirs, reverse=True)
                         if d not in SKIP_DIRS and not d.startswith("."))
    for items in (inv.runs, inv.bounds_reports, inv.diagnostics, inv.databases, inv.links):
        items.sort()
    inv.evals.sort(key=lambda e: (e.model, e.benchmark))
    return inv
