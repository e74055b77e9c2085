"""MBPP+ (EvalPlus v0.2.0): 378 sanitized MBPP tasks with EvalPlus's extra tests.

Data: ``mbpp/MbppPlus.jsonl.gz``; for the ``lm-eval`` style also the original
``mbpp/mbpp.jsonl`` (its tasks 2, 3 and 4 are lm-eval's three fixed few-shot examples).

Prompts:

* ``paper`` — EvalPlus's convention for instruction models: its instruction sentence,
  then the task prompt (the problem description and one test example, as a docstring) in
  a code fence.
* ``lm-eval`` — lm-eval's ``mbpp_plus`` task: "You are an expert Python programmer…"
  with three test asserts and ``[BEGIN]``, after the three few-shot examples, stopping at
  ``[DONE]``. Our file is EvalPlus's release, not the Hugging Face ``evalplus/mbppplus``
  copy lm-eval reads, so the description is the docstring's prose and the asserts are
  the task's ``assertion`` field (the base tests).

Metrics: ``pass@1_base`` (MBPP base tests) and ``pass@1_plus`` (MBPP+, the headline).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from evaluations.base import BenchmarkDataError, PromptStyle
from evaluations.benchmarks._evalplus_common import EvalPlusBenchmark
from evaluations.jsonl import JsonlError, jsonl_records

# EvalPlus's codegen instruction for chat models (evalplus/codegen.py, run_codegen).
EVALPLUS_INSTRUCTION = (
    "Please provide a self-contained Python script that solves the following problem "
    "in a markdown code block:"
)
FEWSHOT_FILE = "mbpp.jsonl"
FEWSHOT_TASK_IDS = (2, 3, 4)  # lm-eval's mbpp list_fewshot_samples


def _lm_eval_query(text: str, tests: list[str]) -> str:
    """lm-eval's mbpp ``doc_to_text``."""
    return (f"You are an expert Python programmer, and here is your task: {text} "
            "Your code should pass these tests:\n\n" + "\n".join(tests[:3]) + "\n[BEGIN]\n")


@functools.lru_cache(maxsize=4)
def fewshot_prefix(path: Path) -> str:
    """lm-eval's three MBPP examples (query + code + ``[DONE]``), from mbpp.jsonl."""
    if not path.is_file():
        raise BenchmarkDataError(
            f"mbpp: --style lm-eval needs {path} (original MBPP JSONL with "
            f"task_id, text, code, test_list) for its few-shot examples"
        )
    rows: dict[int, dict[str, Any]] = {}
    try:
        records = jsonl_records(path)
    except JsonlError as exc:
        raise BenchmarkDataError(f"mbpp: {exc}; expected the original MBPP JSONL") from exc
    for number, row in records:
        try:
            if row["task_id"] in FEWSHOT_TASK_IDS:
                rows[row["task_id"]] = row
                row["text"], row["code"], row["test_list"]  # must exist
        except (KeyError, TypeError) as exc:
            raise BenchmarkDataError(f"mbpp: {path}:{number}: malformed MBPP record "
                                     f"({type(exc).__name__}: {exc})") from exc
    missing = [t for t in FEWSHOT_TASK_IDS if t not in rows]
    if missing:
        raise BenchmarkDataError(f"mbpp: {path}: few-shot task ids {missing} missing")
    return "".join(
        _lm_eval_query(rows[t]["text"], rows[t]["test_list"]) + rows[t]["code"] + "\n[DONE]\n\n"
        for t in FEWSHOT_TASK_IDS
    )


class MBPP(EvalPlusBenchmark):
    """MBPP+ scored by EvalPlus in a sandbox."""

    name = "mbpp"
    dataset = "mbpp"
    data_subdir = "mbpp"
    data_file = "MbppPlus.jsonl.gz"
    expected_files = (
        "mbpp/MbppPlus.jsonl.gz: EvalPlus MBPP+ JSONL (gzip), one task per line with task_id, "
        "prompt, entry_point, canonical_solution, base_input, plus_input, atol, assertion; "
        "for --style lm-eval also mbpp/mbpp.jsonl (original Google MBPP JSONL)"
    )

    def _extra_fields(self, problem: dict[str, Any], data_dir: Path) -> dict[str, Any]:
        description = "\n".join(
            line for line in problem["prompt"].strip().strip('"').strip().splitlines()
            if line.strip() and not line.lstrip().startswith("assert")
        )
        tests = [t for t in problem.get("assertion", "").strip().splitlines() if t.strip()]
        return {"description": description, "tests": "\n".join(tests),
                "fewshot_path": str((data_dir / self.data_subdir / FEWSHOT_FILE).resolve())}

    def prompt(self, doc: dict[str, Any], style: PromptStyle = "paper") -> str:
        """See the module docstring for the two styles."""
        if style == "lm-eval":
            prefix = fewshot_prefix(Path(doc["fewshot_path"]))
            return prefix + _lm_eval_query(doc["description"], doc["tests"].splitlines())
        return f"{EVALPLUS_INSTRUCTION}\n```\n{doc['prompt'].strip()}\n```\n"

    def generation_kwargs(self, style: PromptStyle = "paper") -> dict[str, Any]:
        """paper: EvalPlus's 768 tokens; lm-eval: ``mbpp``'s ``[DONE]`` stop, 256 tokens."""
        if style == "lm-eval":
            return {"until": ["[DONE]"], "do_sample": False, "max_gen_toks": 256}
        return super().generation_kwargs(style)
