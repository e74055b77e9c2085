"""Per-subtask rows of results.json in lm-eval's group/subtask layout.

BBH's 27 tasks and MMLU's 57 subjects (plus lm-eval's four MMLU categories) become rows
next to the benchmark's own, as lm-eval writes them for its ``mmlu`` / ``bbh`` groups:

- ``results``: ``"mmlu"`` (alias ``mmlu``), ``"mmlu_stem"`` (alias ``" - stem"``),
  ``"mmlu_abstract_algebra"`` (alias ``"  - abstract_algebra"``), ...;
- ``groups``: the group rows again; ``group_subtasks``: group -> member names;
- ``n-samples`` / ``versions`` / ``higher_is_better``: one entry per leaf subtask.

A group's value is the size-weighted mean of its members (lm-eval's
``weight_by_size: True`` for ``mmlu`` and ``bbh``), i.e. the mean over its items; we
compute it, and its standard error, exactly over those items (lm-eval's pooled stderr
approximates the same number from the members' stderrs).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from evaluations.base import ScoredSample

Aggregate = Callable[[str, list[ScoredSample]], dict[str, float]]


@cache
def mmlu_category(subject: str) -> str:
    """lm-eval's MMLU category of ``subject`` (``stem``, ``humanities``, ``social_sciences``,
    ``other``), read from its installed task YAML (``tag: mmlu_<category>_tasks``)."""
    from evaluations.benchmarks._lm_eval_prompts import task_config

    tag = task_config(f"mmlu/default/mmlu_{subject}.yaml")["tag"]
    return tag.removeprefix("mmlu_").removesuffix("_tasks")


def subtask_layout(
    benchmark: str,
    metric: str,
    samples: list[ScoredSample],
    subtask_of: dict[str, str | None],
    version: float,
    aggregate: Aggregate,
) -> dict[str, Any]:
    """The extra results.json entries for a benchmark with subtasks (empty without).

    ``subtask_of`` maps doc id -> subtask name; MMLU subtasks are grouped by category.
    """
    members: dict[str, list[ScoredSample]] = {}
    for s in samples:
        sub = subtask_of.get(s.doc_id)
        if sub:
            members.setdefault(sub, []).append(s)
    if not members:
        return {}
    out: dict[str, Any] = {"results": {}, "groups": {}, "group_subtasks": {}, "n-samples": {}, "versions": {},
                           "higher_is_better": {}}

    def leaf(sub: str, depth: int) -> str:
        name = f"{benchmark}_{sub}"
        out["results"][name] = {"alias": " " * depth + f"- {sub}",
                                **aggregate(metric, members[sub])}
        out["n-samples"][name] = {"original": len(members[sub]), "effective": len(members[sub])}
        out["versions"][name] = version
        out["higher_is_better"][name] = {k.split(",")[0]: True for k in out["results"][name]
                                         if k != "alias" and "_stderr" not in k}
        return name

    if benchmark == "mmlu":
        by_category: dict[str, list[str]] = {}
        for sub in sorted(members):
            by_category.setdefault(mmlu_category(sub), []).append(sub)
        for category in sorted(by_category):
            group = f"mmlu_{category}"
            items = [s for sub in by_category[category] for s in members[sub]]
            out["results"][group] = {"alias": f" - {category}", **aggregate(metric, items)}
            out["higher_is_better"][group] = {k.split(",")[0]: True for k in out["results"][group]
                                              if k != "alias" and "_stderr" not in k}
            out["groups"][group] = out["results"][group]
            out["group_subtasks"][group] = [leaf(sub, 2) for sub in by_category[category]]
            out["versions"][group] = version
        out["group_subtasks"][benchmark] = [f"mmlu_{c}" for c in sorted(by_category)]
    else:
        out["group_subtasks"][benchmark] = [leaf(sub, 1) for sub in sorted(members)]
    return out
