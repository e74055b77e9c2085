"""``--predictions --style lm-eval``: stored generations scored by lm-eval's own stock task
(prompts, filters, metrics), with the expected verdicts worked out by hand from the stock
GSM8K YAML (strict-match: ``#### N``; flexible-extract: the last number; exact_match after
``regexes_to_ignore`` removes commas, ``$``, everything up to ``#### `` and a final ``.``);
loglikelihood tasks are refused with the reason."""

from __future__ import annotations

import pytest
from _eval_common import DATA_DIR

from evaluations import registry
from evaluations.lm_eval_stock import tasks
from evaluations.lm_eval_stock.predictions import PredictionsLM, PredictionsUnscorable
from evaluations.lm_eval_stock.run import evaluate_stock
from evaluations.results import read_samples

OUTPUTS = {  # GSM8K test items 0-2: gold 18, 3, 70000
    "0": "She sells 16 - 3 - 4 = 9 eggs for $2 each. The answer is 18.",
    "1": "2 + 1 = 3\n#### 3",
    "2": "The profit is 70,000 dollars.\n#### 70,000",
}
STRICT = {"0": 0.0, "1": 1.0, "2": 1.0}    # item 0 has no "#### N"
FLEXIBLE = {"0": 1.0, "1": 1.0, "2": 1.0}  # the last number, "18." -> "18"


def test_gsm8k_predictions_are_scored_by_lm_evals_filters(tmp_path):
    bench = registry.get("gsm8k")
    docs = bench.docs(DATA_DIR, limit=3)
    assert [d["doc_id"] for d in docs] == list(OUTPUTS)
    out = tmp_path / "preds" / "gsm8k"
    results = evaluate_stock(tasks.SPECS["gsm8k"], bench, docs, DATA_DIR, out,
                             lambda: PredictionsLM("gsm8k", OUTPUTS), {"prompt_style": "lm-eval"}, {}, {}, "preds")
    samples = {s.doc_id: s for s in read_samples(out / "samples.jsonl")}
    assert {d: s.output for d, s in samples.items()} == OUTPUTS  # the stored text, unchanged
    assert {d: s.extra["metrics"]["exact_match,strict-match"] for d, s in samples.items()} == STRICT
    assert {d: s.extra["metrics"]["exact_match,flexible-extract"] for d, s in samples.items()} == FLEXIBLE
    assert samples["2"].extra["filtered"] == {"strict-match": "70,000", "flexible-extract": "70,000"}
    assert results["results"]["gsm8k"]["exact_match,strict-match"] == pytest.approx(2 / 3)
    assert results["results"]["gsm8k"]["exact_match,flexible-extract"] == 1.0
    assert samples["0"].prompt.count("Question:") == 6  # lm-eval's own 5-shot prompt, then the item


def test_loglikelihood_tasks_are_refused_with_the_reason(tmp_path):
    bench = registry.get("arc")
    docs = bench.docs(DATA_DIR, limit=2)
    with pytest.raises(PredictionsUnscorable, match="loglikelihood of each option"):
        evaluate_stock(tasks.SPECS["arc"], bench, docs, DATA_DIR, tmp_path / "arc",
                       lambda: PredictionsLM("arc", {d["doc_id"]: "A" for d in docs}), {"prompt_style": "lm-eval"},
                       {}, {}, "preds")


def test_predictions_file_through_the_runner_rescoring_a_corrected_file(tmp_path):
    import json

    from evaluations import runner

    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"benchmark": "gsm8k", "doc_id": d, "output": o}) + "\n"
                             for d, o in OUTPUTS.items()))
    out = tmp_path / "out"
    first = runner.score_predictions(preds, DATA_DIR, out, style="lm-eval", label="p")["gsm8k"]
    assert first["results"]["gsm8k"]["exact_match,strict-match"] == pytest.approx(2 / 3)
    assert first["config"]["backend"] == "predictions" and first["lm_eval"]["stock_task"] == "gsm8k"
    fixed = {**OUTPUTS, "0": OUTPUTS["0"] + "\n#### 18"}  # item 0 now has the strict form
    preds.write_text("".join(json.dumps({"benchmark": "gsm8k", "doc_id": d, "output": o}) + "\n"
                             for d, o in fixed.items()))
    second = runner.score_predictions(preds, DATA_DIR, out, style="lm-eval", label="p")["gsm8k"]
    assert second["results"]["gsm8k"]["exact_match,strict-match"] == 1.0  # not the stored 2/3
    samples = {s.doc_id: s for s in read_samples(out / "p" / "gsm8k" / "samples.jsonl")}
    assert samples["0"].output == fixed["0"] and samples["0"].score == 1.0
