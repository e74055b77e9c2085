"""IFEval scoring through lm-eval's IFEval checkers (Google's instruction registry).

lm-eval's IFEval module downloads NLTK ``punkt_tab`` at import time when it is missing;
we point NLTK at a local copy first (``NLTK_DATA``, else ``../shared/nltk_data`` next to
the repo) and fail with a clear message instead of reaching the network.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nltk

_REPO_ROOT = Path(__file__).resolve().parents[2]


def _ensure_punkt() -> None:
    candidates = [os.environ.get("NLTK_DATA", ""), str(_REPO_ROOT.parent / "shared" / "nltk_data")]
    for path in candidates:
        if path and Path(path).is_dir() and path not in nltk.data.path:
            nltk.data.path.append(path)
    try:
        nltk.data.find("tokenizers/punkt_tab")
    except LookupError as exc:
        raise RuntimeError(
            "IFEval needs NLTK punkt_tab offline: set NLTK_DATA to a folder containing "
            "tokenizers/punkt_tab (e.g. ../shared/nltk_data)"
        ) from exc


_ensure_punkt()

import langdetect  # noqa: E402

# langdetect is randomised; fix its seed so a response always gets the same score.
langdetect.DetectorFactory.seed = 0

from lm_eval.tasks.ifeval.utils import process_results  # noqa: E402  (after NLTK setup)


def ifeval_scores(doc: dict[str, Any], response: str) -> dict[str, Any]:
    """lm-eval's IFEval per-prompt result: prompt/instruction-level strict and loose accuracy."""
    return process_results(doc, [response])
