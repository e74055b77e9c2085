"""Paired comparison of two evaluated models on the same items.

Two evaluation output directories (``.../<model>/<benchmark>/samples.jsonl``) are
paired item by item on ``(benchmark, doc_id)`` — never by position, so the order in
which items were written (e.g. after a resumed run) does not matter. Per benchmark:

* **McNemar's exact test** on the discordant pairs: with ``b`` = items only A solves and
  ``c`` = items only B solves, under H0 (equal accuracy) ``b ~ Binomial(b + c, 1/2)``;
  the two-sided p-value is ``scipy.stats.binomtest(b, b + c, 0.5).pvalue`` (1 when
  ``b + c = 0``). An item counts as solved when its score is ≥ 0.5 (scores are 0/1 for
  every benchmark but DROP's F1; the table says when scores were not all binary).
* **Paired bootstrap CI** of ``acc(B) − acc(A)``: resample items with replacement
  (the same items for both models), percentile interval, seedable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from evaluations.jsonl import jsonl_records

SAMPLES_FILE = "samples.jsonl"


@dataclass
class PairedComparison:
    """The paired comparison of models A and B on one benchmark."""

    benchmark: str
    n: int  # items scored for both models
    mean_a: float
    mean_b: float
    diff: float  # mean_b - mean_a
    ci_low: float
    ci_high: float
    only_a_correct: int  # b: A right, B wrong
    only_b_correct: int  # c: A wrong, B right
    p_value: float  # McNemar exact, two-sided
    binary: bool  # all scores were 0 or 1
    unpaired_a: int  # items only in A's samples
    unpaired_b: int  # items only in B's samples

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def mcnemar_exact_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: binomial test of ``only_a`` out of the
    ``only_a + only_b`` discordant pairs against p = 1/2 (1.0 when there are none)."""
    if only_a < 0 or only_b < 0:
        raise ValueError(f"discordant counts must be non-negative, got {only_a}, {only_b}")
    total = only_a + only_b
    if total == 0:
        return 1.0
    return float(binomtest(only_a, total, 0.5, alternative="two-sided").pvalue)


def paired_bootstrap_ci(
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    n_boot: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``mean(scores_b - scores_a)``, resampling paired items.

    Both score vectors are indexed by the same items; each replicate draws ``n`` item
    indices with replacement and averages the per-item differences.
    """
    a = np.asarray(scores_a, dtype=float)
    b = np.asarray(scores_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores must be 1-D of equal length, got {a.shape} and {b.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be ≥ 1, got {n_boot}")
    n = a.size
    if n == 0:
        return (math.nan, math.nan)
    diff = b - a
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    # Chunked so memory stays ~ 16 MB whatever the number of items.
    chunk = max(1, 2_000_000 // n)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = diff[idx].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def load_scores(samples_path: Path) -> dict[str, float]:
    """``doc_id -> score`` from one ``samples.jsonl``; errors name the file and line."""
    scores: dict[str, float] = {}
    for number, row in jsonl_records(samples_path):
        try:
            doc_id, score = str(row["doc_id"]), float(row["score"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"{samples_path}:{number}: expected a JSON object with doc_id and a "
                f"numeric score ({type(exc).__name__}: {exc})"
            ) from exc
        if doc_id in scores:
            raise ValueError(f"{samples_path}:{number}: duplicate doc_id {doc_id!r}")
        if not math.isfinite(score):
            raise ValueError(f"{samples_path}:{number}: score is not finite ({score})")
        scores[doc_id] = score
    return scores


def benchmarks_in(model_dir: Path) -> dict[str, Path]:
    """``benchmark -> samples.jsonl`` for every ``<benchmark>/samples.jsonl`` in a dir."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise FileNotFoundError(f"{model_dir}: not a directory (expected <model>/<benchmark>/"
                                f"{SAMPLES_FILE})")
    return {p.parent.name: p for p in sorted(model_dir.glob(f"*/{SAMPLES_FILE}"))}


def compare_scores(
    benchmark: str,
    scores_a: dict[str, float],
    scores_b: dict[str, float],
    n_boot: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Pair two ``doc_id -> score`` maps on their common doc ids and compare them."""
    common = sorted(set(scores_a) & set(scores_b))
    a = np.array([scores_a[d] for d in common], dtype=float)
    b = np.array([scores_b[d] for d in common], dtype=float)
    solved_a, solved_b = a >= 0.5, b >= 0.5
    only_a = int(np.sum(solved_a & ~solved_b))
    only_b = int(np.sum(~solved_a & solved_b))
    low, high = paired_bootstrap_ci(a, b, n_boot=n_boot, confidence=confidence, seed=seed)
    n = len(common)
    return PairedComparison(
        benchmark=benchmark,
        n=n,
        mean_a=float(a.mean()) if n else math.nan,
        mean_b=float(b.mean()) if n else math.nan,
        diff=float((b - a).mean()) if n else math.nan,
        ci_low=low,
        ci_high=high,
        only_a_correct=only_a,
        only_b_correct=only_b,
        p_value=mcnemar_exact_p(only_a, only_b),
        binary=bool(np.all(np.isin(np.concatenate([a, b]), [0.0, 1.0]))),
        unpaired_a=len(set(scores_a) - set(scores_b)),
        unpaired_b=len(set(scores_b) - set(scores_a)),
    )


SUBTASK_BENCHMARKS = ("bbh", "mmlu")  # doc ids are "<subtask>/<index>"


def subtask_groups(benchmark: str, doc_ids: set[str]) -> dict[str, set[str]]:
    """Row name (lm-eval style: ``bbh_navigate``, ``mmlu_stem``, ``mmlu_anatomy``) -> doc ids.

    BBH tasks and MMLU subjects come from the doc id prefix; MMLU's four categories are
    lm-eval's (see :func:`evaluations.subtask_results.mmlu_category`).
    """
    if benchmark not in SUBTASK_BENCHMARKS:
        return {}
    groups: dict[str, set[str]] = {}
    for doc_id in doc_ids:
        if "/" in doc_id:
            groups.setdefault(f"{benchmark}_{doc_id.split('/', 1)[0]}", set()).add(doc_id)
    if benchmark == "mmlu":
        from evaluations.subtask_results import mmlu_category

        for name in list(groups):
            category = f"mmlu_{mmlu_category(name.removeprefix('mmlu_'))}"
            groups.setdefault(category, set()).update(groups[name])
    return dict(sorted(groups.items()))


def compare_subtasks(
    benchmark: str,
    scores_a: dict[str, float],
    scores_b: dict[str, float],
    n_boot: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[PairedComparison]:
    """One paired comparison per subtask (and MMLU category) of ``benchmark``."""
    rows = []
    for name, ids in subtask_groups(benchmark, set(scores_a) | set(scores_b)).items():
        rows.append(compare_scores(name, {d: s for d, s in scores_a.items() if d in ids},
                                   {d: s for d, s in scores_b.items() if d in ids},
                                   n_boot=n_boot, confidence=confidence, seed=seed))
    return rows


def compare_dirs(
    dir_a: Path,
    dir_b: Path,
    benchmarks: list[str] | None = None,
    n_boot: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    subtasks: bool = False,
) -> tuple[list[PairedComparison], dict[str, list[str]]]:
    """Compare every benchmark both directories have (or the ``benchmarks`` asked for).

    With ``subtasks``, each BBH/MMLU row is followed by its per-subtask (and MMLU
    per-category) rows, named as lm-eval names them (``bbh_navigate``, ``mmlu_stem``).

    Returns the comparisons and ``{"only_a": [...], "only_b": [...]}`` — benchmarks that
    only one side has (never silently dropped: the caller reports them).
    """
    found_a, found_b = benchmarks_in(dir_a), benchmarks_in(dir_b)
    if benchmarks:
        for name in benchmarks:
            for side, found, where in (("A", found_a, dir_a), ("B", found_b, dir_b)):
                if name not in found:
                    raise FileNotFoundError(f"{where}/{name}/{SAMPLES_FILE} not found ({side})")
        names = list(benchmarks)
    else:
        names = sorted(set(found_a) & set(found_b))
    if not names:
        raise ValueError(f"no benchmark has {SAMPLES_FILE} in both {dir_a} and {dir_b}")
    results = []
    for name in names:
        scores_a, scores_b = load_scores(found_a[name]), load_scores(found_b[name])
        results.append(compare_scores(name, scores_a, scores_b, n_boot=n_boot, confidence=confidence, seed=seed))
        if subtasks:
            results += compare_subtasks(name, scores_a, scores_b, n_boot=n_boot, confidence=confidence, seed=seed)
    missing = {"only_a": sorted(set(found_a) - set(found_b)),
               "only_b": sorted(set(found_b) - set(found_a))}
    return results, missing
