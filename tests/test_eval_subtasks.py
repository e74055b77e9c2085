"""Per-subtask results (BBH tasks, MMLU subjects and categories) in lm-eval's group layout,
and per-subtask rows in ``workbench compare``."""

from __future__ import annotations

import collections
import json
import subprocess
import sys

import pytest
from _eval_common import DATA_DIR, offline_env
from _fake_engine import GoldEngine
from lm_eval.api.metrics import aggregate_subtask_metrics, pooled_sample_stderr

from evaluations import registry, runner
from evaluations.benchmarks.bbh import TASKS
from evaluations.subsets import select_docs

LIMIT = 240


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    out = tmp_path_factory.mktemp("subtasks")
    wrong = {}
    for name in ("mmlu", "bbh"):
        docs = select_docs(registry.get(name), DATA_DIR, LIMIT)
        wrong[name] = {d["doc_id"] for i, d in enumerate(docs) if i % 3 == 0}
    engine = GoldEngine(wrong["mmlu"] | wrong["bbh"])
    results = runner.evaluate_model("m", ["mmlu", "bbh"], DATA_DIR, out, limit=LIMIT, engine=engine)
    return out, results, wrong


def _expected_acc(doc_ids: list[str], wrong: set[str]) -> float:
    return sum(d not in wrong for d in doc_ids) / len(doc_ids)


def test_every_subtask_row_is_the_mean_of_its_items(evaluated):
    _, results, wrong = evaluated
    for name, metric, key in (("mmlu", "acc", "subject"), ("bbh", "exact_match", "task")):
        docs = select_docs(registry.get(name), DATA_DIR, LIMIT)
        by_sub = collections.defaultdict(list)
        for d in docs:
            by_sub[d[key]].append(d["doc_id"])
        rows = results[name]["results"]
        for sub, ids in by_sub.items():
            row = rows[f"{name}_{sub}"]
            assert row[f"{metric},none"] == pytest.approx(_expected_acc(ids, wrong[name])), sub
            assert row[f"{metric},robust-extract"] == pytest.approx(_expected_acc(ids, wrong[name])), sub
            assert row["alias"].strip() == f"- {sub}"
            assert results[name]["n-samples"][f"{name}_{sub}"]["effective"] == len(ids)
        assert sum(results[name]["n-samples"][f"{name}_{s}"]["effective"] for s in by_sub) == LIMIT
    assert {k.removeprefix("bbh_") for k in results["bbh"]["group_subtasks"]["bbh"]} == set(TASKS)


def test_mmlu_categories_follow_lm_eval_group_rules(evaluated):
    _, results, _ = evaluated
    mmlu = results["mmlu"]
    assert mmlu["group_subtasks"]["mmlu"] == ["mmlu_humanities", "mmlu_other", "mmlu_social_sciences", "mmlu_stem"]
    members = {s for c in mmlu["group_subtasks"]["mmlu"] for s in mmlu["group_subtasks"][c]}
    assert len(members) == 57
    # Hand-known memberships (lm-eval's _mmlu_<category>.yaml groups).
    assert "mmlu_abstract_algebra" in mmlu["group_subtasks"]["mmlu_stem"]
    assert "mmlu_philosophy" in mmlu["group_subtasks"]["mmlu_humanities"]
    assert "mmlu_econometrics" in mmlu["group_subtasks"]["mmlu_social_sciences"]
    assert "mmlu_virology" in mmlu["group_subtasks"]["mmlu_other"]
    for category in mmlu["group_subtasks"]["mmlu"]:
        subs = mmlu["group_subtasks"][category]
        accs = [mmlu["results"][s]["acc,none"] for s in subs]
        sizes = [mmlu["n-samples"][s]["effective"] for s in subs]
        # lm-eval's own group aggregation (weight_by_size: True) and pooled stderr
        assert mmlu["results"][category]["acc,none"] == pytest.approx(aggregate_subtask_metrics(accs, sizes, True))
        stderrs = [mmlu["results"][s]["acc_stderr,none"] for s in subs]
        stderrs = [0.0 if not isinstance(e, float) else e for e in stderrs]
        expected = pytest.approx(pooled_sample_stderr(stderrs, sizes), rel=0.15)
        assert mmlu["results"][category]["acc_stderr,none"] == expected
    top = [mmlu["results"][c]["acc,none"] for c in mmlu["group_subtasks"]["mmlu"]]
    sizes = [sum(mmlu["n-samples"][s]["effective"] for s in mmlu["group_subtasks"][c])
             for c in mmlu["group_subtasks"]["mmlu"]]
    assert mmlu["results"]["mmlu"]["acc,none"] == pytest.approx(aggregate_subtask_metrics(top, sizes, True))
    assert mmlu["groups"]["mmlu_stem"] == mmlu["results"]["mmlu_stem"]


def test_results_json_on_disk_and_headline(evaluated):
    out, _, _ = evaluated
    from evaluations.results import headline, read_results

    doc = read_results(out / "m" / "mmlu" / "results.json")
    bench, metric, value, _, n = headline(doc)
    assert (bench, metric, n) == ("mmlu", "acc", LIMIT)
    assert value == pytest.approx(doc["results"]["mmlu"]["acc,none"])


def test_compare_subtask_rows(evaluated, tmp_path):
    out, results, _ = evaluated
    other = tmp_path / "b"
    runner.evaluate_model("m", ["mmlu", "bbh"], DATA_DIR, other, limit=LIMIT, engine=GoldEngine())
    report = tmp_path / "cmp.json"
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "compare", str(out / "m"), str(other / "m"),
                           "--subtasks", "--bootstrap", "200", "--json", str(report)],
                          capture_output=True, text=True, env=offline_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {r["benchmark"]: r for r in json.loads(report.read_text())["benchmarks"]}
    for name, metric in (("mmlu", "acc"), ("bbh", "exact_match")):
        for key, row in results[name]["results"].items():
            assert rows[key]["mean_a"] == pytest.approx(row[f"{metric},none"]), key
            assert rows[key]["mean_b"] == 1.0
    assert "mmlu_stem" in proc.stdout and "bbh_navigate" in proc.stdout


def test_headline_without_benchmark_key(evaluated):
    """Older files and lm-eval's own layout carry no ``benchmark`` key: with one ``results``
    entry it is the headline; with subtask rows and no ``configs`` there is no way to tell,
    and the error says so instead of picking a subtask."""
    out, _, _ = evaluated
    from evaluations.results import headline, read_results

    doc = read_results(out / "m" / "mmlu" / "results.json")
    single = {"results": {"mmlu": doc["results"]["mmlu"]}, "n-samples": {"mmlu": doc["n-samples"]["mmlu"]}}
    assert headline(single)[:2] == ("mmlu", "acc")
    ambiguous = {k: v for k, v in doc.items() if k not in ("benchmark", "configs", "metric")}
    assert len(ambiguous["results"]) > 1
    with pytest.raises(ValueError, match="cannot tell the headline benchmark"):
        headline(ambiguous)
