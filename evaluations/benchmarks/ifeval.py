"""IFEval (541 prompts, Google's input_data.jsonl), scored by lm-eval's IFEval checkers.

There is no gold response in IFEval; :meth:`IFEval.gold_output` composes a response that
satisfies the prompt's verifiable instructions for the instruction types it knows
(:data:`evaluations.benchmarks._ifeval_responses.SUPPORTED`); the oracle test uses the
prompts whose instructions are all supported.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from evaluations.base import Benchmark, BenchmarkDataError, PromptStyle, ScoredSample
from evaluations.benchmarks._files import read_jsonl, take

FILE = "input_data.jsonl"


class IFEval(Benchmark):
    """IFEval; headline metric prompt-level strict accuracy (lm-eval's other three in extra)."""

    name = "ifeval"
    version = 2.0  # 2.0: robust-extract metric, per-subtask rows, content-aware resume
    metric = "prompt_level_strict_acc"
    data_subdir = "ifeval"
    expected_files = f"ifeval/{FILE} (JSONL: key, prompt, instruction_id_list, kwargs)"

    def docs(self, data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
        """Prompts in file order; doc id = the dataset ``key``."""
        path = Path(data_dir) / self.data_subdir / FILE
        required = ("key", "prompt", "instruction_id_list", "kwargs")
        docs = []
        for i, rec in enumerate(read_jsonl(path, self.name, self.expected_files, required)):
            if len(rec["instruction_id_list"]) != len(rec["kwargs"]):
                raise BenchmarkDataError(f"{self.name}: {path}:{i + 1}: "
                                         "instruction_id_list and kwargs differ in length")
            docs.append(
                {
                    "doc_id": str(rec["key"]),
                    "key": rec["key"],
                    "prompt": rec["prompt"],
                    "instruction_id_list": rec["instruction_id_list"],
                    "kwargs": rec["kwargs"],
                }
            )
        return take(docs, limit)

    def prompt(self, doc: dict[str, Any], style: PromptStyle = "paper") -> str:
        """Paper: ``{prompt}\\nPlease directly give the correct answer:``; lm-eval: the prompt."""
        if style == "lm-eval":
            return doc["prompt"]
        return f"{doc['prompt']}\nPlease directly give the correct answer:"

    def generation_kwargs(self, style: PromptStyle = "paper") -> dict[str, Any]:
        """lm-eval's IFEval setting: greedy, 1280 new tokens."""
        return {"until": [], "do_sample": False, "max_gen_toks": 1280}

    def score(self, doc: dict[str, Any], output: str) -> ScoredSample:
        """lm-eval's IFEval checkers; score = prompt-level strict accuracy."""
        from evaluations.scoring.ifeval import ifeval_scores

        result = ifeval_scores(doc, output)
        return ScoredSample(
            self.name,
            doc["doc_id"],
            "",
            output,
            result["inst_level_strict_acc"],
            doc["instruction_id_list"],
            float(result["prompt_level_strict_acc"]),
            {k: v for k, v in result.items() if k != "prompt_level_strict_acc"},
        )

    def gold_output(self, doc: dict[str, Any]) -> str:
        """A response built to satisfy every (supported) instruction of ``doc``."""
        from evaluations.benchmarks._ifeval_responses import compliant_response

        return compliant_response(doc)

    def wrong_output(self, doc: dict[str, Any], rng: random.Random) -> str:
        """A short, comma-bearing, lower-effort answer that breaks most instructions."""
        return "Sure, here it is, short and plain, with commas."
