"""Fusion attribution against a brute-force recount with plain sets, on random score patterns."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from evaluations.attribution import CATEGORIES, attribute_dirs, item_category
from evaluations.compare import mcnemar_exact_p
from workbench.cli import main


def _write(model_dir: Path, bench: str, scores: dict[str, float]) -> None:
    path = model_dir / bench / "samples.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"doc_id": d, "score": s, "output": "", "gold": ""}) + "\n"
                            for d, s in scores.items()))


@pytest.fixture
def models(tmp_path):
    rng = random.Random(7)
    ids = {"gsm8k": [str(i) for i in range(120)],
           "bbh": [f"{task}/{i}" for task in ("navigate", "snarks") for i in range(60)]}
    truth = {}
    for name in ("pivot", "s1", "s2", "fused"):
        truth[name] = {}
        for bench, docs in ids.items():
            # the fused model is correlated with the pivot and the sources, as a real one would be
            scores = {d: float(rng.random() < 0.4) for d in docs}
            if name == "fused":
                scores = {d: max(truth["pivot"][bench][d] * (rng.random() < 0.8),
                                 truth["s1"][bench][d] * (rng.random() < 0.5)) for d in docs}
            truth[name][bench] = scores
            _write(tmp_path / name, bench, {d: s for d, s in scores.items() if not (name == "s2" and d == docs[0])})
    return tmp_path, truth, ids


def test_rows_equal_a_recount_with_sets(models):
    root, truth, ids = models
    rows, items = attribute_dirs(root / "fused", root / "pivot", {"s1": root / "s1", "s2": root / "s2"}, n_boot=500)
    by_name = {r.benchmark: r for r in rows}
    assert set(by_name) == {"gsm8k", "bbh", "bbh_navigate", "bbh_snarks"}
    for bench, docs in ids.items():
        common = docs[1:]  # s2 lacks the first item: only items every model was scored on count
        solved = {m: {d for d in common if truth[m][bench][d] >= 0.5} for m in truth}
        p, f, s = solved["pivot"], solved["fused"], solved["s1"] | solved["s2"]
        r = by_name[bench]
        assert r.n == len(common)
        assert (r.source_only, r.transferred) == (len(s - p), len((s - p) & f))
        assert (r.pivot_solved, r.forgotten, r.new) == (len(p), len(p - f), len(f - p - s))
        assert r.transfer_rate == pytest.approx(len((s - p) & f) / len(s - p))
        assert r.forgetting_rate == pytest.approx(len(p - f) / len(p))
        assert r.net_gain == pytest.approx((len(f) - len(p)) / len(common))
        assert r.acc_sources["s2"] == pytest.approx(len(solved["s2"]) / len(common))
        assert r.p_value == pytest.approx(mcnemar_exact_p(len(p - f), len(f - p)))
        assert r.ci_low <= r.net_gain <= r.ci_high
    nav = by_name["bbh_navigate"]
    assert nav.n == 59  # navigate/0 is the item s2 lacks
    counts = {c: sum(1 for i in items if i["benchmark"] == "gsm8k" and i["category"] == c) for c in CATEGORIES}
    r = by_name["gsm8k"]
    assert counts["transferred"] == r.transferred and counts["forgotten"] == r.forgotten and counts["new"] == r.new
    assert sum(counts.values()) == r.n


def test_item_categories_cover_every_pattern():
    seen = {item_category(p, [a, b], f) for p in (0, 1) for a in (0, 1) for b in (0, 1) for f in (0, 1)}
    assert seen == set(CATEGORIES)
    assert item_category(False, [False, True], True) == "transferred"
    assert item_category(True, [True, True], False) == "forgotten"


def test_cli_table_json_items(models, tmp_path, capsys):
    root, _, _ = models
    out_json, out_items = tmp_path / "a.json", tmp_path / "items.csv"
    code = main(["attribute", str(root / "fused"), "--pivot", str(root / "pivot"),
                 "--sources", f"{root / 's1'},gemma={root / 's2'}", "--json", str(out_json),
                 "--items", str(out_items), "--bootstrap", "200"])
    assert code == 0
    text = capsys.readouterr().out
    assert "bbh_navigate" in text and "gemma" in text and "transfer" in text
    doc = json.loads(out_json.read_text())
    assert {r["benchmark"] for r in doc["rows"]} >= {"gsm8k", "bbh"}
    assert set(doc["sources"]) == {"s1", "gemma"}
    assert len(out_items.read_text().splitlines()) == 1 + 119 + 119


def test_bad_inputs_are_one_line_errors(models, tmp_path, capsys):
    root, _, _ = models
    assert main(["attribute", str(root / "fused"), "--pivot", str(root / "pivot"), "--sources", "x=" + str(root / "s1")
                 + ",x=" + str(root / "s2")]) == 2
    assert "used twice" in capsys.readouterr().err
    assert main(["attribute", str(root / "fused"), "--pivot", str(tmp_path / "nowhere"), "--sources",
                 str(root / "s1")]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["attribute", str(root / "fused"), "--pivot", str(root / "pivot"), "--sources", str(root / "s1"),
                 "--benchmarks", "math"]) == 2
    assert "math" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert math.isnan(attribute_dirs(root / "fused", root / "pivot", {"s": root / "s1"},
                                     ["gsm8k"])[0][0].ci_low) is False
    assert main(["attribute", str(empty), "--pivot", str(root / "pivot"), "--sources", str(root / "s1")]) == 2
    assert "no benchmark" in capsys.readouterr().err
