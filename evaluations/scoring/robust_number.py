r"""Robust final-number extraction (GSM8K; BBH's numeric tasks).

Order: the last ``\boxed{}``; the clause after the last answer marker (the number right
after the marker — after the last "=" when the clause is an equation); else the last
number of the response. A hedge ("79 or 69", "between 5 and 10", "5-6") is no answer.
"""

from __future__ import annotations

import re

from evaluations.scoring.extract import last_boxed
from evaluations.scoring.robust_marker import marker_clause

NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+")
# A second number joined by "or", "/", "to", "and", "-" or "–" right after the first.
_HEDGE_AFTER = re.compile(r"^\s*(?:%|\w+\s*)?\s*(?:or|/|to|and|-|–)\s*\$?\s*-?\d", re.IGNORECASE)
_HEDGE_BEFORE = re.compile(r"(?:between|either)\s+\$?\s*$|between\s+\$?[\d,.]+\s+and\s+\$?\s*$", re.IGNORECASE)


def _first_number(clause: str) -> str | None:
    if "=" in clause:
        clause = clause.rsplit("=", 1)[1]
    m = NUMBER.search(clause)
    if not m:
        return None
    if _HEDGE_AFTER.match(clause[m.end():]) or _HEDGE_BEFORE.search(clause[: m.start()]):
        return None
    return m.group(0).replace(",", "")


def robust_number(text: str) -> str | None:
    """The number ``text`` commits to, as a plain string (``"1250.5"``), or None."""
    boxed = last_boxed(text)
    if boxed is not None:
        return _first_number(boxed)
    clause = marker_clause(text)
    if clause is not None:
        got = _first_number(clause)
        if got is not None or NUMBER.search(clause):
            return got  # a hedged marker clause commits to nothing
    found = list(NUMBER.finditer(text))
    if not found:
        return None
    last = found[-1]
    if last.group(0).startswith("-") and text[: last.start()][-1:].isdigit():
        return None  # "5-6": a range, not minus six
    if _HEDGE_BEFORE.search(text[: last.start()]) or re.search(r"\d\s*(?:or|/|to|-|–)\s*\$?\s*$", text[: last.start()]):
        return None
    return last.group(0).replace(",", "")


def same_number(predicted: str | None, gold: str, rel_tol: float = 1e-9) -> bool:
    """Numeric equality (``"18.00"`` equals ``"18"``); False when nothing was predicted."""
    if predicted is None:
        return False
    try:
        p, g = float(predicted), float(gold.replace(",", ""))
    except ValueError:
        return False
    return abs(p - g) <= rel_tol * max(1.0, abs(g))
