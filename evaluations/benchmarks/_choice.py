"""Shared logic of the lettered multiple-choice benchmarks (ARC, MMLU, HellaSwag).

Documents carry ``choices`` (texts) and ``gold`` (a letter). Scoring is the paper's
OpenCompass rule (ARC_c_gen_1e0de5, mmlu_gen_4d595a, hellaswag_gen_6faab5):
``first_option_postprocess(output, 'ABCD')`` equal to the gold letter. The robust metric
(:mod:`evaluations.scoring.robust_choice`) is scored beside it.
"""

from __future__ import annotations

import random
from typing import Any

from evaluations.base import Benchmark, ScoredSample, robust_extra
from evaluations.scoring.opencompass.choice import first_option_postprocess
from evaluations.scoring.robust_choice import robust_choice_letter

LETTERS = "ABCDEFGH"


def lettered(choices: list[str]) -> str:
    """``A. first\\nB. second...`` lines for the choices."""
    return "\n".join(f"{LETTERS[i]}. {text}" for i, text in enumerate(choices))


class ChoiceBenchmark(Benchmark):
    """Base class: letter extraction + accuracy; subclasses load docs and write prompts."""

    metric = "acc"
    max_gen_toks = 256

    def generation_kwargs(self, style="paper") -> dict[str, Any]:
        """Greedy; short answers suffice for a letter plus a brief explanation."""
        return {"until": [], "do_sample": False, "max_gen_toks": self.max_gen_toks}

    def score(self, doc: dict[str, Any], output: str) -> ScoredSample:
        """Accuracy of the option letter OpenCompass's ``first_option_postprocess`` finds."""
        letters = LETTERS[: len(doc["choices"])]
        got = first_option_postprocess(output, letters) or None
        robust = robust_choice_letter(output, doc["choices"], letters)
        return ScoredSample(
            benchmark=self.name,
            doc_id=doc["doc_id"],
            prompt="",
            output=output,
            extracted=got,
            gold=doc["gold"],
            score=float(got == doc["gold"]),
            extra={"robust": robust_extra(robust, robust == doc["gold"])},
        )

    def gold_output(self, doc: dict[str, Any]) -> str:
        """``B. <text of B>`` then a closing "The answer is B."."""
        index = LETTERS.index(doc["gold"])
        return f"{doc['gold']}. {doc['choices'][index]}\nThe answer is {doc['gold']}."

    def wrong_output(self, doc: dict[str, Any], rng: random.Random) -> str:
        """A confident answer with a different letter."""
        letters = [c for c in LETTERS[: len(doc["choices"])] if c != doc["gold"]]
        return f"The answer is {rng.choice(letters)}."
