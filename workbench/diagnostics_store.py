"""Index diagnostics folders in the run store (``workbench.store``): files stay the source
of truth; these tables are rebuilt from ``diagnostics.json`` + ``examples.parquet``.

Tables:

* ``diagnostics(folder PK, run_id, meta_json, indexed_at)`` — one per diagnostics folder.
* ``diagnostic_pairs(folder, checkpoint, source, example_id PK, step, ... numbers)`` — one
  row per diagnosed (checkpoint, source, example), the columns of :data:`PAIR_COLUMNS`.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.bounds import approximation_columns
from workbench.store import Store

KEY = ("checkpoint", "source", "example_id")
PAIR_COLUMNS: dict[str, str] = {
    "checkpoint": "TEXT", "source": "TEXT", "example_id": "TEXT", "step": "INTEGER",
    "n": "INTEGER", "m": "INTEGER", "L_pivot": "INTEGER", "L_source": "INTEGER",
    "aligned_fraction": "REAL", "wd": "REAL", "wd_index": "REAL",
    "gw_exact": "REAL", "gw_method": "TEXT", "gw_gap": "REAL", "gw_entropic": "REAL",
    **{col: "REAL" for col in approximation_columns()},
    "lower": "REAL", "upper": "REAL", "prop1": "REAL",
    "lower_held": "INTEGER", "upper_held": "INTEGER",
    "time_exact_s": "REAL", "time_sorting_s": "REAL", "graph_file": "TEXT",
}

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS diagnostics (folder TEXT PRIMARY KEY, run_id TEXT, meta_json TEXT, indexed_at REAL);\n"
    "CREATE TABLE IF NOT EXISTS diagnostic_pairs (folder TEXT NOT NULL, "
    + ", ".join(f'"{c}" {t}' for c, t in PAIR_COLUMNS.items())
    + ", PRIMARY KEY (folder, checkpoint, source, example_id));"
)


def _plain(value: Any) -> Any:
    """SQLite-ready scalar: numpy -> Python, NaN/None -> NULL, bool -> int."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool):
        return int(value)
    return value


def index_diagnostics(store: Store, folder: str | Path, run_id: str | None = None) -> int:
    """(Re-)index one diagnostics folder; returns the number of pair rows written."""
    folder = Path(folder)
    meta_path, table = folder / "diagnostics.json", folder / "examples.parquet"
    if not meta_path.is_file() or not table.is_file():
        raise FileNotFoundError(f"{folder}: not a diagnostics folder (needs diagnostics.json and examples.parquet)")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    df = pd.read_parquet(table)
    for col in PAIR_COLUMNS:
        if col not in df:
            df[col] = None
    key = str(folder.resolve())
    rows = [(key, *(_plain(v) for v in rec)) for rec in df[list(PAIR_COLUMNS)].itertuples(index=False, name=None)]
    store.conn.executescript(SCHEMA)
    placeholders = ",".join("?" * (len(PAIR_COLUMNS) + 1))
    with store.transaction() as db:
        db.execute("INSERT OR REPLACE INTO diagnostics VALUES (?,?,?,?)",
                   (key, run_id or meta.get("run") or None, json.dumps(meta), time.time()))
        db.execute("DELETE FROM diagnostic_pairs WHERE folder = ?", (key,))
        db.executemany(f"INSERT INTO diagnostic_pairs VALUES ({placeholders})", rows)
    return len(rows)


def index_all_diagnostics(store: Store) -> int:
    """Index every diagnostics folder under the store's root (for ``rebuild``)."""
    total = 0
    for meta in sorted(store.root.rglob("diagnostics.json")):
        if (meta.parent / "examples.parquet").is_file():
            total += index_diagnostics(store, meta.parent)
    return total


def pair_rows(store: Store, folder: str | Path) -> pd.DataFrame:
    """The indexed pair rows of one folder, as a DataFrame (columns of PAIR_COLUMNS)."""
    store.conn.executescript(SCHEMA)
    cur = store.conn.execute(
        "SELECT " + ", ".join(f'"{c}"' for c in PAIR_COLUMNS) + " FROM diagnostic_pairs WHERE folder = ? "
        "ORDER BY step, source, example_id", (str(Path(folder).resolve()),))
    return pd.DataFrame(cur.fetchall(), columns=list(PAIR_COLUMNS))
