"""TheoremQA (800 questions, original JSON), original prompt, OpenCompass's scoring.

The paper keeps TheoremQA's original prompt and scores with OpenCompass's ``TheoremQA_gen``
rules (``TheoremQA_postprocess_v3`` + ``TheoremQAEvaluatorV3``, see
:mod:`evaluations.scoring.opencompass.theoremqa`).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from evaluations.base import Benchmark, BenchmarkDataError, PromptStyle, ScoredSample, robust_extra
from evaluations.benchmarks._files import read_json, take
from evaluations.scoring.opencompass.theoremqa import theoremqa_correct_v3
from evaluations.scoring.robust_theoremqa import extract_answer as robust_answer
from evaluations.scoring.robust_theoremqa import robust_theoremqa_correct

FILE = "theoremqa_test.json"
ANSWER_TYPES = ("integer", "float", "bool", "option", "list of integer", "list of float")

# The original TheoremQA prompt (the paper keeps it for both styles: lm-eval has no task).
ORIGINAL_PROMPT = (
    "Please read a math problem, and then think step by step to derive the answer. "
    "The answer is decided by Answer Type. If the Answer type in [bool], the answer needs to be "
    "True or False. Else if the Answer type in [integer, float] , The answer needs to be in "
    "numerical form. Else if the Answer type in [list of integer, list of float] , the answer "
    "needs to be a list of number like [2, 3, 4]. Else if the Answer type in [option], the answer "
    "needs to be an option like (a), (b), (c), (d). You need to output the answer in your final "
    "sentence like 'Therefore, the answer is ...'.\n\nQuestion: {question}\n\n"
    "Answer_type: {answer_type}\n\nLet's think step by step."
)


class TheoremQA(Benchmark):
    """TheoremQA test set; accuracy under OpenCompass's TheoremQAEvaluatorV3."""

    name = "theoremqa"
    # 2.0: robust-extract metric, per-subtask rows, content-aware resume;
    # 3.0: OpenCompass scoring (TheoremQA_postprocess_v3 + TheoremQAEvaluatorV3)
    version = 3.0
    metric = "exact_match"
    data_subdir = "theoremqa"
    expected_files = f"theoremqa/{FILE} (JSON list: id, Question, Answer, Answer_type)"

    def docs(self, data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
        """Questions in file order; doc id = the dataset ``id``."""
        path = Path(data_dir) / self.data_subdir / FILE
        data = read_json(path, self.name, self.expected_files)
        if not isinstance(data, list):
            raise BenchmarkDataError(f"{self.name}: {path}: top level is not a list; expected {self.expected_files}")
        docs = []
        for i, rec in enumerate(data):
            if not isinstance(rec, dict) or rec.get("Answer_type") not in ANSWER_TYPES or "Question" not in rec:
                raise BenchmarkDataError(
                    f"{self.name}: {path}: record {i} lacks Question or has Answer_type outside {ANSWER_TYPES}"
                )
            docs.append(
                {
                    "doc_id": str(rec.get("id", i)),
                    "question": rec["Question"],
                    "gold": rec["Answer"],
                    "answer_type": rec["Answer_type"],
                    "picture": rec.get("Picture"),
                }
            )
        return take(docs, limit)

    def prompt(self, doc: dict[str, Any], style: PromptStyle = "paper") -> str:
        """The original TheoremQA prompt (both styles)."""
        return ORIGINAL_PROMPT.format(question=doc["question"], answer_type=doc["answer_type"])

    def generation_kwargs(self, style: PromptStyle = "paper") -> dict[str, Any]:
        """Greedy, long enough for a worked solution."""
        return {"until": [], "do_sample": False, "max_gen_toks": 1024}

    def score(self, doc: dict[str, Any], output: str) -> ScoredSample:
        """OpenCompass's rule on the text after the last "the answer is" (else the last number)."""
        got, ok = theoremqa_correct_v3(output, doc["gold"], doc["answer_type"])
        robust = robust_answer(output)
        robust_ok = robust_theoremqa_correct(robust, doc["gold"], doc["answer_type"])
        return ScoredSample(self.name, doc["doc_id"], "", output, got, doc["gold"], float(ok),
                            {"robust": robust_extra(robust, robust_ok)})

    def gold_output(self, doc: dict[str, Any]) -> str:
        """Reasoning then "Therefore, the answer is <gold>."."""
        return f"We apply the relevant theorem.\nTherefore, the answer is {doc['gold']}."

    def wrong_output(self, doc: dict[str, Any], rng: random.Random) -> str:
        """A well-formed answer of the right type that is wrong."""
        gold, kind = doc["gold"], doc["answer_type"]
        if kind == "bool":
            wrong: Any = not gold
        elif kind == "option":
            wrong = rng.choice([o for o in ("(a)", "(b)", "(c)", "(d)") if o != str(gold).lower()])
        elif kind.startswith("list"):
            wrong = [x * 2 + 1 for x in gold]
        else:
            wrong = float(gold) * 2 + 1
        return f"Therefore, the answer is {wrong}."
