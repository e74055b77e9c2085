"""``--style paper`` scoring agrees per item with the paper's OpenCompass pipeline.

Fixtures (tests/parity/fixtures/<benchmark>_paper.jsonl) hold 330 varied outputs per
benchmark — formats, hedges, chatter, wrong, empty, several candidates, LaTeX — on real
items, each scored once by OpenCompass's own postprocessors/evaluators (0.4.2, the paper-era
release; TheoremQA 0.5.4, see provenance.json notes)
(tests/parity/generate_opencompass.py, separate venv; provenance.json names functions and
configs). Here the workbench scores the same outputs on the same documents, loaded from the
real data; agreement must be at least 99 % per benchmark.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from _eval_common import DATA_DIR

sys.path.insert(0, str(Path(__file__).resolve().parent / "parity"))
from agreement import BENCHMARKS, FIXTURES, agreement, load_fixture

MIN_ROWS = 300
MIN_AGREEMENT = 0.99


@pytest.mark.parametrize("name", BENCHMARKS)
def test_fixture_is_varied_and_has_provenance(name):
    rows = load_fixture(name)  # raises if edited after generation
    provenance = json.loads((FIXTURES / "provenance.json").read_text(encoding="utf-8"))
    assert "OpenCompass's own code" in provenance["reference"]
    assert provenance["benchmarks"][name]["opencompass"].startswith("0.5.4" if name == "theoremqa" else "0.4.2")
    assert provenance["benchmarks"][name]["config"] and provenance["benchmarks"][name]["functions"]
    assert len(rows) >= MIN_ROWS
    kinds = {r["kind"] for r in rows}
    assert {"empty", "unsure"} <= kinds and len(kinds) >= 15
    # Both verdicts occur often: a scorer that always says 1 (or 0) cannot pass.
    positives = sum(r["expected"] for r in rows)
    assert 0.2 * len(rows) < positives < 0.85 * len(rows)
    assert len({r["doc_id"] for r in rows}) >= 20


@pytest.mark.parametrize("name", BENCHMARKS)
def test_paper_scoring_agrees_with_opencompass(name):
    ok, n, bad = agreement(name, DATA_DIR)
    shown = "\n".join(f"{b['kind']}: {b['output'][:80]!r} expected {b['expected']} got {b['ours']} "
                      f"(ref {b['ref_pred']!r}, ours {b['our_pred']!r})" for b in bad[:10])
    assert ok / n >= MIN_AGREEMENT, f"{name}: {ok}/{n} agree\n{shown}"


def test_prompts_follow_the_opencompass_configs():
    from evaluations import registry

    bbh = registry.get("bbh")
    doc = bbh.docs(DATA_DIR, 1)[0]
    assert f"{doc['hint']}\n\nQ: {doc['input']}\nA: Let's think step by step." in bbh.prompt(doc, "paper")
    hs = registry.get("hellaswag")
    hdoc = hs.docs(DATA_DIR, 1)[0]
    label, ctx = hdoc["ctx"].split(": ", 1)
    assert hs.prompt(hdoc, "paper").startswith(ctx + "\nQuestion:")
    assert label not in hs.prompt(hdoc, "paper")[:len(label) + 2]
    drop = registry.get("drop")
    ddocs = drop.docs(DATA_DIR)
    prompt = drop.prompt(ddocs[0], "paper")
    assert prompt.count("\nQuestion: ") == 4 and "Trunajaya" in prompt  # OpenCompass's three examples + the item
    # The examples' own questions are never scored items.
    example_questions = [q for q in prompt.split("# Your Task")[0].split("\n") if q.startswith("Question: ")]
    assert len(example_questions) == 3
    assert not any(q + "\n" in d["context"] for d in ddocs for q in example_questions)
    assert len(ddocs) == 9536 - 3


@pytest.mark.parametrize("output", [
    "The answer is \\boxed{__import__('os').system('touch /tmp/theoremqa-pwned')}",
    "The answer is (__import__('os').system('touch /tmp/theoremqa-pwned'), 1)",
    "Therefore, the answer is (9**9)**(9**9).",
    "The answer is \\boxed{10^{10^{10}}}",
    "The answer is ([].__class__.__base__.__subclasses__(), 2)",
    "The answer is (lambda: 1)()",
    "The answer is factorial(100000)",
])
def test_theoremqa_never_runs_model_text(output, tmp_path):
    """The reference evals text derived from the output; ours interprets arithmetic only:
    code in an answer is never run and a huge power never hangs (each scores 0 at once)."""
    import time

    from evaluations.scoring.opencompass.theoremqa import theoremqa_correct_v3

    marker = Path("/tmp/theoremqa-pwned")
    marker.unlink(missing_ok=True)
    started = time.monotonic()
    for answer_type, gold in (("float", 2.0), ("list of integer", "[1, 2]"), ("integer", 3)):
        _, correct = theoremqa_correct_v3(output, gold, answer_type)
        assert not correct
    assert time.monotonic() - started < 5
    assert not marker.exists()
