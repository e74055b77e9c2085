r"""MATH (Hendrycks; 5000-problem test JSONL); the gold is the last ``\boxed{}`` of the solution."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from evaluations.base import Benchmark, BenchmarkDataError, PromptStyle, ScoredSample, robust_extra
from evaluations.benchmarks._files import read_jsonl, take
from evaluations.scoring.extract import last_boxed
from evaluations.scoring.math_equiv import math_equal
from evaluations.scoring.opencompass.math import is_equiv_v2, math_postprocess_v2
from evaluations.scoring.robust_math import robust_math_answer

FILE = "test.jsonl"


class MATH(Benchmark):
    """MATH test split, scored as OpenCompass's ``math_0shot_gen_393424`` (robust metric: math-verify)."""

    name = "math"
    # 2.0: robust-extract metric, per-subtask rows, content-aware resume;
    # 3.0: OpenCompass scoring (math_postprocess_v2 + MATHEvaluator v2), the paper's pipeline
    version = 3.0
    metric = "exact_match"
    data_subdir = "math"
    expected_files = f"math/{FILE} (JSONL: problem, solution with the answer in the last \\boxed{{}}, level, type)"

    def docs(self, data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
        """Problems in file order; doc id = the file's ``idx`` (else the line index)."""
        path = Path(data_dir) / self.data_subdir / FILE
        docs = []
        for i, rec in enumerate(read_jsonl(path, self.name, self.expected_files, ("problem", "solution"))):
            gold = last_boxed(rec["solution"])
            if gold is None:
                raise BenchmarkDataError(f"{self.name}: {path}:{i + 1}: solution has no \\boxed{{}} answer")
            docs.append(
                {
                    "doc_id": str(rec.get("idx", i)),
                    "problem": rec["problem"],
                    "gold": gold,
                    "level": rec.get("level", ""),
                    "type": rec.get("type", ""),
                }
            )
        return take(docs, limit)

    def prompt(self, doc: dict[str, Any], style: PromptStyle = "paper") -> str:
        """Paper: ``{problem}`` + boxed instruction; lm-eval: ``minerva_math``'s doc_to_text."""
        if style == "lm-eval":
            from lm_eval.tasks.minerva_math.utils import doc_to_text

            return doc_to_text(doc)
        return f"{doc['problem']}\nPlease reason step by step, and put your final answer within \\boxed{{}}."

    def generation_kwargs(self, style: PromptStyle = "paper") -> dict[str, Any]:
        """Greedy, long enough for a worked solution."""
        return {"until": ["Problem:"] if style == "lm-eval" else [], "do_sample": False, "max_gen_toks": 1024}

    def score(self, doc: dict[str, Any], output: str) -> ScoredSample:
        """OpenCompass's rule: ``math_postprocess_v2`` compared with the gold (the solution's
        last ``\\boxed{}``, as OpenCompass's MATHDataset) by ``MATHEvaluator(version='v2')``."""
        got = math_postprocess_v2(output)
        robust = robust_math_answer(output)
        return ScoredSample(self.name, doc["doc_id"], "", output, got, doc["gold"],
                            float(is_equiv_v2(got, doc["gold"])),
                            {"robust": robust_extra(robust, math_equal(robust, doc["gold"]))})

    def gold_output(self, doc: dict[str, Any]) -> str:
        """A short solution ending in the boxed gold answer."""
        return f"Working through the problem carefully.\nThe final answer is $\\boxed{{{doc['gold']}}}$."

    def wrong_output(self, doc: dict[str, Any], rng: random.Random) -> str:
        """A boxed answer that differs from the gold (gold plus a constant)."""
        return f"The final answer is $\\boxed{{{doc['gold']} + {rng.choice([1, 2, 5])}}}$."
