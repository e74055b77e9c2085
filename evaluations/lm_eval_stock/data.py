"""The shared benchmark files as local Hugging Face datasets in the stock tasks' schemas.

lm-eval's stock tasks read hub datasets (``allenai/ai2_arc``, ``cais/mmlu``, ...). Each
converter here turns the official local files into the same configs, splits and fields,
and :func:`materialize` writes them as a local dataset folder (one JSONL per config and
split, configs declared in ``README.md`` the way hub datasets declare them), so a stock
task only needs ``dataset_path`` pointed at that folder; its own ``dataset_name`` still
picks the config. The folder is content-addressed: the same rows give the same folder.

Every converter also returns, per config, our doc ids in test-split order (lm-eval's doc
index ``i`` of that config is our doc ``ids[config][i]``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluations.base import BenchmarkDataError
from evaluations.benchmarks._files import read_json, read_jsonl, require

Rows = list[dict[str, Any]]


@dataclass
class LocalData:
    """A converted dataset: ``configs[config][split] = rows``; ``ids[config]`` = our doc
    ids of the evaluated split's rows, in order; ``caveat``: what the files cannot give."""

    configs: dict[str, dict[str, Rows]]
    ids: dict[str, list[str]]
    caveat: str | None = None


def _arc(data_dir: Path) -> LocalData:
    root = data_dir / "arc_challenge"
    expected = "arc_challenge/ARC-Challenge-{Train,Dev,Test}.jsonl (AI2 JSONL)"
    splits: dict[str, Rows] = {}
    for split, name in (("train", "Train"), ("validation", "Dev"), ("test", "Test")):
        rows = []
        for rec in read_jsonl(root / f"ARC-Challenge-{name}.jsonl", "arc", expected, ("id", "question", "answerKey")):
            choices = rec["question"]["choices"]
            rows.append({"id": rec["id"], "question": rec["question"]["stem"],
                         "choices": {"text": [c["text"] for c in choices], "label": [c["label"] for c in choices]},
                         "answerKey": rec["answerKey"]})
        splits[split] = rows
    return LocalData({"ARC-Challenge": splits}, {"ARC-Challenge": [r["id"] for r in splits["test"]]})


def _mmlu(data_dir: Path) -> LocalData:
    import pyarrow.parquet as pq

    configs: dict[str, dict[str, Rows]] = {}
    for split, stem in (("test", "test"), ("validation", "validation"), ("dev", "dev")):
        path = require(data_dir / "mmlu" / f"{stem}-00000-of-00001.parquet", "mmlu",
                       f"mmlu/{stem}-00000-of-00001.parquet (cais/mmlu 'all')")
        for row in pq.read_table(path, columns=["question", "subject", "choices", "answer"]).to_pylist():
            row["choices"] = list(row["choices"])
            configs.setdefault(row["subject"], {}).setdefault(split, []).append(row)
    ids = {s: [f"{s}/{i}" for i in range(len(splits.get("test", [])))] for s, splits in configs.items()}
    return LocalData(configs, ids)


HELLASWAG_CAVEAT = (
    "HellaSwag: the shared file is a derived text dump ('activity_label: ctx', ctx = ctx_a + ' ' + ctx_b "
    "as stored) without ctx_a/ctx_b, so lm-eval's query 'activity_label: ' + ctx_a + ' ' + ctx_b.capitalize() "
    "cannot be rebuilt: the stock task runs on ctx_a = the stored ctx and ctx_b = '' (the first letter of "
    "ctx_b keeps its stored case, e.g. '... on a roof. he' where lm-eval has '... on a roof. He'). The file has "
    "no train split, so training_split is set to null (the task is 0-shot: no example is drawn from it)."
)


def _hellaswag(data_dir: Path) -> LocalData:
    from evaluations.benchmarks._choice import LETTERS
    from evaluations.benchmarks.hellaswag import HellaSwag

    rows, ids = [], []
    for doc in HellaSwag().docs(data_dir):
        label, ctx = doc["ctx"].split(": ", 1) if ": " in doc["ctx"] else ("", doc["ctx"])
        rows.append({"ind": int(doc["doc_id"]), "activity_label": label, "ctx_a": ctx, "ctx_b": "", "ctx": ctx,
                     "endings": doc["choices"], "label": str(LETTERS.index(doc["gold"]))})
        ids.append(doc["doc_id"])
    return LocalData({"default": {"validation": rows}}, {"default": ids}, HELLASWAG_CAVEAT)


def _gsm8k(data_dir: Path) -> LocalData:
    expected = "gsm8k/{train,test}.jsonl (question, answer)"
    splits = {s: [{"question": r["question"], "answer": r["answer"]}
                  for r in read_jsonl(data_dir / "gsm8k" / f"{s}.jsonl", "gsm8k", expected, ("question", "answer"))]
              for s in ("train", "test")}
    return LocalData({"main": splits}, {"main": [str(i) for i in range(len(splits["test"]))]})


def _bbh(data_dir: Path) -> LocalData:
    from evaluations.benchmarks.bbh import TASKS

    configs, ids = {}, {}
    for task in TASKS:
        data = read_json(data_dir / "bbh" / f"{task}.json", "bbh", "bbh/<task>.json ({'examples': [{input, target}]})")
        examples = data.get("examples") if isinstance(data, dict) else None
        if not isinstance(examples, list):
            raise BenchmarkDataError(f"bbh: {data_dir / 'bbh' / f'{task}.json'}: no 'examples' list")
        configs[task] = {"test": [{"input": e["input"], "target": e["target"]} for e in examples]}
        ids[task] = [f"{task}/{i}" for i in range(len(examples))]
    return LocalData(configs, ids)


# MATH "type" -> EleutherAI/hendrycks_math config (minerva_math_<x>.yaml dataset_name)
MATH_CONFIGS = {"Algebra": "algebra", "Counting & Probability": "counting_and_probability",
                "Geometry": "geometry", "Intermediate Algebra": "intermediate_algebra",
                "Number Theory": "number_theory", "Prealgebra": "prealgebra", "Precalculus": "precalculus"}


def _math(data_dir: Path) -> LocalData:
    configs: dict[str, dict[str, Rows]] = {}
    ids: dict[str, list[str]] = {}
    expected = "math/test.jsonl (problem, level, type, solution)"
    for i, rec in enumerate(read_jsonl(data_dir / "math" / "test.jsonl", "math", expected, ("problem", "solution"))):
        config = MATH_CONFIGS.get(rec.get("type", ""))
        if config is None:
            raise BenchmarkDataError(f"math: test.jsonl:{i + 1}: unknown type {rec.get('type')!r}; expected one of "
                                     f"{', '.join(MATH_CONFIGS)}")
        configs.setdefault(config, {}).setdefault("test", []).append(
            {k: rec.get(k, "") for k in ("problem", "level", "type", "solution")})
        ids.setdefault(config, []).append(str(rec.get("idx", i)))
    return LocalData(configs, ids, "MATH: the shared data has no train split, so training_split is set to null "
                                   "(minerva_math's 4 few-shot examples come from its own fewshot_config samples).")


CONVERTERS: dict[str, Callable[[Path], LocalData]] = {
    "arc": _arc, "mmlu": _mmlu, "hellaswag": _hellaswag, "gsm8k": _gsm8k, "bbh": _bbh, "math": _math,
}


def convert(benchmark: str, data_dir: Path) -> LocalData:
    """The local files of ``benchmark`` in its stock task's dataset schema."""
    return CONVERTERS[benchmark](Path(data_dir))


def _jsonl(rows: Rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)


def materialize(data: LocalData, root: Path) -> Path:
    """Write ``data`` as a local dataset folder under ``root`` (named by its content hash)
    and return it; an existing complete folder is reused."""
    files = {f"{c}/{s}.jsonl": _jsonl(rows) for c, splits in data.configs.items() for s, rows in splits.items()}
    lines = ["---", "configs:"]
    for config, splits in data.configs.items():
        lines += [f"- config_name: {json.dumps(config)}", "  data_files:"]
        lines += [f"  - split: {s}\n    path: {json.dumps(f'{config}/{s}.jsonl')}" for s in splits]
    files["README.md"] = "\n".join([*lines, "---", "Local copy of shared benchmark files (workbench)."]) + "\n"
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    folder = Path(root) / digest
    if (folder / ".complete").is_file():
        return folder
    tmp = Path(root) / f".{digest}.tmp{os.getpid()}"
    for name, text in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(text, encoding="utf-8")
    (tmp / ".complete").write_text(digest + "\n", encoding="utf-8")
    try:
        os.replace(tmp, folder)
    except OSError:  # another process finished the same folder first
        if not (folder / ".complete").is_file():
            raise
    return folder
