"""TheoremQA (800 questions, original JSON), scored by the official answer-type rules."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from evaluations.base import Benchmark, BenchmarkDataError, PromptStyle, ScoredSample, robust_extra
from evaluations.benchmarks._files import read_json, take
from evaluations.scoring.extract import last_boxed
from evaluations.scoring.robust_theoremqa import extract_answer as robust_answer
from evaluations.scoring.robust_theoremqa import robust_theoremqa_correct
from evaluations.scoring.theoremqa import theoremqa_correct

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


def extract_theoremqa_answer(output: str) -> str | None:
    """The final answer: text after the last "the answer is" (one line), else the last ``\\boxed{}``."""
    found = re.findall(r"answer is[:\s]*(.+)", output, re.IGNORECASE)
    if found:
        answer = found[-1].strip().splitlines()[0].strip()
        boxed = last_boxed(answer)
        answer = boxed if boxed is not None else answer
        return answer.strip().strip("$").rstrip(".").strip()
    return last_boxed(output)


class TheoremQA(Benchmark):
    """TheoremQA test set; accuracy under the integer/float/list/bool/option rules."""

    name = "theoremqa"
    version = 2.0  # 2.0: robust-extract metric, per-subtask rows, content-aware resume
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
        """Official answer-type scoring of the extracted final answer."""
        got = extract_theoremqa_answer(output)
        ok = theoremqa_correct(got, doc["gold"], doc["answer_type"])
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
