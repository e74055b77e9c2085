"""The clause a final-answer marker introduces, shared by the robust extractors.

"the answer is 55. (If there were 5 more ... 60)": the answer is the clause right after the
*last* marker, cut at the end of its sentence — not the rest of the line (the old
extractor took the last number of the line, 60).
"""

from __future__ import annotations

import re

# "The (final) answer is", "Answer:", "answer would be", "####" (GSM8K's own marker).
MARKER = re.compile(
    r"(?:answer\s*(?:is|would\s+be|will\s+be|should\s+be|=|:|：)|####)\s*[:：]?\s*(?:\*\*)?\s*",
    re.IGNORECASE,
)
# A sentence ends at ". " / "." at the end / an opening parenthesis / ";" / a newline; a
# decimal point ("5.5") is not followed by white space, so it never ends one.
_SENTENCE_END = re.compile(r"\.(?=\s|$)|\s\(|;|\n")


def marker_clause(text: str) -> str | None:
    """The sentence after the last answer marker of ``text`` (None without a marker)."""
    matches = list(MARKER.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end():].lstrip()
    end = _SENTENCE_END.search(rest)
    clause = rest[: end.start()] if end else rest
    return clause.strip().strip("*").strip()


def line_clause(text: str) -> str | None:
    """The rest of the line after the last answer marker (for answers that hold periods)."""
    matches = list(MARKER.finditer(text))
    if not matches:
        return None
    return text[matches[-1].end():].split("\n", 1)[0].strip().strip("*").strip()
