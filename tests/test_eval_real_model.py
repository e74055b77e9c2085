"""Real model, offline: SmolLM2-135M-Instruct end to end on every available benchmark.

Scores may be low; the pipeline must be right: lm-eval generates with the model's chat
template, our scoring runs inside lm-eval's ``process_results``, files are written, and
greedy decoding is deterministic (two runs give identical outputs and results).
"""

from __future__ import annotations

import json

import pytest
from _eval_common import DATA_DIR

from evaluations import registry, runner
from evaluations.engines.lm_eval_engine import LMEvalEngine
from evaluations.results import read_samples
from evaluations.subsets import select_docs

pytestmark = pytest.mark.slow
MAX_GEN_TOKS = 8
RERUN = ["gsm8k", "arc", "ifeval", "theoremqa"]


@pytest.fixture(scope="module")
def engine():
    from fusion.models import resolve_model

    return LMEvalEngine(resolve_model("smollm2-135m-instruct"), batch_size=4, max_gen_toks=MAX_GEN_TOKS)


def test_smollm2_every_benchmark_deterministic(engine, tmp_path):
    names = registry.available()
    assert {"bbh", "arc", "mmlu", "gsm8k", "math", "theoremqa", "drop", "hellaswag", "ifeval"} <= set(names)
    assert engine.apply_chat_template, "SmolLM2-Instruct has a chat template; it must be applied"
    runs = []
    # Every benchmark once; the determinism re-run uses the short-prompt ones (CPU time).
    for attempt, chosen in (("a", names), ("b", RERUN)):
        results = runner.evaluate_model(
            "smollm2-135m-instruct", chosen, DATA_DIR, tmp_path / attempt, limit=1,
            max_gen_toks=MAX_GEN_TOKS, engine=engine,
        )
        runs.append(results)
    for name in names:
        a = read_samples(tmp_path / "a" / "smollm2-135m-instruct" / name / "samples.jsonl")
        assert len(a) == 1, name
        assert a[0].output.strip(), f"{name}: empty generation"
        bench = registry.get(name)
        assert a[0].prompt == bench.prompt(select_docs(bench, DATA_DIR, 1)[0]), name
        assert 0.0 <= a[0].score <= 1.0
    for name in RERUN:
        a = read_samples(tmp_path / "a" / "smollm2-135m-instruct" / name / "samples.jsonl")
        b = read_samples(tmp_path / "b" / "smollm2-135m-instruct" / name / "samples.jsonl")
        assert a[0].output == b[0].output, f"{name}: greedy decoding not deterministic"
        assert json.dumps(runs[0][name]["results"]) == json.dumps(runs[1][name]["results"]), name


def test_lm_eval_style_prompts_render(engine, tmp_path):
    """The lm-eval style goes through the same engine (one item of two benchmarks)."""
    results = runner.evaluate_model(
        "smollm2-135m-instruct", ["mmlu"], DATA_DIR, tmp_path, limit=1, style="lm-eval",
        max_gen_toks=MAX_GEN_TOKS, engine=engine,
    )
    sample = read_samples(tmp_path / "smollm2-135m-instruct" / "mmlu" / "samples.jsonl")[0]
    subject = sample.doc_id.split("/")[0].replace("_", " ")
    assert sample.prompt.startswith(f"The following are multiple choice questions (with answers) about {subject}.")
    assert sample.prompt.endswith("Answer:")
    assert results["mmlu"]["configs"]["mmlu"]["prompt_style"] == "lm-eval"
