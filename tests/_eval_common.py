"""Shared paths for the evaluation tests (real data in ../shared/benchmarks)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("WORKBENCH_DATA_DIR", REPO.parent / "shared" / "benchmarks"))
NLTK_DIR = Path(os.environ.get("NLTK_DATA", REPO.parent / "shared" / "nltk_data"))
MY_BENCHMARKS = ("bbh", "arc", "mmlu", "gsm8k", "math", "theoremqa", "drop", "hellaswag", "ifeval")


def offline_env(**extra: str) -> dict[str, str]:
    """Environment for a ``workbench`` subprocess: offline hub, local NLTK data."""
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", NLTK_DATA=str(NLTK_DIR), TOKENIZERS_PARALLELISM="false")
    env.update(extra)
    return env
