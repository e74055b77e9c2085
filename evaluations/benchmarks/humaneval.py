"""HumanEval / HumanEval+ (EvalPlus v0.1.10): 164 Python functions to complete.

Data: ``humaneval/HumanEvalPlus.jsonl.gz`` (EvalPlus format: the original HumanEval
prompts and base tests plus EvalPlus's extra inputs). Prompt: the original one — the
function signature and docstring, completion style — in both prompt styles, as the
paper does and as lm-eval's ``humaneval`` task does. Metrics: ``pass@1_base``
(HumanEval) and ``pass@1_plus`` (HumanEval+, the headline).
"""

from __future__ import annotations

from typing import Any

from evaluations.base import PromptStyle
from evaluations.benchmarks._evalplus_common import EvalPlusBenchmark


class HumanEval(EvalPlusBenchmark):
    """HumanEval with EvalPlus's HumanEval+ tests, scored by EvalPlus in a sandbox."""

    name = "humaneval"
    dataset = "humaneval"
    data_subdir = "humaneval"
    data_file = "HumanEvalPlus.jsonl.gz"
    expected_files = (
        "humaneval/HumanEvalPlus.jsonl.gz: EvalPlus HumanEval+ JSONL (gzip), one task per line "
        "with task_id, prompt, entry_point, canonical_solution, base_input, plus_input, atol"
    )

    def prompt(self, doc: dict[str, Any], style: PromptStyle = "paper") -> str:
        """The original HumanEval prompt (signature + docstring), for both styles."""
        return doc["prompt"]

    def generation_kwargs(self, style: PromptStyle = "paper") -> dict[str, Any]:
        """paper: EvalPlus's budget (768 tokens, no stop strings — chat models answer in
        fences); lm-eval: the ``humaneval`` task's stop strings and 1024 tokens."""
        if style == "lm-eval":
            return {"until": ["\nclass", "\ndef", "\n#", "\nif", "\nprint"],
                    "do_sample": False, "max_gen_toks": 1024}
        return super().generation_kwargs(style)
