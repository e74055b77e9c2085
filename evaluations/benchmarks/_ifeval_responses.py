"""Responses that satisfy IFEval's verifiable instructions (oracle renderings).

IFEval has no gold answers, so the oracle test needs responses known to comply. Each
supported instruction type has a small generator; :func:`compliant_response` builds the
response for a prompt with one instruction (multi-instruction prompts get the first
instruction's response, which is not guaranteed to satisfy the others). The checkers that
judge these responses are lm-eval's, never ours.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# Filler sentences without commas; the generator picks one that avoids forbidden strings.
_SENTENCES = (
    "The quiet river flows past the old stone mill near the green hills.",
    "Many birds sing at dawn when the forest wakes up slowly.",
    "Bright lamps glow in every window during the long winter night.",
    "Small boats drift on the calm bay under a pale sky.",
)


def _sentence(avoid: tuple[str, ...] = (), i: int = 0) -> str:
    """A filler sentence containing none of ``avoid`` (case-insensitive substrings)."""
    pool = _SENTENCES[i % len(_SENTENCES) :] + _SENTENCES[: i % len(_SENTENCES)]
    for s in pool:
        if not any(a.lower() in s.lower() for a in avoid if a):
            return s
    return "Yes."


def _text(n_sentences: int, avoid: tuple[str, ...] = ()) -> str:
    return " ".join(_sentence(avoid, i) for i in range(n_sentences))


def _words(n: int) -> str:
    base = " ".join(_text(n // 8 + 2).split()[:n])
    return base.rstrip(".") + "."


def _relation(kw: dict[str, Any], key: str, n_key: str, at_least: Callable[[int], str],
              less: Callable[[int], str]) -> str:
    n = int(kw[n_key])
    return at_least(n) if kw[key] == "at least" else less(n)


_GENERATORS: dict[str, Callable[[dict[str, Any]], str]] = {
    "punctuation:no_comma": lambda kw: _text(2),
    "length_constraints:number_words": lambda kw: _relation(
        kw, "relation", "num_words", lambda n: _words(n + 5), lambda n: _words(max(n - 5, 1))
    ),
    "length_constraints:number_sentences": lambda kw: _relation(
        kw, "relation", "num_sentences", lambda n: _text(n + 1), lambda n: _text(max(n - 1, 1))
    ),
    "keywords:forbidden_words": lambda kw: _text(2, tuple(kw["forbidden_words"])),
    "detectable_format:number_highlighted_sections": lambda kw: "\n".join(
        f"*highlighted part {i + 1}*" for i in range(int(kw["num_highlights"]))
    ) + "\n" + _text(1),
    "keywords:frequency": lambda kw: _relation(
        kw, "relation", "frequency",
        lambda n: _text(1) + " " + " ".join(f"{kw['keyword']} again." for _ in range(n)),
        lambda n: _text(2, (kw["keyword"],)),
    ),
    "combination:repeat_prompt": lambda kw: f"{kw['prompt_to_repeat']}\n{_text(2)}",
    "startend:quotation": lambda kw: f'"{_text(2)}"',
    "change_case:english_lowercase": lambda kw: _text(2).lower(),
    "keywords:existence": lambda kw: " ".join(kw["keywords"]) + ". " + _text(1),
    "detectable_format:title": lambda kw: f"<<A Plain Title>>\n{_text(2)}",
    "keywords:letter_frequency": lambda kw: _relation(
        kw, "let_relation", "let_frequency",
        lambda n: _text(1) + " " + " ".join([kw["letter"] * 2] * n),
        lambda n: next(
            (s for s in _SENTENCES if s.lower().count(kw["letter"].lower()) < n), "Ok."
        ),
    ),
    "detectable_format:number_bullet_lists": lambda kw: "\n".join(
        f"* point number {i + 1}" for i in range(int(kw["num_bullets"]))
    ),
    "detectable_content:number_placeholders": lambda kw: " ".join(
        f"[slot{i}]" for i in range(int(kw["num_placeholders"]))
    ) + " " + _text(1),
    "length_constraints:number_paragraphs": lambda kw: "\n***\n".join(
        _sentence((), i) for i in range(int(kw["num_paragraphs"]))
    ),
    "startend:end_checker": lambda kw: f"{_text(2)} {kw['end_phrase']}",
    "detectable_content:postscript": lambda kw: f"{_text(2)}\n{kw['postscript_marker']} a short note.",
    "change_case:english_capital": lambda kw: _text(4).upper(),
    "change_case:capital_word_frequency": lambda kw: _relation(
        kw, "capital_relation", "capital_frequency",
        lambda n: _text(1) + " " + " ".join(["LOUD"] * n),
        lambda n: _text(2).lower(),
    ),
    "combination:two_responses": lambda kw: f"{_sentence((), 0)}\n******\n{_sentence((), 1)}",
    "detectable_format:json_format": lambda kw: json.dumps({"answer": _text(2)}),
    "detectable_format:multiple_sections": lambda kw: "\n".join(
        f"{kw['section_spliter']} {i + 1}\n{_sentence((), i)}" for i in range(int(kw["num_sections"]))
    ),
    "length_constraints:nth_paragraph_first_word": lambda kw: "\n\n".join(
        (f"{kw['first_word']} " + _sentence((), i).lower()) if i + 1 == int(kw["nth_paragraph"]) else _sentence((), i)
        for i in range(int(kw["num_paragraphs"]))
    ),
    "detectable_format:constrained_response": lambda kw: "My answer is yes.",
}

SUPPORTED: frozenset[str] = frozenset(_GENERATORS)


def supported(doc: dict[str, Any]) -> bool:
    """True when ``doc`` has a single instruction of a supported type (response guaranteed)."""
    ids = doc["instruction_id_list"]
    return len(ids) == 1 and ids[0] in SUPPORTED


def compliant_response(doc: dict[str, Any]) -> str:
    """A response for ``doc`` following its (first supported) instruction."""
    for inst, kwargs in zip(doc["instruction_id_list"], doc["kwargs"]):
        if inst in _GENERATORS:
            clean = {k: v for k, v in kwargs.items() if v is not None}
            return _GENERATORS[inst](clean)
    return _text(2)
