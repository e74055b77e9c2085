r"""Robust TheoremQA extraction and scoring.

Extraction: the clause after the last "answer is"/"Answer:" (its ``\boxed{}`` if any);
else the last ``\boxed{}``; else — the measured defect: no fallback — the reference
scorer's own fallback: the last line, from its last "=" / "is" / "be" / "are" / ":" on.

Numbers (the TheoremQA reference scorer's ``clean_units``/``number_it`` conventions):
"%" divides by 100 ("45.2%" -> 0.452); "4.63 x 10^8", "4.63 \times 10^{8}", "4.63e8";
``\frac{a}{b}``, "a/b"; LaTeX such as ``2\sqrt{2}`` or ``\pi/4`` through latex2sympy;
units after the number are ignored. Tolerance as the reference: 4 % relative for
``float``, rounding for ``integer``. Where we differ from the reference, on purpose
(a careful grader's verdict): lists are compared *in order* (the reference sorts both,
so "[2, 1]" would match "[1, 2]"), and a percentage whose gold is itself in percent
units ("54.8%" for gold 54.8, |gold| >= 1) is accepted as written.
"""

from __future__ import annotations

import math
import re
from typing import Any

from evaluations.scoring.extract import last_boxed
from evaluations.scoring.theoremqa import RELATIVE_TOLERANCE, parse_option

_MARKER = re.compile(r"answer\s*(?:is|:|：)\s*[:：]?\s*", re.IGNORECASE)
_SCI = re.compile(
    r"(?P<mant>-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+)"
    r"(?:\s*(?:x|×|\*|\\times|\\cdot)\s*10\s*\^\s*\{?\s*(?P<exp>[-+−]?\d+)\s*\}?"
    r"|\s*[eE](?P<e>[-+]?\d+)|\s*·\s*10\^(?P<exp2>-?\d+))?"
    r"(?P<pct>\s*\\?%|\s*percent\b)?"
)
_FRAC = re.compile(r"(-?)\\[dt]?frac\{\s*(-?[\d.]+)\s*\}\{\s*(-?[\d.]+)\s*\}")
_RATIO = re.compile(r"(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)(?![\d.])")


def extract_answer(output: str) -> str | None:
    """The answer text ``output`` commits to (see module docstring)."""
    matches = list(_MARKER.finditer(output))
    if matches:
        clause = output[matches[-1].end():].split("\n", 1)[0]
        boxed = last_boxed(clause)
        return (boxed if boxed is not None else clause).strip().strip("$*").strip().rstrip(".").strip()
    boxed = last_boxed(output)
    if boxed is not None:
        return boxed.strip()
    lines = [ln for ln in output.strip().split("\n") if ln.strip()]
    if not lines:
        return None
    last = lines[-1]
    cut = max(last.rfind("="), *(m.end() for m in re.finditer(r"\b(?:is|be|are)\b|:", last)), -1)
    tail = last[cut + 1:] if cut >= 0 else last
    return tail.strip().strip("$*").strip().rstrip(".").strip() or None


def _latex_value(text: str) -> float | None:
    try:
        from latex2sympy2_extended import latex2sympy

        value = complex(latex2sympy(text.replace("π", "\\pi")).evalf())
    except Exception:  # latex2sympy raises many types on non-LaTeX text
        return None
    return value.real if abs(value.imag) < 1e-12 and math.isfinite(value.real) else None


def parse_value(text: str) -> tuple[float, bool] | None:
    """``(number, was_percent)`` from an answer string; None when it holds no number."""
    t = text.strip().strip("$").replace("−", "-").replace("\\!", "").replace("\\,", "")
    t = re.sub(r"^[a-zA-Z_]\w*\s*(?:\([^)]*\))?\s*(?:=|≈|\\approx)\s*", "", t)  # "P = 0.3"
    if "=" in t:
        t = t.rsplit("=", 1)[1]
    t = re.sub(r"^(?:approximately|about|around|roughly|\\approx|≈|~)\s*", "", t.strip(), flags=re.IGNORECASE)
    t = t.strip().lstrip("$").strip()
    frac = _FRAC.match(t)
    if frac:
        den = float(frac.group(3))
        if den:
            sign = -1.0 if frac.group(1) else 1.0
            return sign * float(frac.group(2)) / den, False
    ratio = _RATIO.match(t)
    if ratio and float(ratio.group(2)):
        return float(ratio.group(1)) / float(ratio.group(2)), False
    m = _SCI.search(t)
    leading_latex = re.match(r"-?\s*(?:\d*\s*)?(?:\\(?:sqrt|pi|frac|dfrac|ln|log|exp|sin|cos|tan|cdot)|π|e\^)", t)
    if leading_latex:
        value = _latex_value(re.split(r"\s+(?=[A-Za-z]{2,})", t, maxsplit=1)[0])
        if value is not None:
            return value, False
    if not m:
        return None
    value = float(m.group("mant").replace(",", ""))
    exp = m.group("exp") or m.group("e") or m.group("exp2")
    if exp:
        value *= 10.0 ** int(exp.replace("−", "-"))
    return value, bool(m.group("pct"))


def _number_ok(parsed: tuple[float, bool] | None, gold: float, is_float: bool) -> bool:
    if parsed is None:
        return False
    value, pct = parsed
    candidates = [value / 100] + ([value] if pct and abs(gold) >= 1 else []) if pct else [value]
    for v in candidates:
        if is_float and abs(v - gold) <= RELATIVE_TOLERANCE * abs(gold):
            return True
        if not is_float and round(v) == round(gold):
            return True
    return False


def parse_values(text: str) -> list[tuple[float, bool] | None] | None:
    """The elements of a list answer ``[a, b]`` / ``(a, b)`` / ``a, b``; None if not a list."""
    m = re.search(r"[\[(]([^\[\]()]*,[^\[\]()]*)[\])]", text)
    inner = m.group(1) if m else text
    parts = [p for p in re.split(r"\s*,\s*(?![\d]{3}\b)", inner.strip().strip("$")) if p.strip()]
    if len(parts) < 1:
        return None
    return [parse_value(p) for p in parts]


def _bool(text: str) -> bool | None:
    m = re.search(r"\b(true|false|yes|no|correct|incorrect)\b", text, re.IGNORECASE)
    if not m:
        return None
    return m.group(1).lower() in ("true", "yes", "correct")


def robust_theoremqa_correct(answer: str | None, gold: Any, answer_type: str) -> bool:
    """Score a robust answer string against ``gold`` by ``answer_type`` (see module docstring)."""
    if answer is None:
        return False
    if answer_type == "bool":
        got = _bool(answer)
        return got is not None and got == bool(gold)
    if answer_type == "option":
        return parse_option(answer) == parse_option(str(gold))
    if answer_type.startswith("list of"):
        values = parse_values(answer)
        if values is None or len(values) != len(gold):
            return False
        is_float = answer_type == "list of float"
        return all(_number_ok(v, float(g), is_float) for v, g in zip(values, gold))
    if answer_type in ("integer", "float"):
        return _number_ok(parse_value(answer), float(gold), answer_type == "float")
    raise ValueError(f"TheoremQA: unknown Answer_type {answer_type!r}")
