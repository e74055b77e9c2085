"""The run store: an SQLite index (``workbench.db``) over the files under a root folder.

Files stay the source of truth (DESIGN §3); the index can always be rebuilt from them
with :func:`rebuild`. Schema (all tables keyed so re-indexing a file replaces its rows):

- ``runs(run_id PK, path, config_json, indexed_at)`` — one per ``<root>/<run>/config.yaml``.
- ``checkpoints(run_id, name, step, path; PK run_id+name)`` — ``<run>/checkpoints/*``.
- ``metrics(run_id, step, key, value; PK run_id+step+key)`` — ``<run>/metrics.jsonl``.
- ``eval_results(results_path PK, model, run_id, checkpoint, benchmark, metric, value,
  stderr, n, style, results_json)`` — one per ``results.json``; ``model`` is the output
  folder label (model name or checkpoint), ``run_id``/``checkpoint`` set for run evals
  (``<root>/<run>/evals/<checkpoint>/<benchmark>/``).
- ``samples(results_path, doc_id, benchmark, score, extracted, gold, output;
  PK results_path+doc_id)`` — rows of the ``samples.jsonl`` next to a results.json.

Extensions add rows through :meth:`Store.execute`/their own tables; keep new tables
rebuildable from files.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from fusion.checkpoints import complete_checkpoints

DB_NAME = "workbench.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, path TEXT NOT NULL, config_json TEXT, indexed_at REAL);
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id TEXT NOT NULL, name TEXT NOT NULL, step INTEGER, path TEXT NOT NULL,
    PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL, step INTEGER NOT NULL, key TEXT NOT NULL, value REAL,
    PRIMARY KEY (run_id, step, key));
CREATE TABLE IF NOT EXISTS eval_results (
    results_path TEXT PRIMARY KEY, model TEXT NOT NULL, run_id TEXT, checkpoint TEXT,
    benchmark TEXT NOT NULL, metric TEXT NOT NULL, value REAL, stderr REAL, n INTEGER,
    style TEXT, results_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    results_path TEXT NOT NULL, doc_id TEXT NOT NULL, benchmark TEXT NOT NULL,
    score REAL, extracted TEXT, gold TEXT, output TEXT,
    PRIMARY KEY (results_path, doc_id));
CREATE INDEX IF NOT EXISTS samples_by_doc ON samples (benchmark, doc_id);
"""


def _number(value: Any) -> float | None:
    # bools count (IFEval's per-instruction flags); "N/A" stderr and text do not.
    return float(value) if isinstance(value, (int, float)) else None


def _is_run_dir(path: Path) -> bool:
    """A training run folder (not e.g. ``runs/`` holding ``runs/evals/<model>/``)."""
    return any((path / name).exists() for name in ("config.yaml", "checkpoints", "eval_queue.jsonl", "metrics.jsonl"))


class StoreError(ValueError):
    """``workbench.db`` is corrupt or was written with another schema; names the file."""


class Store:
    """A connection to ``<root>/workbench.db`` with indexing helpers."""

    def __init__(self, root: str | Path, db_path: str | Path | None = None) -> None:
        """Open (creating if needed) the index of ``root``."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = Path(db_path) if db_path else self.root / DB_NAME
        hint = (f"; it is only an index: move it away and it is rebuilt from the files "
                f"(workbench.store.rebuild({str(self.root)!r}))")
        try:
            self.conn = sqlite3.connect(self.db_path, timeout=30)
            self.conn.executescript(SCHEMA)
            mismatched = self._schema_mismatch()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.db_path}: not a usable workbench index ({exc}){hint}") from None
        if mismatched:
            self.conn.close()
            raise StoreError(f"{self.db_path}: table {mismatched} does not have the columns this workbench "
                             f"writes (another version or another tool's database){hint}")

    def _schema_mismatch(self) -> str | None:
        """The first table of :data:`SCHEMA` whose columns differ from the file's, or None."""
        want: dict[str, list[str]] = {}
        probe = sqlite3.connect(":memory:")
        try:
            probe.executescript(SCHEMA)
            for (table,) in probe.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                want[table] = [row[1] for row in probe.execute(f"PRAGMA table_info({table})")]
        finally:
            probe.close()
        for table, columns in want.items():
            if [row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")] != columns:
                return table
        return None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (commit on success, rollback on error); a database error
        is raised as :class:`StoreError` naming the file."""
        try:
            with self.conn:
                yield self.conn
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.db_path}: not a usable workbench index ({exc}); move it away and it is "
                             "rebuilt from the files") from None

    def execute(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        """Run one statement and return its rows (for queries and extensions' own tables)."""
        with self.conn:
            return self.conn.execute(sql, params).fetchall()

    # -- evaluation outputs -------------------------------------------------------------
    def index_eval(self, out_dir: str | Path) -> None:
        """Index ``out_dir/results.json`` and its ``samples.jsonl`` (replacing older rows)."""
        from evaluations.results import headline, read_samples

        out_dir = Path(out_dir)
        results_path = out_dir / "results.json"
        results = json.loads(results_path.read_text(encoding="utf-8"))
        bench, metric, value, stderr, n = headline(results)
        model = out_dir.parent.name
        run_id = checkpoint = None
        evals = out_dir.parent.parent
        if evals.name == "evals" and _is_run_dir(evals.parent):  # <run>/evals/<checkpoint>/<benchmark>
            run_id, checkpoint = evals.parent.name, model
        style = results.get("configs", {}).get(bench, {}).get("prompt_style")
        key = str(results_path.resolve())
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO eval_results VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (key, model, run_id, checkpoint, bench, metric, _number(value), _number(stderr), n, style,
                 json.dumps(results)),
            )
            db.execute("DELETE FROM samples WHERE results_path = ?", (key,))
            db.executemany(
                "INSERT OR REPLACE INTO samples VALUES (?,?,?,?,?,?,?)",
                [
                    (key, s.doc_id, s.benchmark, s.score, json.dumps(s.extracted, default=str),
                     json.dumps(s.gold, default=str), s.output)
                    for s in read_samples(out_dir / "samples.jsonl")
                ],
            )

    # -- training runs -------------------------------------------------------------------
    def index_run(self, run_dir: str | Path) -> None:
        """Index a run folder: config.yaml, checkpoints/, metrics.jsonl."""
        run_dir = Path(run_dir)
        run_id = run_dir.name
        config_path = run_dir / "config.yaml"
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.is_file() else None
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?,?,?,?)",
                (run_id, str(run_dir.resolve()), json.dumps(config, default=str), time.time()),
            )
            db.execute("DELETE FROM checkpoints WHERE run_id = ?", (run_id,))
            for step, ckpt in complete_checkpoints(run_dir / "checkpoints"):  # never a half-written one
                db.execute("INSERT OR REPLACE INTO checkpoints VALUES (?,?,?,?)",
                           (run_id, ckpt.name, step, str(ckpt.resolve())))
            db.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            metrics = run_dir / "metrics.jsonl"
            if metrics.is_file():
                for line in metrics.read_text(encoding="utf-8").splitlines():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line being written by a live trainer
                    step = row.get("step")
                    for key, value in row.items():
                        if key != "step" and step is not None and _number(value) is not None:
                            db.execute("INSERT OR REPLACE INTO metrics VALUES (?,?,?,?)",
                                       (run_id, step, key, _number(value)))

    # -- queries ----------------------------------------------------------------------------
    def eval_table(self) -> list[dict[str, Any]]:
        """Every indexed evaluation result as dicts (model, benchmark, metric, value, ...)."""
        cur = self.conn.execute(
            "SELECT model, run_id, checkpoint, benchmark, metric, value, stderr, n, style, results_path "
            "FROM eval_results ORDER BY model, benchmark"
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]


def rebuild(root: str | Path, db_path: str | Path | None = None) -> Store:
    """Delete and rebuild the index of ``root`` from its files; returns the open store."""
    root = Path(root)
    path = Path(db_path) if db_path else root / DB_NAME
    if path.exists():
        path.unlink()
    store = Store(root, path)
    for config in sorted(root.glob("*/config.yaml")):
        store.index_run(config.parent)
    for results in sorted(root.rglob("results.json")):
        try:
            store.index_eval(results.parent)
        except (KeyError, ValueError, json.JSONDecodeError):
            continue  # not an evaluation results file (e.g. another tool's)
    # Imported here: diagnostics_store builds on this module.
    from workbench.diagnostics_store import index_all_diagnostics

    index_all_diagnostics(store)
    return store
