"""Paired comparison: McNemar exact test, paired bootstrap CI, pairing by doc_id, CLI."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest

from evaluations.compare import (
    compare_dirs,
    compare_scores,
    load_scores,
    mcnemar_exact_p,
    paired_bootstrap_ci,
)
from workbench.cli import main as workbench_main


def mcnemar_by_hand(b: int, c: int) -> float:
    """Exact two-sided McNemar from the binomial pmf, with math.comb (independent of scipy):
    sum of the probabilities of all outcomes no more likely than the observed one."""
    n = b + c
    if n == 0:
        return 1.0
    pmf = [math.comb(n, k) / 2**n for k in range(n + 1)]
    observed = pmf[b]
    return min(1.0, sum(p for p in pmf if p <= observed * (1 + 1e-7)))


@pytest.mark.parametrize("b", range(0, 31, 3))
@pytest.mark.parametrize("c", [0, 1, 2, 5, 9, 17, 30, 60])
def test_mcnemar_matches_hand_formula(b, c):
    assert mcnemar_exact_p(b, c) == pytest.approx(mcnemar_by_hand(b, c), rel=1e-9, abs=1e-15)
    # Symmetric in the two models, and the classic tail form 2·P(X ≤ min) agrees.
    assert mcnemar_exact_p(b, c) == pytest.approx(mcnemar_exact_p(c, b), rel=1e-12)
    n, k = b + c, min(b, c)
    tail = 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    assert mcnemar_exact_p(b, c) == pytest.approx(tail, rel=1e-9, abs=1e-15)


def test_mcnemar_rejects_negative_counts():
    with pytest.raises(ValueError, match="non-negative"):
        mcnemar_exact_p(-1, 3)


def test_bootstrap_ci_contains_difference_and_matches_normal_approximation():
    rng = np.random.default_rng(7)
    n = 2000
    a = (rng.random(n) < 0.55).astype(float)
    b = np.where(rng.random(n) < 0.8, a, 1 - a)  # correlated, as paired models are
    observed = float((b - a).mean())
    low, high = paired_bootstrap_ci(a, b, n_boot=4000, seed=3)
    assert low <= observed <= high
    # Independent check: CLT interval of the mean paired difference.
    se = float(np.std(b - a, ddof=1)) / math.sqrt(n)
    assert low == pytest.approx(observed - 1.96 * se, abs=0.006)
    assert high == pytest.approx(observed + 1.96 * se, abs=0.006)
    # Seedable: same seed, same interval; another seed, (slightly) different.
    assert paired_bootstrap_ci(a, b, n_boot=4000, seed=3) == (low, high)
    assert paired_bootstrap_ci(a, b, n_boot=4000, seed=4) != (low, high)
    # Higher confidence, wider interval.
    low99, high99 = paired_bootstrap_ci(a, b, n_boot=4000, confidence=0.99, seed=3)
    assert low99 <= low and high99 >= high


def test_identical_models_give_p1_and_ci_at_zero():
    scores = {f"t/{i}": float(i % 3 == 0) for i in range(300)}
    result = compare_scores("mbpp", scores, dict(scores), n_boot=500, seed=0)
    assert result.p_value == 1.0
    assert result.only_a_correct == result.only_b_correct == 0
    assert result.ci_low <= 0.0 <= result.ci_high
    assert result.diff == 0.0 and result.n == 300


def _write_samples(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _make_run(root: Path, model: str, scores: dict[str, dict[str, float]], seed: int) -> Path:
    rng = random.Random(seed)
    for benchmark, per_doc in scores.items():
        rows = [{"benchmark": benchmark, "doc_id": d, "output": "...", "score": s}
                for d, s in per_doc.items()]
        rng.shuffle(rows)  # order on disk must not matter
        _write_samples(root / model / benchmark / "samples.jsonl", rows)
    return root / model


def test_pairing_by_doc_id_is_order_independent(tmp_path):
    rng = random.Random(0)
    ids = [f"Mbpp/{i}" for i in range(150)]
    a = {d: float(rng.random() < 0.4) for d in ids}
    b = {d: float(rng.random() < 0.6) for d in ids}
    b["Mbpp/extra"] = 1.0  # an item only B has is reported, not paired
    dir_a = _make_run(tmp_path, "A", {"mbpp": a, "gsm8k": a}, seed=1)
    dir_b = _make_run(tmp_path, "B", {"mbpp": b, "humaneval": b}, seed=2)
    results, missing = compare_dirs(dir_a, dir_b, n_boot=300, seed=5)
    assert [r.benchmark for r in results] == ["mbpp"]
    assert missing == {"only_a": ["gsm8k"], "only_b": ["humaneval"]}
    r = results[0]
    assert r.n == 150 and r.unpaired_b == 1 and r.unpaired_a == 0
    only_a = sum(1 for d in ids if a[d] == 1 and b[d] == 0)
    only_b = sum(1 for d in ids if a[d] == 0 and b[d] == 1)
    assert (r.only_a_correct, r.only_b_correct) == (only_a, only_b)
    assert r.mean_a == pytest.approx(sum(a.values()) / 150)
    assert r.mean_b == pytest.approx(sum(b[d] for d in ids) / 150)
    assert r.p_value == pytest.approx(mcnemar_by_hand(only_a, only_b), rel=1e-9)
    # Re-shuffling B's file gives the identical comparison.
    _make_run(tmp_path, "B", {"mbpp": b}, seed=99)
    again, _ = compare_dirs(dir_a, dir_b, benchmarks=["mbpp"], n_boot=300, seed=5)
    assert again[0] == r


def test_bad_samples_files_name_file_and_line(tmp_path):
    path = tmp_path / "m" / "mbpp" / "samples.jsonl"
    _write_samples(path, [{"doc_id": "a", "score": 1.0}])
    with path.open("a") as handle:
        handle.write('{"doc_id": "b"}\n')
    with pytest.raises(ValueError, match=r"samples\.jsonl:2: expected a JSON object with doc_id"):
        load_scores(path)
    _write_samples(path, [{"doc_id": "a", "score": 1.0}, {"doc_id": "a", "score": 0.0}])
    with pytest.raises(ValueError, match=r":2: duplicate doc_id 'a'"):
        load_scores(path)


def test_cli_prints_table_and_json(tmp_path, capsys):
    ids = [f"HumanEval/{i}" for i in range(40)]
    a = {d: float(i % 2 == 0) for i, d in enumerate(ids)}
    b = {d: 1.0 for d in ids}
    dir_a = _make_run(tmp_path, "A", {"humaneval": a}, seed=1)
    dir_b = _make_run(tmp_path, "B", {"humaneval": b}, seed=2)
    out_json = tmp_path / "cmp.json"
    code = workbench_main(["compare", str(dir_a), str(dir_b), "--bootstrap", "500",
                           "--json", str(out_json)])
    assert code == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("humaneval"))
    # 20 discordant pairs all favour B: p = 2 / 2**20.
    assert row.split()[1:5] == ["40", "0.5000", "1.0000", "+0.5000"]
    payload = json.loads(out_json.read_text())
    assert payload["benchmarks"][0]["p_value"] == pytest.approx(2 / 2**20)
    assert workbench_main(["compare", str(dir_a), str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
