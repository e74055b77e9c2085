"""Read the files the app shows — read-only, no Streamlit here.

Every reader raises ``ValueError`` naming the file (and line, for JSONL) when the content
is malformed, so the page can show one clear error for that file and go on with the rest.
Nothing is unpickled: JSON, JSONL, YAML (``safe_load``), CSV and Parquet only.
"""

from __future__ import annotations

import json
import math
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from evaluations.jsonl import jsonl_records


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a bad line raises ``ValueError("file:line: ...")``."""
    return [row for _, row in jsonl_records(path)]


def read_json_object(path: str | Path) -> dict[str, Any]:
    """A JSON file holding one object."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_metrics(path: str | Path) -> pd.DataFrame:
    """``metrics.jsonl`` of a run: one row per logging step, sorted by ``step``."""
    rows = read_jsonl(path)
    for number, row in enumerate(rows, start=1):
        if "step" not in row:
            raise ValueError(f"{path}: record {number} has no 'step'")
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    return df.sort_values("step").reset_index(drop=True)


def loss_columns(metrics: pd.DataFrame) -> list[str]:
    """The loss terms logged in ``metrics``: total, CE, then WD and GLD per source."""
    cols = [c for c in ("loss", "ce") if c in metrics.columns]
    cols += sorted(c for c in metrics.columns if c.startswith("wd/"))
    cols += sorted(c for c in metrics.columns if c.startswith("gld/"))
    return cols


def throughput(metrics: pd.DataFrame) -> pd.DataFrame:
    """Tokens per second per logging step (``tokens`` / (``step_time_s`` × steps since
    the previous line)); empty when the run did not log both."""
    if not {"tokens", "step_time_s", "step"} <= set(metrics.columns):
        return pd.DataFrame(columns=["step", "tokens_per_s"])
    steps = metrics["step"].diff().fillna(metrics["step"]).clip(lower=1)
    seconds = metrics["step_time_s"].astype(float) * steps
    tps = metrics["tokens"].astype(float) / seconds.where(seconds > 0)
    return pd.DataFrame({"step": metrics["step"], "tokens_per_s": tps}).dropna()


def read_yaml_text(path: str | Path) -> tuple[str, dict[str, Any]]:
    """A YAML config's text and its parsed mapping (``yaml.safe_load``)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping, got {type(data).__name__}")
    return text, data


def checkpoint_table(run_dir: str | Path) -> pd.DataFrame:
    """``checkpoints/step-N`` folders of a run: step, path, size (MB), complete (has
    ``config.json``), sorted by step. Empty when the run saved none yet."""
    folder = Path(run_dir) / "checkpoints"
    rows = []
    if folder.is_dir():
        for child in folder.iterdir():
            if not (child.is_dir() and child.name.startswith("step-") and child.name[5:].isdigit()):
                continue
            size = sum(f.stat().st_size for f in child.iterdir() if f.is_file())
            rows.append({"checkpoint": child.name, "step": int(child.name[5:]),
                         "size_mb": round(size / 2**20, 2), "complete": (child / "config.json").is_file(),
                         "path": str(child)})
    df = pd.DataFrame(rows, columns=["checkpoint", "step", "size_mb", "complete", "path"])
    return df.sort_values("step").reset_index(drop=True)


def read_samples(path: str | Path) -> pd.DataFrame:
    """``samples.jsonl`` of one model on one benchmark: prompt, output, extracted, gold,
    score (+ doc_id). ``extracted``/``gold`` are shown as text (they may be lists)."""
    rows = read_jsonl(path)
    for number, row in enumerate(rows, start=1):
        missing = [k for k in ("output", "score") if k not in row]
        if missing:
            raise ValueError(f"{path}: record {number} lacks {', '.join(missing)}")
        score = row["score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise ValueError(f"{path}: record {number}: score {score!r} is not a finite number")
    df = pd.DataFrame(rows)
    for col in ("doc_id", "prompt", "output", "extracted", "gold"):
        if col not in df.columns:
            df[col] = None
    for col in ("extracted", "gold"):
        df[col] = df[col].map(_as_text)
    df["doc_id"] = df["doc_id"].astype(str)
    df["score"] = df["score"].astype(float)
    return df


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def read_bounds_report(folder: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A ``workbench bounds`` report: the per-pair table and ``summary.json``."""
    folder = Path(folder)
    pairs = read_table(folder / "pairs.csv", required=("family", "n", "m", "gw_exact", "lower", "upper"))
    return pairs, read_json_object(folder / "summary.json")


def read_table(path: str | Path, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """A CSV or Parquet table, checking ``required`` columns."""
    path = Path(path)
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path}: cannot read the table ({exc})") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    return df


def query_readonly(db_path: str | Path, sql: str, params: tuple[Any, ...] = ()) -> pd.DataFrame:
    """Run ``sql`` on a SQLite file opened **read-only** (``mode=ro``): the app can never
    write into the index of the runs it shows."""
    uri = f"file:{Path(db_path).resolve()}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            return pd.read_sql_query(sql, conn, params=params)
    except sqlite3.Error as exc:
        raise ValueError(f"{db_path}: {exc}") from exc
