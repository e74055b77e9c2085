"""GSM8K (OpenAI grade-school-math test JSONL); the gold is the number after ``####``."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from evaluations.base import Benchmark, BenchmarkDataError, PromptStyle, ScoredSample, robust_extra
from evaluations.benchmarks import _lm_eval_prompts
from evaluations.benchmarks._files import read_jsonl, take
from evaluations.scoring.opencompass.math import is_equiv_v2, math_postprocess_v2
from evaluations.scoring.robust_number import robust_number, same_number

FILE = "test.jsonl"


class GSM8K(Benchmark):
    """GSM8K test set (1319 problems), scored as OpenCompass's ``gsm8k_0shot_v2_gen_a58960``."""

    name = "gsm8k"
    # 2.0: robust-extract metric, per-subtask rows, content-aware resume;
    # 3.0: OpenCompass scoring (math_postprocess_v2 + MATHEvaluator v2), the paper's pipeline
    version = 3.0
    metric = "exact_match"
    data_subdir = "gsm8k"
    expected_files = f"gsm8k/{FILE} (JSONL: question, answer ending in '#### <number>')"

    def docs(self, data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
        """Test problems in file order; doc id = 0-based line index."""
        path = Path(data_dir) / self.data_subdir / FILE
        docs = []
        for i, rec in enumerate(read_jsonl(path, self.name, self.expected_files, ("question", "answer"))):
            if "####" not in rec["answer"]:
                raise BenchmarkDataError(f"{self.name}: {path}:{i + 1}: answer has no '####'; "
                                         f"expected {self.expected_files}")
            gold = rec["answer"].split("####")[-1].strip().replace(",", "")
            docs.append({"doc_id": str(i), "question": rec["question"], "gold": gold})
        return take(docs, limit)

    def prompt(self, doc: dict[str, Any], style: PromptStyle = "paper") -> str:
        """Paper: ``{question}`` + boxed instruction; lm-eval: ``gsm8k_cot_zeroshot``."""
        if style == "lm-eval":
            return _lm_eval_prompts.prompt("gsm8k/gsm8k-cot-zeroshot.yaml", doc)
        return f"{doc['question']}\nPlease reason step by step, and put your final answer within \\boxed{{}}."

    def score(self, doc: dict[str, Any], output: str) -> ScoredSample:
        """OpenCompass's rule: ``math_postprocess_v2`` (last ``\\boxed{}``, else the first
        sentence with "answer is"/"final answer", else the first sentence) compared with the
        gold by ``MATHEvaluator(version='v2')`` string normalisation."""
        got = math_postprocess_v2(output)
        robust = robust_number(output)
        return ScoredSample(self.name, doc["doc_id"], "", output, got, doc["gold"],
                            float(is_equiv_v2(got, doc["gold"])),
                            {"robust": robust_extra(robust, same_number(robust, doc["gold"]))})

    def gold_output(self, doc: dict[str, Any]) -> str:
        """A short solution ending in the boxed gold number."""
        return f"Let me compute it step by step.\nThe final answer is \\boxed{{{doc['gold']}}}."

    def wrong_output(self, doc: dict[str, Any], rng: random.Random) -> str:
        """The gold number shifted by a non-zero amount."""
        return f"The final answer is \\boxed{{{float(doc['gold']) + rng.choice([-3, -1, 1, 2, 7]):g}}}."
