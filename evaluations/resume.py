"""Content-aware resume: which stored samples an evaluation may reuse, re-score or redo.

Keyed by content, not by ``doc_id`` alone (see :mod:`evaluations.fingerprint`): a stored
sample is

- **kept** when its prompt equals the prompt rendered now, its ``generation`` hash the
  current one (settings + model, or the prediction's text) and its ``scorer`` hash the
  current scorer's;
- **re-scored** (output kept, no generation) when only the scorer changed;
- **redone** otherwise (a changed prompt, settings, model or prediction).

So a corrected predictions file re-scored into the same ``--out`` is re-scored, and a
changed prompt or scorer never mixes into old samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evaluations.base import ScoredSample


@dataclass
class ResumePlan:
    """What to do with each document of an evaluation."""

    keep: dict[str, ScoredSample] = field(default_factory=dict)
    rescore: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (doc, stored output)
    pending: list[dict[str, Any]] = field(default_factory=list)
    stale: set[str] = field(default_factory=set)  # stored doc ids that must leave samples.jsonl

    def counts(self) -> dict[str, int]:
        """``{"reused": n, "rescored": n, "generated": n}`` (recorded in results.json)."""
        return {"reused": len(self.keep), "rescored": len(self.rescore), "generated": len(self.pending)}


def plan_resume(
    docs: list[dict[str, Any]],
    stored: dict[str, ScoredSample],
    prompt_of: Callable[[dict[str, Any]], str],
    generation_key: Callable[[dict[str, Any]], str],
    scorer: str,
) -> ResumePlan:
    """Sort ``docs`` into keep / re-score / redo against the ``stored`` samples."""
    plan = ResumePlan()
    for doc in docs:
        old = stored.get(doc["doc_id"])
        if old is None:
            plan.pending.append(doc)
            continue
        same_output = old.prompt == prompt_of(doc) and old.keys.get("generation") == generation_key(doc)
        if same_output and old.keys.get("scorer") == scorer:
            plan.keep[doc["doc_id"]] = old
        elif same_output:
            plan.rescore.append((doc, old.output))
            plan.stale.add(doc["doc_id"])
        else:
            plan.pending.append(doc)
            plan.stale.add(doc["doc_id"])
    return plan
