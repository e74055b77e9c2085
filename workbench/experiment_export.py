"""The experiment's small outputs, copied to a folder that can be committed and opened by
the app and the report without re-running (``workbench experiment … --export DIR``).

Copied: ``report.md``, ``experiment.json``, ``timings.json``, ``figures/``, ``tables/``,
``data/report.json`` (what contamination dropped; never the training text), each run's
``config.yaml`` / ``config_history.jsonl`` / ``metrics.jsonl``, every evaluation's
``results.json`` and ``samples.jsonl`` — with each sample's ``prompt`` emptied, since a
prompt quotes the benchmark item and benchmark data never goes into a repository (a
multiple-choice sample's options and chosen option too) — and
the diagnostics tables and figures (not the per-graph exports). Checkpoints and the
teacher cache stay behind.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

RUN_FILES = ("config.yaml", "config_history.jsonl", "metrics.jsonl")
TOP_FILES = ("report.md", "experiment.json", "timings.json", "data/report.json")
TOP_FOLDERS = ("figures", "tables")


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _without_item_text(row: dict) -> dict:
    """A sample without benchmark text: the prompt emptied and, for a loglikelihood
    multiple-choice sample (lm-eval's stock ARC, MMLU, HellaSwag), the answer options and
    the ``output`` (which is the chosen option's text) too; scores, gold indices and
    loglikelihoods stay."""
    row = {**row, "prompt": ""}
    extra = row.get("extra")
    if isinstance(extra, dict) and "continuations" in extra:
        row["extra"] = {k: v for k, v in extra.items() if k != "continuations"}
        row["output"] = ""
    return row


def export_outputs(out: Path, dest: Path) -> list[Path]:
    """Copy the small outputs of experiment folder ``out`` to ``dest``; returns the files written."""
    out, dest = Path(out), Path(dest)
    if dest.resolve() == out.resolve():
        raise ValueError(f"--export {dest}: must differ from the experiment folder")
    written = []
    for name in TOP_FILES:
        if (out / name).is_file():
            _copy(out / name, dest / name)
            written.append(dest / name)
    for folder in TOP_FOLDERS:
        for src in sorted((out / folder).glob("*")) if (out / folder).is_dir() else []:
            if src.is_file():
                _copy(src, dest / folder / src.name)
                written.append(dest / folder / src.name)
    for run in sorted((out / "runs").glob("*")) if (out / "runs").is_dir() else []:
        for name in RUN_FILES:
            if (run / name).is_file():
                _copy(run / name, dest / "runs" / run.name / name)
                written.append(dest / "runs" / run.name / name)
    # Unfinished evaluations too (samples, no results.json yet): the report pairs what was scored.
    for samples in sorted((out / "evals").glob("*/*/samples.jsonl")):
        rel = samples.parent.relative_to(out)
        if (samples.parent / "results.json").is_file():
            _copy(samples.parent / "results.json", dest / rel / "results.json")
            written.append(dest / rel / "results.json")
        rows = [json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines() if line.strip()]
        lines = [json.dumps(_without_item_text(row), ensure_ascii=False) for row in rows]
        (dest / rel).mkdir(parents=True, exist_ok=True)
        (dest / rel / "samples.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(dest / rel / "samples.jsonl")
    for src in sorted((out / "diagnostics").glob("*/*")):
        if src.is_file() and not src.name.startswith("graph_"):
            rel = src.relative_to(out)
            _copy(src, dest / rel)
            written.append(dest / rel)
    return written
