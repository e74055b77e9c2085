"""``samples.jsonl`` and ``results.json`` writers/readers (DESIGN §3 outputs).

``samples.jsonl``: one scored sample per line (benchmark, doc_id, prompt, output,
extracted, gold, score, extra), appended and fsync'ed chunk by chunk, so a killed run
keeps every finished item. A torn last line (killed mid-write) is dropped on read and
repaired before appending. ``results.json`` is written last, atomically, with
lm-eval-compatible keys (``results``/``<metric>,none``/``<metric>_stderr,none``,
``versions``, ``n-samples``, ``configs``, ``config``, ``higher_is_better``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

from evaluations.base import ROBUST_FILTER, ScoredSample
from evaluations.fs import names_file
from evaluations.jsonl import jsonl_records

SAMPLES_FILE = "samples.jsonl"
RESULTS_FILE = "results.json"


def sample_to_dict(sample: ScoredSample) -> dict[str, Any]:
    """The JSON row of one sample."""
    return dataclasses.asdict(sample)


def read_samples(path: Path) -> list[ScoredSample]:
    """Samples of a ``samples.jsonl``; a torn final line is ignored, a duplicate doc id keeps the first."""
    path = Path(path)
    if not path.is_file():
        return []
    samples: list[ScoredSample] = []
    seen: set[str] = set()
    for _, row in jsonl_records(path, torn_tail_ok=True):  # the torn tail of a killed run
        if row["doc_id"] in seen:
            continue
        seen.add(row["doc_id"])
        samples.append(ScoredSample(**row))
    return samples


def _repair_tail(path: Path) -> None:
    # Drop a partial last line so appended rows start on a fresh line.
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(path, "r+b") as fh:
            fh.truncate(cut)


def rewrite_samples(path: Path, samples: list[ScoredSample]) -> None:
    """Replace ``path`` by exactly ``samples``, atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_suffix(".jsonl.tmp")
    with names_file(tmp), open(tmp, "w", encoding="utf-8") as fh:
        for sample in samples:
            fh.write(json.dumps(sample_to_dict(sample), ensure_ascii=False, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def append_samples(path: Path, samples: list[ScoredSample]) -> None:
    """Append ``samples`` to ``path`` durably (flush + fsync)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _repair_tail(path)
    with names_file(path), open(path, "a", encoding="utf-8") as fh:
        for sample in samples:
            fh.write(json.dumps(sample_to_dict(sample), ensure_ascii=False, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def mean_stderr(values: list[float]) -> tuple[float, float]:
    """Mean and its standard error ``s / sqrt(n)`` with the n-1 sample deviation (lm-eval's)."""
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def aggregate(metric: str, samples: list[ScoredSample]) -> dict[str, float]:
    """``{"<metric>,none": mean, "<metric>_stderr,none": se, ...}``; numeric extras are
    averaged too (lists, like IFEval's instruction-level results, are flattened first)."""
    out: dict[str, float] = {}
    mean, se = mean_stderr([s.score for s in samples])
    out[f"{metric},none"], out[f"{metric}_stderr,none"] = mean, se
    keys = sorted({k for s in samples for k in s.extra})
    for key in keys:
        values: list[float] = []
        for s in samples:
            value = s.extra.get(key)
            items = value if isinstance(value, list) else [value]
            values += [float(v) for v in items if isinstance(v, (bool, int, float))]
        if values and len(values) >= len([s for s in samples if key in s.extra]):
            m, e = mean_stderr(values)
            out[f"{key},none"], out[f"{key}_stderr,none"] = m, e
    out.update(aggregate_robust(metric, samples))
    return out


def aggregate_robust(metric: str, samples: list[ScoredSample]) -> dict[str, float]:
    """``<metric>,robust-extract`` (and e.g. ``em,robust-extract``) over samples that carry
    ``extra["robust"]`` — only when every sample does, so a mean never covers a subset."""
    robust: list[Any] = [s.extra.get("robust") for s in samples]
    if not robust or not all(isinstance(r, dict) for r in robust):
        return {}
    out: dict[str, float] = {}
    for key in sorted({k for r in robust for k in r if k != "extracted"}):
        name = metric if key == "score" else key
        m, e = mean_stderr([float(r.get(key, 0.0)) for r in robust])
        out[f"{name},{ROBUST_FILTER}"], out[f"{name}_stderr,{ROBUST_FILTER}"] = m, e
    return out


def build_results(
    benchmark: str,
    metric: str,
    samples: list[ScoredSample],
    n_original: int,
    version: float,
    task_config: dict[str, Any],
    run_config: dict[str, Any],
    subtask_of: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """The results.json document for one benchmark (lm-eval-compatible keys).

    With ``subtask_of`` (doc id -> subtask), per-subtask rows are added in lm-eval's
    group layout (:mod:`evaluations.subtask_results`).
    """
    from evaluations.subtask_results import subtask_layout

    metrics = aggregate(metric, samples)
    doc: dict[str, Any] = {
        "results": {benchmark: {"alias": benchmark, **metrics}},
        "versions": {benchmark: version},
        "n-samples": {benchmark: {"original": n_original, "effective": len(samples)}},
        "higher_is_better": {benchmark: {k.split(",")[0]: True for k in metrics if "_stderr" not in k}},
        "configs": {benchmark: task_config},
        "config": run_config,
        "metric": metric,
        "benchmark": benchmark,
    }
    extra = subtask_layout(benchmark, metric, samples, subtask_of or {}, version, aggregate)
    if extra:
        for key in ("results", "n-samples", "versions", "higher_is_better"):
            doc[key].update(extra[key])
        doc["groups"] = {benchmark: doc["results"][benchmark], **extra["groups"]}
        doc["group_subtasks"] = extra["group_subtasks"]
    return doc


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "N/A"  # lm-eval writes N/A for an undefined stderr
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_results(path: Path, results: dict[str, Any]) -> None:
    """Write ``results.json`` atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    with names_file(tmp):
        tmp.write_text(json.dumps(_json_safe(results), indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_results(path: Path) -> dict[str, Any]:
    """Load a results.json."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _only_benchmark(results: dict[str, Any]) -> str:
    """The benchmark of a document without a ``benchmark`` key (older files, lm-eval's own
    layout): the first ``configs`` entry, else the one ``results`` entry. Several
    ``results`` entries and no way to tell the headline: ``ValueError``."""
    if results.get("configs"):
        return next(iter(results["configs"]))
    names = list(results["results"])
    if len(names) != 1:
        raise ValueError(f"no 'benchmark' key and {len(names)} 'results' entries: cannot tell the headline benchmark")
    return names[0]


def headline(results: dict[str, Any]) -> tuple[str, str, float, Any, int]:
    """(benchmark, metric, value, stderr, n) from a results.json document."""
    bench = results.get("benchmark") or _only_benchmark(results)
    values = results["results"][bench]
    metric = results.get("metric") or next(k.split(",")[0] for k in values if k != "alias" and "_stderr" not in k)
    n = results["n-samples"][bench]["effective"]
    # lm-eval's stock generative tasks have named filters (gsm8k: strict-match, flexible-extract)
    filt = results.get("headline_filter") or "none"
    return bench, metric, values[f"{metric},{filt}"], values.get(f"{metric}_stderr,{filt}"), n
