r"""Robust MATH final answer: the last ``\boxed{}``, else the answer-marker clause.

Differs from the reference extraction in two ways a careful grader would agree with: the
marker clause ends at its sentence ("is $5$. We check ..." -> "5"), and a hedge ("$3$ or
$4$") commits to nothing.
"""

from __future__ import annotations

import re

from evaluations.scoring.extract import last_boxed
from evaluations.scoring.robust_marker import MARKER

_HEDGE = re.compile(r"\$?\s*(?:\bor\b|\\text\{\s*or\s*\})\s*\$?", re.IGNORECASE)
# The clause ends at ". " (not inside $...$ math: "$5.$" is rare) or at the line end.
_END = re.compile(r"\.(?=\s|$)|\n")


def robust_math_answer(output: str) -> str | None:
    """The answer ``output`` commits to (LaTeX text), or None."""
    boxed = last_boxed(output)
    if boxed is None:
        matches = list(MARKER.finditer(output))
        if not matches:
            return None
        rest = output[matches[-1].end():]
        end = _END.search(rest)
        boxed = (rest[: end.start()] if end else rest).strip().strip("*").strip().strip("$").strip()
    if not boxed or _HEDGE.search(boxed):
        return None
    return boxed.strip()
