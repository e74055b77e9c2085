"""Versioned, content-aware resume: reuse only samples whose prompt, generation and scorer
match; a corrected predictions file re-scores; a changed prompt or scorer never mixes."""

from __future__ import annotations

import json

import pytest
from _eval_common import DATA_DIR
from _fake_engine import GoldEngine

from evaluations import fingerprint, registry, runner
from evaluations.benchmarks.gsm8k import GSM8K
from evaluations.results import read_results, read_samples


def _preds(path, outputs: dict[str, str]) -> None:
    path.write_text("".join(json.dumps({"benchmark": "gsm8k", "doc_id": k, "output": v}) + "\n"
                            for k, v in outputs.items()))


def test_corrected_predictions_are_rescored_into_the_same_out(tmp_path):
    docs = registry.get("gsm8k").docs(DATA_DIR, 4)
    outputs = {d["doc_id"]: f"\\boxed{{{d['gold']}}}" for d in docs}
    outputs[docs[1]["doc_id"]] = "\\boxed{-1}"  # a wrong prediction ...
    pred = tmp_path / "p.jsonl"
    _preds(pred, outputs)
    first = runner.score_predictions(pred, DATA_DIR, tmp_path / "out")["gsm8k"]
    assert first["results"]["gsm8k"]["exact_match,none"] == 0.75
    outputs[docs[1]["doc_id"]] = f"\\boxed{{{docs[1]['gold']}}}"  # ... corrected
    _preds(pred, outputs)
    second = runner.score_predictions(pred, DATA_DIR, tmp_path / "out")["gsm8k"]
    assert second["results"]["gsm8k"]["exact_match,none"] == 1.0
    assert second["resume"] == {"reused": 3, "rescored": 0, "generated": 1}
    rows = read_samples(tmp_path / "out" / "predictions-p" / "gsm8k" / "samples.jsonl")
    assert sorted(s.doc_id for s in rows) == sorted(outputs) and all(s.score == 1.0 for s in rows)
    lines = (tmp_path / "out" / "predictions-p" / "gsm8k" / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 4, "the stale sample left the file"


@pytest.fixture
def first_run(tmp_path):
    engine = GoldEngine()
    runner.evaluate_model("m", ["gsm8k"], DATA_DIR, tmp_path, limit=6, limit_mode="first", engine=engine)
    return tmp_path, engine


def test_unchanged_resume_reuses_everything(first_run):
    out, engine = first_run
    calls = len(engine.calls)
    again = runner.evaluate_model("m", ["gsm8k"], DATA_DIR, out, limit=6, limit_mode="first", engine=engine)
    assert len(engine.calls) == calls and again["gsm8k"]["resume"] == {"reused": 6, "rescored": 0, "generated": 0}


def test_changed_scorer_rescores_without_generating(first_run, monkeypatch):
    out, engine = first_run
    calls = len(engine.calls)
    monkeypatch.setattr(GSM8K, "version", 99.0)  # folded into the scorer hash
    again = runner.evaluate_model("m", ["gsm8k"], DATA_DIR, out, limit=6, limit_mode="first", engine=engine)
    assert len(engine.calls) == calls, "outputs were still valid: no generation"
    assert again["gsm8k"]["resume"] == {"reused": 0, "rescored": 6, "generated": 0}
    samples = read_samples(out / "m" / "gsm8k" / "samples.jsonl")
    scorer = fingerprint.bench_scorer_hash(registry.get("gsm8k"))
    assert len(samples) == 6 and all(s.keys["scorer"] == scorer for s in samples)
    results = read_results(out / "m" / "gsm8k" / "results.json")
    assert results["versions"]["gsm8k"] == 99.0 and results["configs"]["gsm8k"]["fingerprint"]["scorer"] == scorer


def test_changed_prompt_or_generation_regenerates(first_run, monkeypatch):
    out, engine = first_run
    original = GSM8K.prompt
    monkeypatch.setattr(GSM8K, "prompt", lambda self, doc, style="paper": "Solve: " + original(self, doc, style))
    again = runner.evaluate_model("m", ["gsm8k"], DATA_DIR, out, limit=6, limit_mode="first", engine=engine)
    assert again["gsm8k"]["resume"]["generated"] == 6
    assert all(s.prompt.startswith("Solve: ") for s in read_samples(out / "m" / "gsm8k" / "samples.jsonl"))
    shorter = runner.evaluate_model("m", ["gsm8k"], DATA_DIR, out, limit=6, limit_mode="first", engine=engine,
                                    max_gen_toks=7)
    assert shorter["gsm8k"]["resume"]["generated"] == 6


def test_a_bigger_limit_reuses_the_finished_items(first_run):
    out, engine = first_run
    more = runner.evaluate_model("m", ["gsm8k"], DATA_DIR, out, limit=9, limit_mode="first", engine=engine)
    assert more["gsm8k"]["resume"] == {"reused": 6, "rescored": 0, "generated": 3}


def test_scorer_hash_covers_the_scoring_modules():
    closure = fingerprint.source_closure("evaluations.benchmarks.gsm8k")
    assert {"evaluations.scoring.robust_number", "evaluations.scoring.opencompass.math",
            "evaluations.scoring.extract"} <= set(closure)
    assert "evaluations.scoring.robust_bbh" not in closure
    assert (fingerprint.scorer_hash("evaluations.benchmarks.gsm8k")
            != fingerprint.scorer_hash("evaluations.benchmarks.bbh"))
