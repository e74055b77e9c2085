"""Session fixture for the app tests: a runs root produced by the project's own commands.

``workbench bounds`` (two small families), ``workbench fuse`` with configs/tiny.yaml (data and
teacher cache redirected into a temp folder; 4 steps, a checkpoint every 2),
``workbench eval --predictions`` twice (gold answers / half wrong answers, rendered by
each benchmark's own ``gold_output`` / ``wrong_output`` from the real data), ``workbench
eval --run`` on the tiny run's checkpoints, ``workbench diagnose --checkpoints`` on it.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app.py"
DATA_DIR = Path(os.environ.get("WORKBENCH_DATA_DIR", REPO.parent / "shared" / "benchmarks"))
PREDICTION_BENCHMARKS = ("gsm8k", "arc", "mmlu")
PREDICTION_ITEMS = 6


def run_cli(*args: object) -> None:
    """Run one ``workbench`` sub-command in-process; fail the test on a non-zero exit."""
    from workbench.cli import main

    argv = [str(a) for a in args]
    assert main(argv) == 0, f"workbench {' '.join(argv)} failed"


def write_predictions(folder: Path) -> tuple[Path, Path]:
    """``gold.jsonl`` (every answer right) and ``mixed.jsonl`` (every odd item wrong)."""
    from evaluations import registry

    rng = random.Random(0)
    gold, mixed = folder / "gold.jsonl", folder / "mixed.jsonl"
    with gold.open("w") as g, mixed.open("w") as m:
        for name in PREDICTION_BENCHMARKS:
            bench = registry.get(name)
            for i, doc in enumerate(bench.docs(DATA_DIR, limit=PREDICTION_ITEMS)):
                right = bench.gold_output(doc)
                g.write(json.dumps({"benchmark": name, "doc_id": doc["doc_id"], "output": right}) + "\n")
                output = right if i % 2 == 0 else bench.wrong_output(doc, rng)
                m.write(json.dumps({"benchmark": name, "doc_id": doc["doc_id"], "output": output}) + "\n")
    return gold, mixed


@pytest.fixture(scope="session")
def app_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs root holding a bounds report, a tiny fusion run with evaluations and
    diagnostics, and two prediction evaluations."""
    root = tmp_path_factory.mktemp("app-root")
    work = tmp_path_factory.mktemp("app-work")
    run_cli("bounds", "--out", root / "bounds", "--families", "random-psd,coact-row-normalized", "--pairs", 3,
            "--max-n", 10, "--restarts", 2)

    cfg = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    cfg["data"]["path"] = str(work / "demo-32.jsonl")
    cfg["cache"]["dir"] = str(work / "cache")
    cfg["output_dir"] = str(root / "tiny")
    cfg["training"]["save_steps"] = 2
    (work / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    run_cli("fuse", "--config", work / "tiny.yaml", "--output-dir", root / "tiny", "--max-steps", 4)

    gold, mixed = write_predictions(work)
    for predictions in (gold, mixed):
        run_cli("eval", "--predictions", predictions, "--out", root / "evals", "--data-dir", DATA_DIR)
    run_cli("eval", "--run", root / "tiny", "--benchmarks", "gsm8k", "--limit", 2, "--max-gen-toks", 8,
            "--batch-size", 2, "--data-dir", DATA_DIR)
    run_cli("diagnose", "--checkpoints", root / "tiny", "--out", root / "tiny" / "diagnostics", "--limit", 2,
            "--k", 4, "--max-response-tokens", 8, "--restarts", 1, "--export", 1, "--top-n", 10)
    return root
