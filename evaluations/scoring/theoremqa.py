"""TheoremQA's official answer-type scoring (Chen et al. 2023; no lm-eval task exists).

Answer types and their rule:
- ``integer``: the prediction, rounded, equals the gold integer.
- ``float``: ``|pred - gold| <= 0.04 * |gold|`` (4 % relative tolerance, official eps).
- ``list of integer`` / ``list of float``: same length; sorted element-wise by the rules above.
- ``bool``: True/False (also Yes/No) equal.
- ``option``: the option letter, e.g. ``(c)``, equal (case-insensitive, brackets optional).
"""

from __future__ import annotations

import math
import re
from typing import Any

RELATIVE_TOLERANCE = 0.04


def parse_number(text: str) -> float | None:
    """A number from a short answer string: ints, decimals, ``1e-3``, ``a/b``, ``x%``, ``\\frac{a}{b}``."""
    t = text.strip().strip("$").replace(",", "").replace("\\!", "").strip()
    t = re.sub(r"\\(?:text|mathrm)\{[^}]*\}", "", t).strip()
    frac = re.fullmatch(r"-?\\[dt]?frac\{(-?[\d.]+)\}\{(-?[\d.]+)\}", t)
    if frac:
        sign = -1.0 if t.startswith("-") else 1.0
        return sign * float(frac.group(1)) / float(frac.group(2))
    t = re.sub(r"\s*\\?%$", "", t)  # a trailing percent sign does not change the number
    t = re.sub(r"\\times\s*10\^\{?(-?\d+)\}?", r"e\1", t).replace(" ", "")
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)/(-?\d+(?:\.\d+)?)", t)
    if m:
        den = float(m.group(2))
        return float(m.group(1)) / den if den else None
    try:
        value = float(t)
    except ValueError:
        found = re.findall(r"-?\d+(?:\.\d+)?(?:[eE]-?\d+)?", t)
        if len(found) != 1:
            return None
        value = float(found[0])
    return value if math.isfinite(value) else None


def numbers_match(pred: float, gold: float, gold_is_float: bool) -> bool:
    """Official numeric rule: relative 4 % for float answers, rounding for integer answers."""
    if gold_is_float:
        return abs(pred - gold) <= RELATIVE_TOLERANCE * abs(gold)
    return round(pred) == round(gold)


def parse_list(text: str) -> list[float] | None:
    """``[1, 2.5, 3]`` (brackets or parentheses optional) -> floats; None if not a list of numbers."""
    inner = text.strip().strip("$").strip()
    inner = re.sub(r"^[\[(]|[\])]$", "", inner)
    parts = [p for p in re.split(r"\s*,\s*", inner) if p.strip()]
    values = [parse_number(p) for p in parts]
    if not values or any(v is None for v in values):
        return None
    return [float(v) for v in values]  # type: ignore[arg-type]


def parse_bool(text: str) -> bool | None:
    """True/False (or yes/no) at the start of ``text``."""
    m = re.match(r"\W*(true|false|yes|no)\b", text.strip(), re.IGNORECASE)
    if not m:
        return None
    return m.group(1).lower() in ("true", "yes")


def parse_option(text: str) -> str | None:
    """An option label ``(a)``..``(e)`` from ``text``, normalised to ``"(a)"``."""
    m = re.search(r"\(([a-eA-E])\)", text) or re.match(r"\s*([a-eA-E])\b", text)
    return f"({m.group(1).lower()})" if m else None


def theoremqa_correct(answer: str | None, gold: Any, answer_type: str) -> bool:
    """Score an extracted ``answer`` string against ``gold`` by TheoremQA's ``answer_type``."""
    if answer is None:
        return False
    if answer_type == "bool":
        return parse_bool(answer) is not None and parse_bool(answer) == bool(gold)
    if answer_type == "option":
        return parse_option(answer) == parse_option(str(gold))
    if answer_type.startswith("list of"):
        pred = parse_list(answer)
        if pred is None or len(pred) != len(gold):
            return False
        is_float = answer_type == "list of float"
        return all(
            numbers_match(p, float(g), is_float)
            for p, g in zip(sorted(pred), sorted(float(x) for x in gold))
        )
    if answer_type in ("integer", "float"):
        pred_value = parse_number(answer)
        return pred_value is not None and numbers_match(
            pred_value, float(gold), answer_type == "float"
        )
    raise ValueError(f"TheoremQA: unknown Answer_type {answer_type!r}")
