"""A small deterministic instruction/response training set, generated locally.

Four kinds of examples — arithmetic, word manipulation, short facts, number sorting —
drawn from a seeded ``random.Random``, so the same ``(n, seed)`` always gives the same
file. Half the examples use ``prompt``, half ``messages`` (some with a system message),
so both input forms of the data contract are exercised. No network.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from fusion.data import write_examples

_WORDS = [
    "planet", "garden", "window", "river", "silver", "pencil", "market", "winter", "candle", "forest",
    "orange", "bridge", "rocket", "castle", "shadow", "butter", "island", "mirror", "thunder", "blanket",
    "engine", "harbor", "violet", "lantern", "meadow", "puzzle", "saddle", "tunnel", "velvet", "whisper",
]

_FACTS = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("What is the capital of Japan?", "The capital of Japan is Tokyo."),
    ("What is the capital of Italy?", "The capital of Italy is Rome."),
    ("What is the capital of Canada?", "The capital of Canada is Ottawa."),
    ("What is the capital of Spain?", "The capital of Spain is Madrid."),
    ("What is the capital of Germany?", "The capital of Germany is Berlin."),
    ("What is the capital of Egypt?", "The capital of Egypt is Cairo."),
    ("What is the capital of Kenya?", "The capital of Kenya is Nairobi."),
    ("How many days are in a week?", "There are 7 days in a week."),
    ("How many legs does a spider have?", "A spider has 8 legs."),
    ("What is the boiling point of water at sea level in Celsius?", "Water boils at 100 degrees Celsius at sea level."),
    ("What gas do plants absorb from the air?", "Plants absorb carbon dioxide from the air."),
    ("Which planet is closest to the Sun?", "Mercury is the planet closest to the Sun."),
    ("What is the largest ocean on Earth?", "The Pacific Ocean is the largest ocean on Earth."),
    ("How many minutes are in an hour?", "There are 60 minutes in an hour."),
    ("What color do you get by mixing blue and yellow?", "Mixing blue and yellow gives green."),
    ("What is the freezing point of water in Celsius?", "Water freezes at 0 degrees Celsius."),
    ("How many sides does a hexagon have?", "A hexagon has 6 sides."),
    ("What is the chemical symbol for gold?", "The chemical symbol for gold is Au."),
    ("Who wrote 'Romeo and Juliet'?", "William Shakespeare wrote 'Romeo and Juliet'."),
]

_SYSTEM = "You are a concise, helpful assistant."


def _arithmetic(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    op = rng.choice(["+", "-", "*"])
    value = {"+": a + b, "-": a - b, "*": a * b}[op]
    word = {"+": "plus", "-": "minus", "*": "times"}[op]
    return f"What is {a} {word} {b}?", f"{a} {op} {b} = {value}. The answer is {value}."


def _word(rng: random.Random) -> tuple[str, str]:
    w = rng.choice(_WORDS)
    kind = rng.randrange(4)
    if kind == 0:
        return f"Reverse the word '{w}'.", f"The word '{w}' reversed is '{w[::-1]}'."
    if kind == 1:
        return f"Write the word '{w}' in capital letters.", f"In capital letters, '{w}' is '{w.upper()}'."
    if kind == 2:
        return f"How many letters are in the word '{w}'?", f"The word '{w}' has {len(w)} letters."
    letter = rng.choice(sorted(set(w)))
    count = w.count(letter)
    return (f"How many times does the letter '{letter}' appear in '{w}'?",
            f"The letter '{letter}' appears {count} time{'s' if count != 1 else ''} in '{w}'.")


def _fact(rng: random.Random) -> tuple[str, str]:
    return rng.choice(_FACTS)


def _sorting(rng: random.Random) -> tuple[str, str]:
    nums = rng.sample(range(1, 100), rng.randint(3, 6))
    listed = ", ".join(map(str, nums))
    return (f"Sort these numbers from smallest to largest: {listed}.",
            f"From smallest to largest: {', '.join(map(str, sorted(nums)))}.")


def demo_examples(n: int = 300, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` deterministic examples (plain dicts following the JSONL data contract)."""
    rng = random.Random(seed)
    makers = [_arithmetic, _word, _fact, _sorting]
    out = []
    for i in range(n):
        question, answer = makers[i % len(makers)](rng)
        ex: dict[str, Any] = {"id": f"demo-{seed}-{i:05d}"}
        if i % 2 == 0:
            ex["prompt"] = question
        else:
            msgs = [{"role": "user", "content": question}]
            if i % 4 == 1:
                msgs.insert(0, {"role": "system", "content": _SYSTEM})
            ex["messages"] = msgs
        ex["response"] = answer
        out.append(ex)
    return out


def write_demo_data(path: str | Path, n: int = 300, seed: int = 0) -> Path:
    """Write :func:`demo_examples` to ``path`` as JSONL and return the path. The file is
    written aside and renamed, so processes of a multi-GPU launch can all call this."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_examples(demo_examples(n, seed), tmp)
    os.replace(tmp, path)
    return path
