"""The contract every benchmark implements; engines and the registry only use this.

A benchmark turns official data files into documents, documents into prompts (two
styles: ``paper`` — the InfiGFusion templates — and ``lm-eval`` — lm-eval's own task
prompts), and model outputs into scored samples. Generation is done by an engine
(lm-eval's model backends); scoring always goes through :meth:`Benchmark.score_batch`,
so ``workbench eval --predictions`` re-scores outputs produced elsewhere with exactly the
code used for live runs.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

PromptStyle = Literal["paper", "lm-eval"]
PROMPT_STYLES: tuple[str, ...] = ("paper", "lm-eval")


@dataclass
class ScoredSample:
    """One scored model output: the row written to ``samples.jsonl``."""

    benchmark: str
    doc_id: str
    prompt: str
    output: str
    extracted: Any
    gold: Any
    score: float
    extra: dict[str, Any] = field(default_factory=dict)
    # Content hashes ("generation", "scorer") that decide reuse on resume (evaluations.resume).
    keys: dict[str, str] = field(default_factory=dict)


ROBUST_FILTER = "robust-extract"


def robust_extra(extracted: Any, score: float, **metrics: float) -> dict[str, Any]:
    """``extra["robust"]`` of a sample: our robust extractor's answer and score(s).

    Reported in results.json as ``<metric>,robust-extract`` beside the reference metric
    (lm-eval's filter-name layout); ``metrics`` adds more, e.g. DROP's ``em``.
    """
    return {"extracted": None if extracted is None else str(extracted), "score": float(score),
            **{k: float(v) for k, v in metrics.items()}}


class BenchmarkDataError(ValueError):
    """A missing or malformed data file: names the benchmark, file and expected format."""


class Benchmark(ABC):
    """One benchmark of the paper's suite.

    Subclasses set ``name`` (registry key), ``version``, ``metric`` (headline metric key in
    ``results.json``), ``kind`` (``"generate"``: scored in-process; ``"code"``: scored by
    EvalPlus's sandbox in a batch), ``data_subdir`` (folder under ``--data-dir``) and
    ``expected_files`` (what a user must provide, quoted in errors).
    """

    name: str = ""
    # Bumped whenever prompts or scoring change meaning; recorded in results.json
    # "versions" and folded into the scorer hash that guards resume.
    version: float = 1.0
    metric: str = "exact_match"
    kind: Literal["generate", "code"] = "generate"
    data_subdir: str = ""
    expected_files: str = ""

    @abstractmethod
    def docs(self, data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
        """Load documents from ``data_dir / data_subdir`` in official order.

        Every document has a stable string ``doc_id`` unique within the benchmark.
        Raises :class:`BenchmarkDataError` on a missing or malformed file.
        """

    @abstractmethod
    def prompt(self, doc: dict[str, Any], style: PromptStyle = "paper") -> str:
        """The user-turn text for ``doc`` (before any chat template)."""

    def subtask(self, doc: dict[str, Any]) -> str | None:
        """The subtask ``doc`` belongs to (BBH task, MMLU subject); None without subtasks.

        Drives stratified ``--limit`` sampling and the per-subtask rows of results.json.
        """
        return None

    def generation_kwargs(self, style: PromptStyle = "paper") -> dict[str, Any]:
        """lm-eval ``generation_kwargs`` (greedy by default)."""
        return {"until": [], "do_sample": False, "max_gen_toks": 512}

    @abstractmethod
    def score(self, doc: dict[str, Any], output: str) -> ScoredSample:
        """Extract the answer from ``output`` and score it against the gold answer."""

    def score_batch(self, docs: list[dict[str, Any]], outputs: list[str]) -> list[ScoredSample]:
        """Score many outputs; code benchmarks override this to run one sandboxed batch."""
        return [self.score(doc, out) for doc, out in zip(docs, outputs, strict=True)]

    @abstractmethod
    def gold_output(self, doc: dict[str, Any]) -> str:
        """A response rendered the way a model would write the gold answer (oracle tests)."""

    def wrong_output(self, doc: dict[str, Any], rng: random.Random) -> str:
        """A plausible but (almost always) wrong response, for chance-level oracle tests."""
        return "I do not know."
