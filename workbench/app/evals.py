"""Evaluation results for the leaderboard and samples pages (no Streamlit).

Headline numbers come from :func:`evaluations.results.headline` and paired comparisons
from :mod:`evaluations.compare` (McNemar exact, paired bootstrap): nothing is recomputed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from workbench.app.discover import EvalResult

#: An item counts as solved when its score is ≥ this (evaluations.compare's convention).
SOLVED = 0.5


def benchmark_order() -> list[str]:
    """The paper's 11 benchmarks in the paper's order (the registry's)."""
    from evaluations import registry

    return registry.names()


def _finite(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else math.nan


def headline_rows(evals: Iterable[EvalResult], load: Callable[[Any], dict[str, Any]]) -> tuple[pd.DataFrame, list[str]]:
    """One row per results.json: model, benchmark, metric, value, stderr (fractions), n.

    ``load`` reads a JSON file (cached by the caller). A malformed file becomes one error
    message (naming the file) in the second return value; the other files still count.
    """
    from evaluations.results import headline

    rows, errors = [], []
    for ev in evals:
        try:
            bench, metric, value, stderr, n = headline(load(ev.results))
        except (ValueError, OSError) as exc:
            message = str(exc)
            errors.append(message if str(ev.results) in message else f"{ev.results}: {message}")
            continue
        except (KeyError, TypeError, StopIteration, AttributeError) as exc:
            errors.append(f"{ev.results}: not an evaluation results file (missing or malformed "
                          f"'results' / 'n-samples': {type(exc).__name__}: {exc})")
            continue
        rows.append({"model": ev.model, "benchmark": bench, "metric": metric, "value": _finite(value),
                     "stderr": _finite(stderr), "n": n, "results": str(ev.results),
                     "samples": str(ev.samples) if ev.has_samples else None,
                     "model_dir": str(ev.model_dir)})
    columns = ["model", "benchmark", "metric", "value", "stderr", "n", "results", "samples", "model_dir"]
    return pd.DataFrame(rows, columns=columns), errors


def leaderboard(rows: pd.DataFrame, benchmarks: list[str], with_stderr: bool = True) -> pd.DataFrame:
    """Models × benchmarks in percent (``<bench>`` and ``<bench> ±`` columns; one per
    chosen benchmark, in the paper's order, empty where not evaluated), plus ``average``
    over the benchmarks each model has among those shown and ``benchmarks`` (how many)."""
    order = [b for b in benchmark_order() if b in benchmarks] + sorted(set(benchmarks) - set(benchmark_order()))
    sub = rows[rows["benchmark"].isin(order)]
    if sub.empty:
        return pd.DataFrame(columns=["model", *order, "average", "benchmarks"])
    # Every chosen benchmark gets a column, evaluated or not (empty = not evaluated yet).
    value = sub.pivot_table(index="model", columns="benchmark", values="value", aggfunc="first").reindex(
        columns=order) * 100
    stderr = sub.pivot_table(index="model", columns="benchmark", values="stderr", aggfunc="first",
                             dropna=False).reindex(columns=order) * 100
    table = pd.DataFrame(index=value.index)
    for bench in order:
        table[bench] = value[bench]
        if with_stderr:
            table[f"{bench} ±"] = stderr[bench]
    table["average"] = value.mean(axis=1, skipna=True)
    table["benchmarks"] = value.notna().sum(axis=1)
    return table.reset_index()


def compare_models(samples_a: dict[str, str], samples_b: dict[str, str], n_boot: int = 2000,
                   seed: int = 0) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Paired comparison of two models given ``benchmark -> samples.jsonl`` for each (the
    files discovery found: plain files inside the root). The statistics are
    :func:`evaluations.compare.compare_scores` — what ``workbench compare`` reports — on
    scores read by :func:`workbench.app.readers.read_scores` (the same checks as
    ``evaluations.compare.load_scores``, through the app's no-symlink reader)."""
    from evaluations.compare import compare_scores
    from workbench.app.readers import read_scores

    names = sorted(set(samples_a) & set(samples_b))
    if not names:
        raise ValueError("no benchmark has samples.jsonl for both models")
    results = [compare_scores(name, read_scores(samples_a[name]), read_scores(samples_b[name]), n_boot=n_boot,
                              seed=seed) for name in names]
    missing = {"only_a": sorted(set(samples_a) - set(samples_b)), "only_b": sorted(set(samples_b) - set(samples_a))}
    return pd.DataFrame([r.as_dict() for r in results]), missing


def per_item(samples_a: pd.DataFrame, samples_b: pd.DataFrame) -> pd.DataFrame:
    """Items of one benchmark paired on ``doc_id``: both scores, B − A, whether the two
    disagree (one solved, the other not), and both extracted answers and outputs."""
    cols = ["doc_id", "score", "extracted", "output"]
    merged = samples_a[cols + ["gold"]].merge(samples_b[cols], on="doc_id", suffixes=(" A", " B"))
    merged["B − A"] = merged["score B"] - merged["score A"]
    merged["disagree"] = (merged["score A"] >= SOLVED) != (merged["score B"] >= SOLVED)
    return merged[["doc_id", "score A", "score B", "B − A", "disagree", "gold", "extracted A", "extracted B",
                   "output A", "output B"]]


def attribution(samples: dict[str, dict[str, str]], sources: list[str], n_boot: int = 2000,
                seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fusion attribution (:func:`evaluations.attribution.attribute_benchmarks`, what
    ``workbench attribute`` reports) from ``samples[role][benchmark] = samples.jsonl`` for
    the roles ``pivot``, ``fused`` and each source, read through the app's no-symlink
    reader; over the benchmarks every role has. Returns (rows, items)."""
    from evaluations.attribution import attribute_benchmarks
    from workbench.app.readers import read_scores

    names = sorted(set.intersection(*(set(by_bench) for by_bench in samples.values())))
    if not names:
        raise ValueError("no benchmark has samples.jsonl for the pivot, every source and the fused model")
    scores = {b: {role: read_scores(by_bench[b]) for role, by_bench in samples.items()} for b in names}
    rows, items = attribute_benchmarks(scores, sources, n_boot=n_boot, seed=seed)
    table = pd.DataFrame([{**{k: v for k, v in r.as_dict().items() if k != "acc_sources"},
                           **{f"acc {name}": acc for name, acc in r.acc_sources.items()}} for r in rows])
    return table, pd.DataFrame(items, columns=["benchmark", "doc_id", "category", *samples])
