"""A fusion training set from the *train* splits of the evaluation benchmarks.

Why: the demo set is self-generated and tiny; a fusion run whose effect is measured on
GSM8K, ARC and MBPP should train on the same task distributions — but never on an item it
is evaluated on. Every example's prompt is the evaluation's own paper-style prompt for that
task (so the fused model learns the answer format the scorer reads) and its response is
the split's reference solution:

* ``gsm8k``: ``gsm8k/train.jsonl`` (7,473): the reference solution with its calculator
  annotations ``<<…>>`` removed, ending in ``The final answer is \\boxed{N}.``;
* ``arc``: ``arc_challenge/ARC-Challenge-Train.jsonl`` (1,119) and ``-Dev.jsonl`` (299):
  ``"<letter>. <choice text>"`` (the template asks for the option first);
* ``mbpp``: ``mbpp/mbpp.jsonl`` task ids 601–974 (MBPP's train split): the reference code
  in a markdown block, EvalPlus's instruction and prompt layout.

:func:`build_train_set` then drops every example that :mod:`workbench.contamination` finds in
an evaluated item (MBPP+ re-uses many MBPP train tasks) and reports what it dropped.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from fusion.data import Example

TRAIN_SETS: tuple[str, ...] = ("gsm8k", "arc", "mbpp")
MBPP_TRAIN_IDS = range(601, 975)  # MBPP's own split: 1-10 prompt, 11-510 test, 511-600 validation, 601-974 train
_CALCULATOR = re.compile(r"<<[^<>]*>>")


def _gsm8k(data_dir: Path) -> list[Example]:
    """GSM8K train problems with their reference solutions (see the module docstring)."""
    from evaluations.benchmarks._files import read_jsonl
    from evaluations.benchmarks.gsm8k import GSM8K

    bench = GSM8K()
    path = Path(data_dir) / "gsm8k" / "train.jsonl"
    out = []
    for i, rec in enumerate(read_jsonl(path, "gsm8k-train", "gsm8k/train.jsonl (JSONL: question, answer)",
                                       ("question", "answer"))):
        steps, sep, final = rec["answer"].rpartition("####")
        if not sep:
            raise ValueError(f"{path}:{i + 1}: answer has no '####'")
        solution = _CALCULATOR.sub("", steps).strip()
        answer = final.strip().replace(",", "")
        doc = {"doc_id": str(i), "question": rec["question"], "gold": answer}
        out.append(Example(f"gsm8k-train-{i}", bench.prompt(doc, "paper"),
                           f"{solution}\nThe final answer is \\boxed{{{answer}}}."))
    return out


def _arc(data_dir: Path) -> list[Example]:
    """ARC-Challenge train and dev questions answered ``"<letter>. <text>"``."""
    from evaluations.benchmarks._choice import LETTERS
    from evaluations.benchmarks.arc import ARCChallenge

    bench = ARCChallenge()
    out = []
    for split in ("Train", "Dev"):
        for doc in bench.read_docs(Path(data_dir) / "arc_challenge" / f"ARC-Challenge-{split}.jsonl"):
            text = doc["choices"][LETTERS.index(doc["gold"])]
            out.append(Example(f"arc-{split.lower()}-{doc['doc_id']}", bench.prompt(doc, "paper"),
                               f"{doc['gold']}. {text}"))
    return out


def _mbpp(data_dir: Path) -> list[Example]:
    """MBPP train-split tasks in EvalPlus's prompt layout, answered with the reference code."""
    from evaluations.benchmarks._files import read_jsonl
    from evaluations.benchmarks.mbpp import MBPP

    bench = MBPP()
    path = Path(data_dir) / "mbpp" / "mbpp.jsonl"
    out = []
    for rec in read_jsonl(path, "mbpp-train", "mbpp/mbpp.jsonl (JSONL: task_id, text, code, test_list)",
                          ("task_id", "text", "code", "test_list")):
        if int(rec["task_id"]) not in MBPP_TRAIN_IDS:
            continue
        doc = {"prompt": f'"""\n{rec["text"]}\n{rec["test_list"][0]}\n"""\n'}
        code = rec["code"].replace("\r\n", "\n").strip()
        out.append(Example(f"mbpp-train-{rec['task_id']}", bench.prompt(doc, "paper"), f"```python\n{code}\n```"))
    return out


BUILDERS: dict[str, Callable[[Path], list[Example]]] = {"gsm8k": _gsm8k, "arc": _arc, "mbpp": _mbpp}


def _no_id(example: Example) -> None:
    """Examples of sets whose items carry no evaluation-side task id."""
    return None


# A training example's task id on the evaluation side: MBPP+ keeps MBPP's numbering.
EVAL_IDENTITY: dict[str, Callable[[Example], str | None]] = {
    "mbpp": lambda e: "mbpp/Mbpp/" + e.id.rsplit("-", 1)[1],
}


@dataclass
class TrainSetReport:
    """What :func:`build_train_set` kept and dropped, per set."""

    kept: dict[str, int]
    dropped: dict[str, list[str]]  # set -> ids of examples found in an evaluated item
    checked_against: dict[str, int]  # benchmark -> evaluated items compared with


def build_train_set(
    data_dir: Path,
    sets: list[str] | tuple[str, ...] = TRAIN_SETS,
    max_per_set: int | None = None,
    seed: int = 0,
) -> tuple[list[Example], TrainSetReport]:
    """The examples of ``sets`` (each shuffled by ``seed`` and cut to ``max_per_set``),
    with every example found in an evaluated item of any benchmark removed.

    Raises ``ValueError`` for an unknown set name.
    """
    from workbench.contamination import EvalIndex

    unknown = [s for s in sets if s not in BUILDERS]
    if unknown:
        raise ValueError(f"unknown training set(s) {unknown}; choose from {list(BUILDERS)}")
    index = EvalIndex.from_benchmarks(Path(data_dir))
    examples, kept, dropped = [], {}, {}
    for name in sets:
        candidates = BUILDERS[name](Path(data_dir))
        # cast: the builders' prompts are Benchmark.prompt(doc, "paper") texts, never message lists
        seen = {e.id for e in candidates if index.contains(cast(str, e.prompt))
                or EVAL_IDENTITY.get(name, _no_id)(e) in index.task_ids}
        clean = [e for e in candidates if e.id not in seen]
        dropped[name] = [e.id for e in candidates if e.id in seen]
        random.Random(seed).shuffle(clean)
        clean = clean[:max_per_set] if max_per_set else clean
        kept[name] = len(clean)
        examples += clean
    random.Random(seed).shuffle(examples)  # interleave the tasks within every batch window
    return examples, TrainSetReport(kept, dropped, index.items_per_benchmark)


def write_train_set(path: Path, examples: list[Example]) -> None:
    """Write examples as the trainer's JSONL (``id``, ``prompt``, ``response``), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for e in examples:
            f.write(json.dumps({"id": e.id, "prompt": e.prompt, "response": e.response}, ensure_ascii=False) + "\n")
    tmp.replace(path)
