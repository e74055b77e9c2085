"""``--limit N``: stratified across subtasks with a recorded seed; first-N still available."""

from __future__ import annotations

import collections
import random

from _eval_common import DATA_DIR
from _fake_engine import GoldEngine
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluations import registry, runner
from evaluations.benchmarks.bbh import TASKS
from evaluations.results import read_results
from evaluations.subsets import allocate, select_docs
from workbench.cli import build_parser


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=60),
       st.integers(min_value=0, max_value=3000),
       st.integers(min_value=0, max_value=99))
def test_allocation_rule(sizes_list, n, seed):
    sizes = {f"s{i}": s for i, s in enumerate(sizes_list)}
    counts = allocate(sizes, n, random.Random(seed))
    total, k = sum(sizes.values()), len(sizes)
    assert sum(counts.values()) == min(n, total)
    assert all(0 <= counts[s] <= sizes[s] for s in sizes)
    if k <= n < total:
        assert all(c >= 1 for c in counts.values())
        spare = total - k
        for s in sizes:  # the part above the guaranteed 1 is proportional to size - 1
            assert abs((counts[s] - 1) - (n - k) * (sizes[s] - 1) / spare) < 1


def test_mmlu_limit_covers_every_subject_in_official_order():
    bench = registry.get("mmlu")
    docs = bench.docs(DATA_DIR)
    first = select_docs(bench, DATA_DIR, 100, "first")
    assert len({d["subject"] for d in first}) == 1  # the measured problem: one subject only
    picked = select_docs(bench, DATA_DIR, 100, "stratified", seed=7)
    assert len(picked) == 100 and len({d["doc_id"] for d in picked}) == 100
    assert len({d["subject"] for d in picked}) == 57
    position = {d["doc_id"]: i for i, d in enumerate(docs)}
    assert [position[d["doc_id"]] for d in picked] == sorted(position[d["doc_id"]] for d in picked)
    assert picked == select_docs(bench, DATA_DIR, 100, "stratified", seed=7)  # seeded
    assert picked != select_docs(bench, DATA_DIR, 100, "stratified", seed=8)
    # Subject shares follow subject sizes: professional_law (largest) gets the most.
    sizes = collections.Counter(d["subject"] for d in docs)
    got = collections.Counter(d["subject"] for d in picked)
    assert got.most_common(1)[0][0] == sizes.most_common(1)[0][0]


def test_bbh_limit_covers_every_task_and_first_mode_is_unchanged():
    bench = registry.get("bbh")
    picked = select_docs(bench, DATA_DIR, 81, "stratified", seed=1)
    assert {d["task"] for d in picked} == set(TASKS)
    assert select_docs(bench, DATA_DIR, 30, "first") == bench.docs(DATA_DIR, 30)


def test_results_record_the_chosen_doc_ids(tmp_path):
    engine = GoldEngine()
    results = runner.evaluate_model("fake", ["mmlu", "gsm8k"], DATA_DIR, tmp_path, limit=60, engine=engine, seed=11)
    for name in ("mmlu", "gsm8k"):
        on_disk = read_results(tmp_path / "fake" / name / "results.json")
        subset = on_disk["subset"]
        expected = [d["doc_id"] for d in select_docs(registry.get(name), DATA_DIR, 60, "stratified", 11)]
        assert subset == {"mode": "stratified", "limit": 60, "seed": 11, "doc_ids": expected}
        assert on_disk["n-samples"][name]["effective"] == 60 == len(results[name]["subset"]["doc_ids"])
    first = runner.evaluate_model("fake", ["mmlu"], DATA_DIR, tmp_path / "first", limit=5, limit_mode="first",
                                  engine=engine)
    assert first["mmlu"]["subset"]["doc_ids"] == [d["doc_id"] for d in registry.get("mmlu").docs(DATA_DIR)[:5]]
    assert first["mmlu"]["subset"]["seed"] is None


def test_cli_flags():
    args = build_parser().parse_args(["eval", "--model", "m", "--limit", "5", "--limit-mode", "first", "--seed", "3"])
    assert (args.limit, args.limit_mode, args.seed) == (5, "first", 3)
    assert build_parser().parse_args(["eval", "--model", "m"]).limit_mode == "stratified"
