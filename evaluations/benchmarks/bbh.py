"""BIG-Bench Hard (27 task JSON files + 3-shot CoT prompt files), OpenCompass ``bbh_gen_5b92b0``."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from evaluations.base import Benchmark, BenchmarkDataError, PromptStyle, ScoredSample, robust_extra
from evaluations.benchmarks import _lm_eval_prompts
from evaluations.benchmarks._files import read_json, read_text, take
from evaluations.scoring.opencompass.bbh import bbh_score
from evaluations.scoring.robust_bbh import robust_bbh_answer, robust_bbh_correct

TASKS = (
    "boolean_expressions", "causal_judgement", "date_understanding", "disambiguation_qa",
    "dyck_languages", "formal_fallacies", "geometric_shapes", "hyperbaton",
    "logical_deduction_five_objects", "logical_deduction_seven_objects",
    "logical_deduction_three_objects", "movie_recommendation", "multistep_arithmetic_two",
    "navigate", "object_counting", "penguins_in_a_table", "reasoning_about_colored_objects",
    "ruin_names", "salient_translation_error_detection", "snarks", "sports_understanding",
    "temporal_sequences", "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects", "tracking_shuffled_objects_three_objects",
    "web_of_lies", "word_sorting",
)  # fmt: skip

_OPTION = re.compile(r"^\([A-R]\)$")
_FLIPS = {"true": "False", "false": "True", "yes": "No", "no": "Yes", "valid": "invalid", "invalid": "valid"}


def _cot_hint(text: str) -> str:
    # The prompt files open with a canary line and a '-----' separator: keep what follows.
    return text.split("-----", 1)[1].strip() if "-----" in text else text.strip()


class BBH(Benchmark):
    """All 27 BBH tasks (6511 examples); doc ids ``<task>/<index>``."""

    name = "bbh"
    # 2.0: robust-extract metric, per-subtask rows, content-aware resume;
    # 3.0: OpenCompass scoring (bbh_mcq_postprocess / bbh_freeform_postprocess) and its
    #      prompt's blank line between the hint and "Q:"
    version = 3.0
    metric = "exact_match"
    data_subdir = "bbh"
    expected_files = "bbh/<task>.json ({'examples': [{input, target}]}) and bbh/cot-prompts/<task>.txt for the 27 tasks"

    def __init__(self) -> None:
        self._hints: dict[str, str] = {}

    def docs(self, data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
        """Examples of every task, task by task; with ``limit``, the first ``limit`` of a
        round-robin over tasks (example 0 of each task, then example 1, ...) so a small
        slice still covers many tasks."""
        root = Path(data_dir) / self.data_subdir
        per_task: list[list[dict[str, Any]]] = []
        for task in TASKS:
            path = root / f"{task}.json"
            data = read_json(path, self.name, self.expected_files)
            examples = data.get("examples") if isinstance(data, dict) else None
            if not isinstance(examples, list) or not all(
                isinstance(e, dict) and "input" in e and "target" in e for e in examples
            ):
                raise BenchmarkDataError(f"{self.name}: {path}: no 'examples' list of {{input, target}}; "
                                         f"expected {self.expected_files}")
            hint = _cot_hint(read_text(root / "cot-prompts" / f"{task}.txt", self.name, self.expected_files))
            self._hints[task] = hint
            per_task.append(
                [
                    {"doc_id": f"{task}/{i}", "task": task, "input": ex["input"], "gold": ex["target"], "hint": hint}
                    for i, ex in enumerate(take(examples, limit))
                ]
            )
        if limit is None:
            return [doc for task_docs in per_task for doc in task_docs]
        depth = max(len(t) for t in per_task)
        interleaved = [t[i] for i in range(depth) for t in per_task if i < len(t)]
        return take(interleaved, limit)

    def subtask(self, doc: dict[str, Any]) -> str:
        """The BBH task (one of :data:`TASKS`)."""
        return doc["task"]

    def prompt(self, doc: dict[str, Any], style: PromptStyle = "paper") -> str:
        """Paper: ``bbh_gen_5b92b0``'s template, the task's CoT prompt as ``_hint`` (the same
        text as OpenCompass's lib_prompt files); lm-eval: ``bbh_cot_zeroshot_<task>``."""
        if style == "lm-eval":
            return _lm_eval_prompts.prompt(f"bbh/cot_zeroshot/{doc['task']}.yaml", doc)
        return (
            f"Follow the given examples and answer the question.\n{doc['hint']}\n\n"
            f"Q: {doc['input']}\nA: Let's think step by step."
        )

    def score(self, doc: dict[str, Any], output: str) -> ScoredSample:
        """OpenCompass's rule: option tasks compare the letter after the first "answer is "
        (``bbh_mcq_postprocess``); free-form tasks the first line after it, exactly."""
        got, ok = bbh_score(doc["task"], doc["gold"], output)
        robust = robust_bbh_answer(doc["task"], doc["input"], doc["gold"], output)
        extra = {"task": doc["task"],
                 "robust": robust_extra(robust, robust_bbh_correct(doc["task"], doc["gold"], robust))}
        return ScoredSample(self.name, doc["doc_id"], "", output, got, doc["gold"], float(ok), extra)

    def gold_output(self, doc: dict[str, Any]) -> str:
        """The CoT files' closing form "... So the answer is <target>", without the final
        period: two ruin_names targets are not option letters, and OpenCompass's option
        postprocessor keeps a period after such a target (so no output with it can score)."""
        return f"Let's reason about it. So the answer is {doc['gold']}"

    def wrong_output(self, doc: dict[str, Any], rng: random.Random) -> str:
        """A well-formed answer that differs from the target."""
        gold = doc["gold"]
        if _OPTION.match(gold):
            wrong = rng.choice([f"({c})" for c in "ABCDEF" if f"({c})" != gold])
        elif gold.lower() in _FLIPS:
            wrong = _FLIPS[gold.lower()]
        elif re.fullmatch(r"-?\d+", gold):
            wrong = str(int(gold) + rng.choice([1, 2, 3]))
        else:
            wrong = "none of these"
        return f"So the answer is {wrong}."
