"""Run store: indexing eval outputs and runs; rebuild(root) from files gives the same index."""

from __future__ import annotations

import json
import random

from _eval_common import DATA_DIR

from evaluations import registry, runner
from workbench.store import Store, rebuild


def _make_outputs(root):
    rng = random.Random(0)
    rows = []
    for name in ("gsm8k", "arc"):
        bench = registry.get(name)
        for doc in bench.docs(DATA_DIR, 10):
            out = bench.gold_output(doc) if rng.random() < 0.5 else bench.wrong_output(doc, rng)
            rows.append({"benchmark": name, "doc_id": doc["doc_id"], "output": out})
    pred = root / "p.jsonl"
    pred.write_text("\n".join(json.dumps(r) for r in rows))
    run = root / "myrun"
    (run / "checkpoints" / "step-5").mkdir(parents=True)
    (run / "checkpoints" / "step-7").mkdir(parents=True)  # no complete marker: never indexed
    from fusion.checkpoints import write_complete_marker

    write_complete_marker(run / "checkpoints" / "step-5", 5)
    (run / "config.yaml").write_text("lr: 0.001\n")
    (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 2.5, "ce": 2.0}) + "\n{torn")
    return pred, run


def test_index_and_rebuild_agree(tmp_path):
    pred, run = _make_outputs(tmp_path)
    store = Store(tmp_path)
    results = runner.score_predictions(pred, DATA_DIR, tmp_path / "evals", on_result=lambda d, r: store.index_eval(d))
    runner.score_predictions(pred, DATA_DIR, run / "evals", label="step-5", on_result=lambda d, r: store.index_eval(d))
    store.index_run(run)
    table = store.eval_table()
    dump = {t: store.execute(f"SELECT * FROM {t} ORDER BY 1, 2")
            for t in ("eval_results", "samples", "metrics", "checkpoints")}
    store.close()

    by_bench = {(r["model"], r["benchmark"]): r for r in table}
    gsm = by_bench[("predictions-p", "gsm8k")]
    assert gsm["value"] == results["gsm8k"]["results"]["gsm8k"]["exact_match,none"]
    assert gsm["n"] == 10 and gsm["run_id"] is None
    assert by_bench[("step-5", "arc")]["run_id"] == "myrun"
    assert dump["metrics"] == [("myrun", 1, "ce", 2.0), ("myrun", 1, "loss", 2.5)]
    assert [row[:3] for row in dump["checkpoints"]] == [("myrun", "step-5", 5)]
    assert len(dump["samples"]) == 40
    # Per-sample scores in the index equal those in samples.jsonl.
    samples = (tmp_path / "evals/predictions-p/arc/samples.jsonl").read_text()
    file_scores = sorted(json.loads(x)["score"] for x in samples.splitlines())
    db_scores = sorted(r[3] for r in dump["samples"] if r[2] == "arc" and "predictions-p" in r[0])
    assert file_scores == db_scores

    rebuilt = rebuild(tmp_path)
    assert {t: rebuilt.execute(f"SELECT * FROM {t} ORDER BY 1, 2") for t in dump} == dump
    rebuilt.close()
