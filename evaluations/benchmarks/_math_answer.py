"""Final-answer extraction shared by GSM8K and MATH (boxed first, then markers, then numbers)."""

from __future__ import annotations

import re

from evaluations.scoring.extract import after_answer_marker, last_boxed, last_number


def final_answer(output: str, numeric: bool) -> str | None:
    r"""The answer a solution commits to.

    Order: the last ``\boxed{}``; Minerva's "final answer is X. I hope it is correct";
    an "answer is" / "Answer:" marker; for numeric benchmarks the last number.
    """
    boxed = last_boxed(output)
    if boxed is not None:
        return boxed.strip()
    minerva = re.findall(r"final answer is\s*\$?(.+?)\$?\.?\s*I hope", output, re.IGNORECASE)
    if minerva:
        return minerva[-1].strip()
    marked = after_answer_marker(output)
    if marked is not None:
        marked = marked.strip().rstrip(".").strip().strip("$").strip()
        if not numeric:
            return marked
        number = last_number(marked)
        if number is not None:
            return number
    return last_number(output) if numeric else None
