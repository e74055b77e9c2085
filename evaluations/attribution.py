"""Fusion attribution: where a fused model's right answers come from.

Every model (pivot, each source, the fused model) is an evaluation output directory
(``<model>/<benchmark>/samples.jsonl``). Items are paired on ``doc_id`` within a benchmark
over the items *all* models were scored on; an item counts as solved when its score is
≥ 0.5 (as in :mod:`evaluations.compare`). With ``P`` = solved by the pivot, ``S`` =
solved by at least one source and ``F`` = solved by the fused model:

* **transfer rate** = |F ∩ S ∖ P| / |S ∖ P| — of the items only a source could solve, the
  share the fused model now solves (what fusion is meant to add);
* **forgetting rate** = |P ∖ F| / |P| — of the pivot's solved items, the share lost;
* **net gain** = acc(F) − acc(P) = (|F ∖ P| − |P ∖ F|) / n, with the paired bootstrap CI
  and McNemar's exact p-value of fused vs pivot (:func:`evaluations.compare.compare_scores`);
* per item a **category**: ``transferred`` (S∖P, now F), ``not transferred`` (S∖P, not F),
  ``kept`` (P and F), ``forgotten`` (P, not F), ``new`` (F, neither P nor any source),
  ``unsolved`` (none).

Rows are per benchmark and, for BBH/MMLU, per subtask (lm-eval's row names).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluations.compare import benchmarks_in, compare_scores, load_scores, subtask_groups

CATEGORIES: tuple[str, ...] = ("transferred", "not transferred", "kept", "forgotten", "new", "unsolved")


@dataclass
class AttributionRow:
    """Attribution of one benchmark (or subtask) over the items every model was scored on."""

    benchmark: str
    n: int
    acc_pivot: float
    acc_sources: dict[str, float]
    acc_fused: float
    source_only: int  # |S \ P|
    transferred: int  # |F ∩ S \ P|
    pivot_solved: int  # |P|
    forgotten: int  # |P \ F|
    new: int  # |F \ (P ∪ S)|
    transfer_rate: float
    forgetting_rate: float
    net_gain: float
    ci_low: float
    ci_high: float
    p_value: float  # McNemar exact, fused vs pivot

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def _rate(num: int, den: int) -> float:
    return num / den if den else math.nan


def item_category(pivot: bool, sources: list[bool], fused: bool) -> str:
    """The category of one item (see the module docstring)."""
    if pivot:
        return "kept" if fused else "forgotten"
    if any(sources):
        return "transferred" if fused else "not transferred"
    return "new" if fused else "unsolved"


def attribute_scores(
    benchmark: str,
    pivot: dict[str, float],
    sources: dict[str, dict[str, float]],
    fused: dict[str, float],
    n_boot: int = 10_000,
    seed: int = 0,
) -> tuple[AttributionRow, dict[str, str]]:
    """The attribution row of one benchmark and each common item's category."""
    common = set(pivot) & set(fused)
    for scores in sources.values():
        common &= set(scores)
    ids = sorted(common)
    p = np.array([pivot[d] >= 0.5 for d in ids], dtype=bool)
    f = np.array([fused[d] >= 0.5 for d in ids], dtype=bool)
    s_each = {name: np.array([scores[d] >= 0.5 for d in ids], dtype=bool) for name, scores in sources.items()}
    s = np.zeros(len(ids), dtype=bool)
    for solved in s_each.values():
        s |= solved
    paired = compare_scores(benchmark, {d: pivot[d] for d in ids}, {d: fused[d] for d in ids}, n_boot=n_boot, seed=seed)
    n = len(ids)
    row = AttributionRow(
        benchmark=benchmark, n=n,
        acc_pivot=float(p.mean()) if n else math.nan,
        acc_sources={name: float(v.mean()) if n else math.nan for name, v in s_each.items()},
        acc_fused=float(f.mean()) if n else math.nan,
        source_only=int((s & ~p).sum()), transferred=int((f & s & ~p).sum()),
        pivot_solved=int(p.sum()), forgotten=int((p & ~f).sum()), new=int((f & ~p & ~s).sum()),
        transfer_rate=_rate(int((f & s & ~p).sum()), int((s & ~p).sum())),
        forgetting_rate=_rate(int((p & ~f).sum()), int(p.sum())),
        net_gain=float(f.mean() - p.mean()) if n else math.nan,
        ci_low=paired.ci_low, ci_high=paired.ci_high, p_value=paired.p_value,
    )
    categories = {d: item_category(bool(p[i]), [bool(v[i]) for v in s_each.values()], bool(f[i]))
                  for i, d in enumerate(ids)}
    return row, categories


def attribute_dirs(
    fused: Path,
    pivot: Path,
    sources: dict[str, Path],
    benchmarks: list[str] | None = None,
    subtasks: bool = True,
    n_boot: int = 10_000,
    seed: int = 0,
) -> tuple[list[AttributionRow], list[dict[str, Any]]]:
    """Attribution rows for every benchmark all models were evaluated on (or ``benchmarks``),
    each followed by its subtask rows; and one record per item (benchmark, doc_id, category,
    and each model's score)."""
    dirs = {"pivot": Path(pivot), **{name: Path(d) for name, d in sources.items()}, "fused": Path(fused)}
    found = {name: benchmarks_in(d) for name, d in dirs.items()}
    shared = set.intersection(*(set(f) for f in found.values()))
    if benchmarks:
        missing = {b: [name for name in dirs if b not in found[name]] for b in benchmarks}
        missing = {b: names for b, names in missing.items() if names}
        if missing:
            raise FileNotFoundError("no samples.jsonl for " + "; ".join(
                f"{b} in {', '.join(str(dirs[n]) for n in names)}" for b, names in missing.items()))
        names = list(benchmarks)
    else:
        names = sorted(shared)
    if not names:
        raise ValueError(f"no benchmark has samples.jsonl in all of {', '.join(map(str, dirs.values()))}")
    scores = {bench: {name: load_scores(found[name][bench]) for name in dirs} for bench in names}
    return attribute_benchmarks(scores, list(sources), subtasks=subtasks, n_boot=n_boot, seed=seed)


def attribute_benchmarks(
    scores: dict[str, dict[str, dict[str, float]]],
    sources: list[str],
    subtasks: bool = True,
    n_boot: int = 10_000,
    seed: int = 0,
) -> tuple[list[AttributionRow], list[dict[str, Any]]]:
    """:func:`attribute_dirs` on scores already read: ``scores[benchmark][model]`` is a
    ``doc_id -> score`` map for ``"pivot"``, ``"fused"`` and every name in ``sources``."""
    rows, items = [], []
    for bench, by_model in scores.items():
        src = {name: by_model[name] for name in sources}
        row, categories = attribute_scores(bench, by_model["pivot"], src, by_model["fused"], n_boot, seed)
        rows.append(row)
        items += [{"benchmark": bench, "doc_id": d, "category": c,
                   **{name: by_model[name][d] for name in by_model}} for d, c in categories.items()]
        if subtasks:
            for group, ids in subtask_groups(bench, set(categories)).items():
                sub = {name: {d: v for d, v in s.items() if d in ids} for name, s in by_model.items()}
                rows.append(attribute_scores(group, sub["pivot"], {n: sub[n] for n in sources}, sub["fused"],
                                             n_boot, seed)[0])
    return rows, items
