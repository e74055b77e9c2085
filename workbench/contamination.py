"""Is a training prompt an evaluated item? The check behind every experiment's data.

An evaluated item is the question text of one benchmark document (BBH ``input``, GSM8K
``question``, MATH ``problem``, MBPP+ ``description`` and ``prompt``, …: :data:`QUESTION_FIELDS`).
Texts are compared after :func:`normalize` (lower case, every run of non-alphanumeric
characters one space), so punctuation, case and whitespace changes do not hide a copy.

A training prompt *contains* an item when the item's whole normalised question occurs in
the prompt's normalised text as a run of whole words (templates around the question do not
hide it). A code task's test lines (``assert …``) are items of their own:
EvalPlus rewrote many MBPP descriptions, but kept the tests, so the task is still
recognised; and a code task is also known by its id (``mbpp/Mbpp/603`` is MBPP task
603, whatever its text). Items shorter than :data:`MIN_WORDS` words are ignored: ``"True"`` or a
four-word BBH formula is not evidence of a copied item. Lookup is by the item's first
``min(len, KEY_WORDS)`` words, then the whole item is verified, so the check is
O(prompt words × distinct key lengths), not O(prompts × items).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

QUESTION_FIELDS: dict[str, tuple[str, ...]] = {
    "bbh": ("input",), "arc": ("question",), "mmlu": ("question",), "gsm8k": ("question",),
    "math": ("problem",), "theoremqa": ("question",), "mbpp": ("description", "prompt"),
    "humaneval": ("prompt",), "drop": ("context",), "hellaswag": ("ctx",), "ifeval": ("prompt",),
}
MIN_WORDS = 6
TEST_LINE_PREFIXES = ("assert ",)
MIN_TEST_WORDS = 4  # `assert is_upper("person") == "PERSON"` (5 words): a call with its expected value is specific
KEY_WORDS = 12
_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalize(text: str) -> list[str]:
    """The words of ``text`` lower-cased, split on every run of non-alphanumerics."""
    return _NON_WORD.sub(" ", text.lower()).split()


@dataclass
class EvalIndex:
    """Normalised question texts of evaluated items, keyed by their first words."""

    by_key: dict[tuple[str, ...], list[tuple[tuple[str, ...], str]]] = field(default_factory=lambda: defaultdict(list))
    key_lengths: set[int] = field(default_factory=set)
    items_per_benchmark: dict[str, int] = field(default_factory=dict)
    task_ids: set[str] = field(default_factory=set)  # "<benchmark>/<task_id>" of items that carry one

    def add(self, text: str, label: str, min_words: int = MIN_WORDS) -> None:
        """Index one item's question (``label`` names it in :meth:`find`'s answer)."""
        words = tuple(normalize(text))
        if len(words) < min_words:
            return
        key = words[:KEY_WORDS]
        self.by_key[key].append((words, label))
        self.key_lengths.add(len(key))

    @classmethod
    def from_benchmarks(cls, data_dir: Path, benchmarks: list[str] | None = None) -> EvalIndex:
        """Every document of ``benchmarks`` (default: all registered ones) in ``data_dir``."""
        from evaluations import registry

        index = cls()
        for name in benchmarks or registry.names():
            docs = registry.get(name).docs(Path(data_dir))
            index.items_per_benchmark[name] = len(docs)
            for doc in docs:
                for key in QUESTION_FIELDS.get(name, ()):
                    if isinstance(doc.get(key), str):
                        index.add(doc[key], f"{name}/{doc['doc_id']}")
                        for line in doc[key].splitlines():  # a code task's tests are its identity
                            if line.lstrip().startswith(TEST_LINE_PREFIXES):
                                index.add(line, f"{name}/{doc['doc_id']}", MIN_TEST_WORDS)
                if "task_id" in doc:
                    index.task_ids.add(f"{name}/{doc['task_id']}")
        return index

    def find(self, text: str) -> list[str]:
        """Labels of the indexed items whose whole question occurs in ``text``."""
        words = normalize(text)
        found = []
        for start in range(len(words)):
            for n in self.key_lengths:
                for item, label in self.by_key.get(tuple(words[start:start + n]), ()):
                    if tuple(words[start:start + len(item)]) == item:
                        found.append(label)
        return sorted(set(found))

    def contains(self, text: str) -> bool:
        """Whether some indexed item's question occurs in ``text``."""
        return bool(self.find(text))
