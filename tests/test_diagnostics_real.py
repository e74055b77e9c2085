"""One small real-model diagnostic: SmolLM2-135M-Instruct (pivot) vs Gemma-3-270M (source)
on two demo examples. The top-k kept at response position i must be the prediction of
response token i (teacher forcing: real models put most actual tokens in their top-10;
an off-by-one position would not), and every §2.5 number must be consistent."""

from __future__ import annotations

import pytest

from fusion.data import tokenize_example
from workbench.diagnostics import GraphOptions, ModelRef, diagnose_pair, load_model, model_topk
from workbench.real_graphs import demo_as_examples

pytestmark = pytest.mark.slow

PIVOT, SOURCE = "smollm2-135m-instruct", "gemma3-270m"
OPTIONS = GraphOptions(k=10)


@pytest.fixture(scope="module")
def real():
    examples = demo_as_examples(3)[1:3]  # a word task and a fact: short, natural responses
    outs = {name: model_topk(ModelRef(name, name), examples, OPTIONS, progress=False) for name in (PIVOT, SOURCE)}
    return examples, outs


def test_topk_positions_predict_the_response_tokens(real) -> None:
    examples, outs = real
    for name, out in outs.items():
        _, tokenizer = load_model(name)
        hits = total = 0
        for ex in examples:
            tok = tokenize_example(tokenizer, ex)
            targets = tok.input_ids[tok.prompt_len: tok.prompt_len + tok.num_response_tokens]
            kept = out.by_id[ex.id].graph.indices
            assert kept.shape == (len(targets), OPTIONS.k)
            hits += sum(int(t in row.tolist()) for t, row in zip(targets, kept))
            total += len(targets)
        assert hits / total >= 0.6, (name, hits, total)


def test_real_pair_numbers_are_consistent(real) -> None:
    examples, outs = real
    for i, ex in enumerate(examples):
        row = diagnose_pair(outs[PIVOT], outs[SOURCE], ex.id, i, OPTIONS, restarts=2).row
        assert row["aligned_fraction"] == 1.0  # both tokenize the same response text
        assert 0 < row["wd"] <= 2.0 and 0 < row["wd_index"] <= 2.0
        assert min(row["n"], row["m"]) >= OPTIONS.k
        assert row["lower"] <= row["gw_exact"] * (1 + 1e-9) <= row["upper"] * (1 + 1e-9)
        assert row["lower_held"] and row["upper_held"] and row["gw_exact"] > 0
        assert 0 <= row["gw_gap"] <= 1
