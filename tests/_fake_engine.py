"""An engine stand-in that "generates" each document's gold rendering (no model).

Plumbing tests (subsets, per-subtask results, resume) need outputs whose scores are
known without a model: ``Benchmark.gold_output`` scores 1 by the oracle tests.
"""

from __future__ import annotations

from typing import Any

from evaluations.base import Benchmark, ScoredSample


class GoldEngine:
    """``run`` like :class:`LMEvalEngine.run`, answering with gold (or ``wrong`` for some ids)."""

    def __init__(self, wrong_ids: set[str] | None = None) -> None:
        self.wrong_ids = wrong_ids or set()
        self.calls: list[list[str]] = []

    def run(self, bench: Benchmark, docs: list[dict[str, Any]], style: str = "paper") -> list[ScoredSample]:
        """Score gold outputs (``"I do not know."`` for ``wrong_ids``) for ``docs``."""
        import random

        self.calls.append([d["doc_id"] for d in docs])
        outputs = [bench.wrong_output(d, random.Random(0)) if d["doc_id"] in self.wrong_ids else bench.gold_output(d)
                   for d in docs]
        samples = bench.score_batch(docs, outputs)
        for doc, sample in zip(docs, samples):
            sample.prompt = bench.prompt(doc, style)
        return samples
