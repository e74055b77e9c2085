"""Shared fixtures of the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from app_fixtures import DATA_DIR, REPO, run_cli, write_predictions


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
