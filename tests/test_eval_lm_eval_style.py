"""``--style lm-eval`` on every benchmark, and MATH's lm-eval prompt.

MATH used to crash: lm-eval's minerva_math utils assert antlr4-python3-runtime 4.11 at
import, and math-verify pulled 4.13.2. pyproject now pins 4.11 (latex2sympy2_extended
ships a 4.11 parser); these tests fail if the conflict comes back.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest
from _eval_common import DATA_DIR

from evaluations import registry, runner
from evaluations.lm_eval_stock.tasks import stock_spec
from evaluations.results import read_samples
from evaluations.scoring.math_equiv import math_equal
from evaluations.subsets import select_docs


def test_antlr_pin_serves_lm_eval_and_math_verify():
    assert version("antlr4-python3-runtime").startswith("4.11")
    from lm_eval.tasks.minerva_math.utils import doc_to_text, process_results  # the assert that crashed

    doc = registry.get("math").docs(DATA_DIR, 1)[0]
    assert registry.get("math").prompt(doc, "lm-eval") == doc_to_text(doc) == f"Problem:\n{doc['problem']}\n\nSolution:"
    # lm-eval's own minerva scorer and math-verify both run under the pinned runtime.
    out = f"Final Answer: The final answer is ${doc['gold']}$. I hope it is correct."
    assert process_results({"answer": doc["gold"], "solution": f"\\boxed{{{doc['gold']}}}"}, [out])["exact_match"] == 1
    assert math_equal("\\frac{1}{2}", "0.5") and not math_equal("\\frac{1}{3}", "0.5")


@pytest.mark.slow
def test_lm_eval_style_runs_on_every_benchmark(tmp_path):
    from evaluations.engines.lm_eval_engine import LMEvalEngine
    from fusion.models import resolve_model

    engine = LMEvalEngine(resolve_model("tiny-random-llama"), batch_size=2, max_gen_toks=8)
    names = registry.available()
    assert len(names) == 11, names
    results = runner.evaluate_model("tiny-random-llama", names, DATA_DIR, tmp_path, limit=2, style="lm-eval",
                                    max_gen_toks=8, engine=engine)
    for name in names:
        bench = registry.get(name)
        samples = read_samples(tmp_path / "tiny-random-llama" / name / "samples.jsonl")
        docs = select_docs(bench, DATA_DIR, 2)
        assert [s.doc_id for s in samples] == [d["doc_id"] for d in docs], name
        if stock_spec(name) is not None:  # lm-eval's stock task computed it (its own prompts)
            assert all(s.extra["lm_eval"]["task"] for s in samples), name
        else:
            assert [s.prompt for s in samples] == [bench.prompt(d, "lm-eval") for d in docs], name
        assert results[name]["configs"][name]["prompt_style"] == "lm-eval"
        assert results[name]["n-samples"][name]["effective"] == 2
