"""Read the files the app shows — read-only, no Streamlit here.

Every reader raises ``ValueError`` naming the file (and line, for JSONL) when the content
is malformed, so the page can show one clear error for that file and go on with the rest.
Nothing is unpickled: JSON, JSONL, YAML (``safe_load``), CSV and Parquet only. Every file
is opened through :func:`workbench.app.safe.open_plain`: a symbolic link (to a file or on
the way to it) or anything but a regular file is refused, never read. The SQLite index is
opened ``immutable``, so not even a ``-wal``/``-shm`` side file is ever created.
"""

from __future__ import annotations

import io
import json
import math
import sqlite3
import urllib.parse
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from evaluations.jsonl import JsonlError, jsonl_records
from fusion.checkpoints import is_complete_checkpoint
from workbench.app import safe

#: A config or JSON object file larger than this is refused rather than shown.
TEXT_LIMIT = 16 * 2**20
#: Rows parsed per DataFrame chunk while streaming a metrics file.
CHUNK_ROWS = 50_000
#: Points kept per series for a chart (see :func:`downsample`).
MAX_POINTS = 2000


def read_jsonl(path: str | Path, *, torn_tail_ok: bool = False) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a bad line raises ``ValueError("file:line: ...")``."""
    return [row for _, row in jsonl_records(path, safe.read_text(path), torn_tail_ok=torn_tail_ok)]


def read_json_object(path: str | Path) -> dict[str, Any]:
    """A JSON file holding one object."""
    path = Path(path)
    try:
        data = json.loads(safe.read_text(path, TEXT_LIMIT))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_metrics(path: str | Path) -> pd.DataFrame:
    """``metrics.jsonl`` of a run: one row per logging step, sorted by ``step``.

    A line that is not a JSON object raises ``ValueError("file:line: ...")``, except an
    unparsable *last* line (the record a running trainer is writing right now), which is
    skipped; ``step`` must be a finite number on every line. Fast for long runs: the file
    is parsed by Arrow's JSON reader in one pass (600k lines in about a second); when that
    reader refuses anything (a bad line, a type change), the same bytes are parsed line by
    line (:func:`_metrics_by_line`) — the authority on errors and on what is accepted — and
    gathered into DataFrames of ``CHUNK_ROWS`` rows, never 600k dicts at once."""
    path = Path(path)
    with safe.open_plain(path) as handle:
        data = handle.read()
    df = _metrics_arrow(data)
    if df is None:
        df = _metrics_by_line(path, data)
    if df.empty:
        return df
    return df.sort_values("step", kind="stable").reset_index(drop=True)


def _metrics_arrow(data: bytes) -> pd.DataFrame | None:
    """The complete lines of ``data`` through ``pyarrow.json``, or None wherever the
    line-by-line reader might decide differently (invalid UTF-8, any Arrow error, a last
    line that is a complete record but not a valid one, a missing or non-finite step)."""
    import pyarrow as pa
    import pyarrow.json as pj

    end = data.rfind(b"\n") + 1
    body, tail = data[:end], data[end:]
    if not body.strip():
        return None
    try:
        data.decode("utf-8")  # Arrow would accept invalid UTF-8; json.loads does not
        table = pj.read_json(pa.py_buffer(body))
    except (UnicodeDecodeError, pa.ArrowException, ValueError):
        return None
    df = table.to_pandas()
    if tail.strip():
        try:
            record = json.loads(tail)
        except ValueError:
            record = None  # a torn last line: skipped
        if record is not None:
            if not (isinstance(record, dict) and set(record) <= set(df.columns)):
                return None
            df = pd.concat([df, pd.DataFrame([record])], ignore_index=True)
    step = df.get("step")
    if step is None or not pd.api.types.is_numeric_dtype(step) or pd.api.types.is_bool_dtype(step):
        return None
    if step.isna().any() or not np.isfinite(step.to_numpy(dtype=float)).all():
        return None
    return df


def _metrics_by_line(path: Path, data: bytes) -> pd.DataFrame:
    """``metrics.jsonl`` parsed one line at a time (see :func:`read_metrics`)."""
    frames: list[pd.DataFrame] = []
    rows: list[dict[str, Any]] = []
    torn: JsonlError | None = None
    # Binary lines end at b"\n" only (U+2028 inside a string is not a line end).
    for lineno, line in enumerate(io.BytesIO(data), start=1):
        if not line.strip():
            continue
        if torn is not None:
            raise torn  # the bad line was not the last one
        try:
            record = json.loads(line)
        except UnicodeDecodeError:
            torn = JsonlError(path, lineno, "not UTF-8 text")
            continue
        except json.JSONDecodeError as exc:
            torn = JsonlError(path, lineno, f"invalid JSON ({exc.msg})")
            continue
        if not isinstance(record, dict):
            raise JsonlError(path, lineno, f"expected a JSON object, got {type(record).__name__}")
        if not _is_number(record.get("step")):
            raise JsonlError(path, lineno, f"'step' is {record.get('step')!r}, not a finite number")
        rows.append(record)
        if len(rows) >= CHUNK_ROWS:
            frames.append(pd.DataFrame(rows))
            rows = []
    if rows:
        frames.append(pd.DataFrame(rows))
    if not frames:
        return pd.DataFrame()
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def numeric(series: pd.Series) -> pd.Series:
    """``series`` as floats; anything that is not a number becomes NaN."""
    return pd.to_numeric(series, errors="coerce").astype(float)


def downsample(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` points of the series ``(x, y)`` (x ascending)
    that draw the same line at screen resolution: the x range is cut into
    ``max_points // 4`` equal buckets and each keeps its first, last, lowest and highest
    point (the "M4" reduction), so every spike survives; the first and the last point of
    the series are always kept. A shorter series is returned whole."""
    n = len(x)
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 4)
    x = np.asarray(x, dtype=float)
    span = x[-1] - x[0]
    ids = np.zeros(n, dtype=np.int64) if span <= 0 else np.minimum(
        ((x - x[0]) / span * buckets).astype(np.int64), buckets - 1)
    frame = pd.DataFrame({"b": ids, "y": np.asarray(y, dtype=float)})
    groups = frame.groupby("b", sort=True)["y"]
    keep = np.concatenate([groups.idxmin().to_numpy(), groups.idxmax().to_numpy(),
                           frame.groupby("b").head(1).index.to_numpy(), frame.groupby("b").tail(1).index.to_numpy(),
                           [0, n - 1]])
    return np.unique(keep)


def chart_frame(metrics: pd.DataFrame, columns: list[str], x: str = "step",
                max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Long ``(x, term, value)`` rows for a line chart of ``columns`` against ``x``: each
    series without its non-finite values and downsampled to ``max_points``
    (:func:`downsample`)."""
    parts = []
    xs = numeric(metrics[x]).to_numpy()
    for col in columns:
        ys = numeric(metrics[col]).to_numpy()
        ok = np.isfinite(xs) & np.isfinite(ys)
        sx, sy = xs[ok], ys[ok]
        idx = downsample(sx, sy, max_points)
        parts.append(pd.DataFrame({x: sx[idx], "term": col, "value": sy[idx]}))
    if not parts:
        return pd.DataFrame(columns=[x, "term", "value"])
    return pd.concat(parts, ignore_index=True)


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
    step = numeric(metrics["step"])
    steps = step.diff().fillna(step).clip(lower=1)
    seconds = numeric(metrics["step_time_s"]) * steps
    tps = numeric(metrics["tokens"]) / seconds.where(seconds > 0)
    return pd.DataFrame({"step": metrics["step"], "tokens_per_s": tps}).dropna()


def read_yaml_text(path: str | Path) -> tuple[str, dict[str, Any]]:
    """A YAML config's text and its parsed mapping (``yaml.safe_load``)."""
    path = Path(path)
    text = safe.read_text(path, TEXT_LIMIT)
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
    """``checkpoints/step-N`` folders of a run: step, path, size (MB), complete (the
    trainer's complete marker, :func:`fusion.checkpoints.is_complete_checkpoint`, and no
    symbolic link inside), sorted by step. Empty when the run saved
    none yet. Links are never followed: a linked ``checkpoints/`` or ``step-N`` is not
    listed, and a checkpoint holding a link counts as incomplete (nothing loads from it)."""
    folder = Path(run_dir) / "checkpoints"
    rows = []
    for child in safe.entries(folder):
        name = child.name
        if not (child.is_dir(follow_symlinks=False) and name.startswith("step-") and name[5:].isdigit()):
            continue
        size, links = 0, False
        for entry in safe.entries(child.path):
            if entry.is_symlink():
                links = True
            elif entry.is_file(follow_symlinks=False):
                size += entry.stat(follow_symlinks=False).st_size
            elif entry.is_dir(follow_symlinks=False):
                links = links or _holds_link(Path(entry.path))
        rows.append({"checkpoint": name, "step": int(name[5:]), "size_mb": round(size / 2**20, 2),
                     "complete": not links and is_complete_checkpoint(child.path), "path": str(Path(child.path))})
    df = pd.DataFrame(rows, columns=["checkpoint", "step", "size_mb", "complete", "path"])
    return df.sort_values("step").reset_index(drop=True)


def _holds_link(folder: Path, depth: int = 4) -> bool:
    """Whether ``folder`` (or a subfolder, up to ``depth`` levels) holds a symbolic link."""
    for entry in safe.entries(folder):
        if entry.is_symlink():
            return True
        if depth and entry.is_dir(follow_symlinks=False) and _holds_link(Path(entry.path), depth - 1):
            return True
    return False


def read_samples(path: str | Path) -> pd.DataFrame:
    """``samples.jsonl`` of one model on one benchmark: prompt, output, extracted, gold,
    score (+ doc_id). ``extracted``/``gold`` are shown as text (they may be lists). A doc id
    seen twice keeps its first row (the rule of ``evaluations.results.read_samples``), so
    a folder two evaluations wrote to is never shown with duplicates."""
    rows, seen = [], set()
    for row in read_jsonl(path):
        key = row.get("doc_id")
        if key is not None and str(key) in seen:
            continue
        seen.add(str(key)) if key is not None else None
        rows.append(row)
    for number, row in enumerate(rows, start=1):
        missing = [k for k in ("output", "score") if k not in row]
        if missing:
            raise ValueError(f"{path}: record {number} lacks {', '.join(missing)}")
        score = row["score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise ValueError(f"{path}: record {number}: score {score!r} is not a finite number")
    df = pd.DataFrame(rows)
    for col in ("doc_id", "prompt", "output", "extracted", "gold"):
        # Built from the records themselves, not pandas' inferred column: a numeric answer
        # column with one null would become floats and NaN ("12.0", "NaN").
        df[col] = [_as_text(row.get(col)) for row in rows]
    df["doc_id"] = df["doc_id"].fillna("")
    df["score"] = df["score"].astype(float)
    return df


def read_scores(path: str | Path) -> dict[str, float]:
    """``doc_id -> score`` of one ``samples.jsonl``, with the checks of
    ``evaluations.compare.load_scores`` (numeric finite score, no duplicate doc_id)."""
    scores: dict[str, float] = {}
    for number, row in jsonl_records(path, safe.read_text(path)):
        try:
            doc_id, score = str(row["doc_id"]), float(row["score"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{number}: expected a JSON object with doc_id and a numeric score "
                             f"({type(exc).__name__}: {exc})") from exc
        if doc_id in scores:
            raise ValueError(f"{path}:{number}: duplicate doc_id {doc_id!r}")
        if not math.isfinite(score):
            raise ValueError(f"{path}:{number}: score is not finite ({score})")
        scores[doc_id] = score
    return scores


def _as_text(value: Any) -> str | None:
    """A sample field as text; None (no extraction, no gold) stays None, shown as "—"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
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
        with safe.open_plain(path) as handle:
            df = pd.read_parquet(handle) if path.suffix == ".parquet" else pd.read_csv(handle)
    except safe.NotPlainFile:
        raise
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path}: cannot read the table ({exc})") from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    return df


def query_readonly(db_path: str | Path, sql: str, params: tuple[Any, ...] = ()) -> pd.DataFrame:
    """Run ``sql`` on a SQLite file opened **immutable** (``mode=ro&immutable=1``): SQLite
    takes no lock and creates no ``-wal``/``-shm`` file, so the app never writes into the
    root, even for a WAL-mode index. (Writes still in a ``-wal`` file beside it, not yet
    checkpointed, are not seen.) The file must be a plain file (no link). A file that is
    not SQLite, or not the run store, is one ``ValueError`` naming it."""
    path = Path(db_path)
    with safe.open_plain(path) as handle:  # refuses links and non-files before SQLite sees it
        if handle.read(16) != b"SQLite format 3\x00":
            raise ValueError(f"{path}: not a SQLite database")
    uri = "file:" + urllib.parse.quote(str(Path(path).absolute())) + "?mode=ro&immutable=1"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            cursor = conn.execute(sql, params)
            names = [d[0] for d in cursor.description or ()]
            return pd.DataFrame(cursor.fetchall(), columns=names)
    except sqlite3.OperationalError as exc:
        raise ValueError(f"{path}: not a workbench run store, or one of another version ({exc})") from exc
    except sqlite3.Error as exc:
        raise ValueError(f"{path}: unreadable SQLite database ({exc})") from exc
