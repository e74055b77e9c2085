"""Representative subsets for ``--limit N``: stratified across subtasks, seeded.

MMLU's first 100 documents are all abstract algebra, so ``--limit`` takes a stratified
sample by default: every subtask (BBH task, MMLU subject) gets a share of N proportional
to its size (largest remainder), at least one each when N allows, drawn at random within
the subtask with a recorded seed; the chosen documents keep the official order.
Benchmarks without subtasks are one stratum (a seeded random sample). ``first`` mode is
the benchmark's own first-N (BBH: round-robin over tasks), as before.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Literal

from evaluations.base import Benchmark

LimitMode = Literal["stratified", "first"]
LIMIT_MODES: tuple[str, ...] = ("stratified", "first")
DEFAULT_SEED = 1234


def allocate(sizes: dict[str, int], n: int, rng: random.Random) -> dict[str, int]:
    """How many documents each stratum contributes to a sample of ``n``.

    Sums to ``min(n, total)``; each stratum gets at least 1 when ``n >= len(sizes)``
    (else ``n`` strata drawn at random get 1); the rest is proportional to
    ``size - 1`` by largest remainder (ties: stratum order), never above ``size``.
    """
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    keys = [k for k in sizes if sizes[k] > 0]
    if n < len(keys):
        chosen = set(rng.sample(keys, n))
        return {k: int(k in chosen) for k in sizes}
    rest = n - len(keys)
    spare = {k: sizes[k] - 1 for k in keys}
    spare_total = sum(spare.values())
    exact = {k: rest * spare[k] / spare_total for k in keys}
    counts = {k: 1 + int(exact[k]) for k in keys}
    left = n - sum(counts.values())
    by_remainder = sorted(keys, key=lambda k: (-(exact[k] - int(exact[k])), keys.index(k)))
    for k in by_remainder[:left]:
        counts[k] += 1
    return {k: counts.get(k, 0) for k in sizes}


def stratified(docs: list[dict[str, Any]], n: int, strata: list[str], seed: int) -> list[dict[str, Any]]:
    """A stratified random sample of ``n`` of ``docs`` (``strata[i]`` = stratum of doc i)."""
    rng = random.Random(seed)
    members: dict[str, list[int]] = {}
    for i, key in enumerate(strata):
        members.setdefault(key, []).append(i)
    counts = allocate({k: len(v) for k, v in members.items()}, n, rng)
    chosen = sorted(i for key, idx in members.items() for i in rng.sample(idx, counts[key]))
    return [docs[i] for i in chosen]


def select_docs(
    bench: Benchmark, data_dir: Path, limit: int | None, mode: LimitMode = "stratified", seed: int = DEFAULT_SEED
) -> list[dict[str, Any]]:
    """The documents an evaluation with ``--limit`` covers (all of them without a limit)."""
    if mode not in LIMIT_MODES:
        raise ValueError(f"unknown limit mode {mode!r}; choose from {', '.join(LIMIT_MODES)}")
    if limit is None or mode == "first":
        return bench.docs(Path(data_dir), limit)
    docs = bench.docs(Path(data_dir))
    return stratified(docs, limit, [bench.subtask(d) or "" for d in docs], seed)


def subset_record(limit: int | None, mode: LimitMode, seed: int, docs: list[dict[str, Any]]) -> dict[str, Any]:
    """What results.json records about the subset: mode, seed, limit and the doc ids."""
    if limit is None:
        return {"mode": "all", "limit": None}
    return {"mode": mode, "limit": limit, "seed": seed if mode == "stratified" else None,
            "doc_ids": [d["doc_id"] for d in docs]}
