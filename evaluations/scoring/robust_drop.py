"""Robust DROP answer: the official metric after a number-token clean-up.

DROP's official normalisation keeps a token intact only when ``float(token)`` parses;
otherwise it strips punctuation from it. So "45.5%" becomes "455" and "12.5." becomes
"125" — and F1 drops to 0 against gold "45.5" (numbers must match exactly in DROP's
metric). We drop a trailing "." / "%" / "," (and a leading "$") from number tokens of
prediction *and* gold before calling the official metric, so such a token is compared as
the number it denotes; everything else is the official metric unchanged.
"""

from __future__ import annotations

import re

from evaluations.scoring.drop import drop_em_f1
from evaluations.scoring.robust_marker import line_clause

_NUMBER_TOKEN = re.compile(r"(?<!\S)\$?(-?\d[\d,]*(?:\.\d+)?)(?:\s?%|[.,;:!?)]|\s?percent\b)*(?!\S)")


def clean_numbers(text: str) -> str:
    """``"45.5%."`` -> ``"45.5"``; ``"$1,200."`` -> ``"1200"``; other tokens untouched."""
    return _NUMBER_TOKEN.sub(lambda m: m.group(1).replace(",", ""), text)


def extract_answer(output: str) -> str:
    """The last ``Answer: ...`` line; else the clause after "the answer is"; else the output."""
    found = re.findall(r"^\s*\**Answer\**\s*:\s*\**(.+?)\**\s*$", output, re.IGNORECASE | re.MULTILINE)
    if found:
        return found[-1].strip()
    clause = line_clause(output)
    return (clause if clause else output).strip()


def robust_drop(output: str, gold_alternatives: list[str]) -> tuple[str, float, float]:
    """``(answer, EM, F1)``: the official metric on cleaned numbers, max over alternatives."""
    answer = extract_answer(output)
    em, f1 = drop_em_f1(clean_numbers(answer), [clean_numbers(g) for g in gold_alternatives])
    return answer, em, f1
