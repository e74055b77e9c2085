"""Answer extraction from free-form model outputs (regex-based, like OpenCompass).

Every benchmark's ``score`` goes through these helpers so the same text is parsed the same
way in live runs, ``--predictions`` re-scoring and the oracle tests.
"""

from __future__ import annotations

import re

_NUMBER = r"-?[\d,]*\.?\d+"


def last_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{...}`` (or ``\fbox{...}``) in ``text``, braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        # "\boxed 5" form: the answer runs to the next whitespace or '$'.
        m = re.match(r"\\boxed\s+([^\s$]+)", text[start:])
        return m.group(1) if m else None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None


def after_answer_marker(text: str) -> str | None:
    """Text after the last "answer is" / "Answer:" marker (first line of it), else None."""
    matches = list(
        re.finditer(r"(?:the\s+(?:final\s+)?answer\s+is|answer\s*:)\s*(.+)", text, re.IGNORECASE)
    )
    if not matches:
        return None
    return matches[-1].group(1).strip().splitlines()[0].strip()


def numbers(text: str) -> list[str]:
    """All numbers in ``text`` in order, thousands separators removed (``"1,000"`` -> ``"1000"``)."""
    return [m.replace(",", "") for m in re.findall(_NUMBER, text) if re.search(r"\d", m)]


def last_number(text: str) -> str | None:
    """The last number in ``text`` (GSM8K-style fallback extraction)."""
    found = numbers(text)
    return found[-1] if found else None


def choice_letter(text: str, letters: str) -> str | None:
    """The option letter a response commits to, e.g. ``"B"`` from "The answer is (B).".

    Order of evidence (most to least explicit): an "answer is X" marker; a response that
    starts with the letter ("B", "(B)", "B.", "B:"); the last standalone letter.
    """
    alt = "|".join(re.escape(c) for c in letters)
    # Letters are matched case-sensitively: "the answer is a planet" must not read as "A".
    marked = re.findall(
        rf"(?i:answer)(?:\s+(?i:is))?\s*[:：]?\s*\(?\**\s*({alt})\b(?![a-z])", text
    )
    if marked:
        return marked[-1]
    head = re.match(rf"\s*\**\(?({alt})(?:[\).:\s]|$)", text)
    if head:
        return head.group(1)
    loose = re.findall(rf"(?<![A-Za-z])\(?({alt})\)?(?![A-Za-z])", text)
    return loose[-1] if loose else None


def normalize_text(text: str) -> str:
    """Lower-case, strip surrounding punctuation/quotes/whitespace, collapse spaces."""
    text = text.strip().strip(".\"'`*").strip()
    return re.sub(r"\s+", " ", text).lower()
