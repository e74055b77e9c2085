"""Robust option-letter extraction for lettered multiple choice (ARC, MMLU, HellaSwag).

Our own extractor, reported beside the reference metric (like lm-eval's
``flexible-extract``). Evidence, most to least explicit:

0. a ``\\boxed{B}``;
1. the last *committed* marker: "the answer is (B)", "Answer: B", "correct option is B".
   A bare "Answer D is incorrect because ..." is commentary, not a marker (the measured
   defect of the old extractor: it outranked a leading "C."), and "is not B" never counts;
2. a response that opens with the letter ("C", "(C)", "C.", "**C**") — unless the
   response opens by reciting the options ("A. ...\\nB. ...");
3. the marker's text equal to one option's text ("The answer is Paris." -> that letter);
4. the last unambiguous mention: "(B)", "option B", "B is correct"; else a bare letter
   closing the response ("... so D.").

A hedge ("A or B", "A and C") commits to nothing: the result is None.
"""

from __future__ import annotations

import re

from evaluations.scoring.extract import last_boxed

_OPEN = r"[\(\[\*\"'“`]*"
_CLOSE = r"[\)\]\*\"'”`]*"
# "answer is", "answer:", "correct option is", "final answer would be" ... then the letter.
_MARKER = re.compile(
    r"(?:answer|option|choice)s?\s*(?:is|would\s+be|should\s+be|will\s+be|=|:|：)\s*[:：]?\s*"
    r"(?:option|choice|letter)?\s*" + _OPEN + r"\s*([A-Za-z])(?![A-Za-z0-9])" + _CLOSE,
    re.IGNORECASE,
)
_HEDGE = re.compile(r"^\s*(?:,|/|or\b|and\b|&)\s*" + _OPEN + r"\s*[A-Za-z](?![A-Za-z0-9])", re.IGNORECASE)
_NEGATED_AFTER = re.compile(r"^\s*(?:is|are)\s+(?:incorrect|wrong|not)\b", re.IGNORECASE)


def _committed_marker(text: str, letters: str) -> str | None:
    """Letter of the last committed marker; '' when that marker is hedged."""
    found: str | None = None
    for m in _MARKER.finditer(text):
        letter = m.group(1)
        bracketed = text[m.start():m.start(1)].rstrip(" *\"'“`").endswith(("(", "["))
        rest = text[m.end():]
        if letter.islower():
            # Lower case only when it cannot be the article "a" or a word: "(b)", "b." at the end.
            if not (bracketed or re.match(r"^\s*(?:[.)]\s*)?$|^[.)]", rest)):
                continue
        if letter.upper() not in letters or _NEGATED_AFTER.match(rest):
            continue
        found = "" if _HEDGE.match(rest) else letter.upper()
    return found


def _recites_options(text: str, letters: str) -> bool:
    heads = re.findall(rf"(?m)^\s*\(?([{letters}])[\).:]\s", text)
    return len(set(heads)) >= 2


def _leading_letter(text: str, letters: str) -> str | None:
    m = re.match(rf"\s*(?:\*\*)?\s*[\(\[]?([{letters}])(?:[\)\]]|\*\*|[.:,]|\s*$|\s*\n)", text)
    if not m or _recites_options(text, letters):
        return None
    if _HEDGE.match(text[m.end():]):
        return ""
    return m.group(1)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _option_text(text: str, choices: list[str], letters: str) -> str | None:
    """The letter whose option text a marker states verbatim (normalised)."""
    m = list(re.finditer(r"answer\s*(?:is|:)\s*(.+)", text, re.IGNORECASE))
    if not m:
        return None
    stated = _norm(re.split(r"\n", m[-1].group(1))[0])
    hits = [letters[i] for i, c in enumerate(choices) if _norm(c) and _norm(c) == stated]
    return hits[0] if len(hits) == 1 else None


def _loose_mention(text: str, letters: str) -> str | None:
    alt = f"[{letters}]"
    patterns = (
        rf"\(({alt})\)",
        rf"(?i:option|choice|letter)\s+({alt})\b",
        rf"\b({alt})\b(?=\s+(?:is|would\s+be)\s+(?:the\s+)?(?:correct|right|best|answer))",
    )
    best: tuple[int, str] | None = None
    for pattern in patterns:
        for m in re.finditer(pattern, text):
            if best is None or m.start() > best[0]:
                best = (m.start(), m.group(1))
    if best is None:
        # A bare letter closing the response: "B", "... so D."
        tail = re.search(rf"(?<![A-Za-z'])({alt})\s*[.!]?\s*$", text)
        return tail.group(1) if tail else None
    return best[1]


def robust_choice_letter(text: str, choices: list[str], letters: str = "ABCDEFGH") -> str | None:
    """The option letter ``text`` commits to (upper case), or None (no answer, or a hedge)."""
    letters = letters[: len(choices)]
    boxed = last_boxed(text)
    if boxed is not None:
        inner = re.sub(r"\\text\{([^}]*)\}", r"\1", boxed).strip(" ()*.")
        if len(inner) == 1 and inner.upper() in letters:
            return inner.upper()
    marked = _committed_marker(text, letters)
    if marked is not None:
        return marked or None
    for finder in (_leading_letter, lambda t, ls: _option_text(t, choices, ls), _loose_mention):
        got = finder(text, letters)
        if got is not None:
            return got or None
    return None
