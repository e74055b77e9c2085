"""lm-eval's output -> our ``samples.jsonl`` rows and ``results.json`` document.

Per item, lm-eval logs one row per filter. We keep one :class:`ScoredSample` per doc
(our doc id, so ``workbench compare`` / ``attribute`` and the app pair items as before):

- ``prompt``: lm-eval's context (description + few-shot examples + doc_to_text);
- multiple choice: ``output`` = the highest-loglikelihood continuation, ``extracted`` =
  its index, ``extra["loglikelihoods"]`` / ``["is_greedy"]`` / ``["continuations"]``;
- generation: ``output`` = the raw generation, ``extracted`` = the headline filter's
  answer, ``extra["filtered"]`` = ``{filter: answer}``;
- ``score``: the headline ``metric,filter`` value; ``extra["metrics"]`` every
  ``"<metric>,<filter>"`` value lm-eval computed for the item.

results.json is lm-eval's own ``results`` / ``groups`` / ``group_subtasks`` /
``configs`` / ``versions`` / ``n-shot`` / ``higher_is_better`` / ``n-samples``, plus a row
under our benchmark name (a copy of lm-eval's top task/group row) for the headline.
"""

from __future__ import annotations

from typing import Any

from evaluations.base import ScoredSample

LM_EVAL_KEYS = ("results", "groups", "group_subtasks", "configs", "versions", "n-shot", "higher_is_better",
                "n-samples")
_NOT_METRICS = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics", "doc_hash",
                "prompt_hash", "target_hash"}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_samples(benchmark: str, metric: str, headline_filter: str, logged: dict[str, list[dict[str, Any]]],
               ids: dict[str, list[str]]) -> list[ScoredSample]:
    """One sample per document from lm-eval's logged ``samples`` (``{task: rows}``);
    ``ids[task][i]`` is our doc id of lm-eval doc ``i`` of ``task``."""
    by_doc: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for task, rows in logged.items():
        for row in rows:
            by_doc.setdefault((task, int(row["doc_id"])), {})[row["filter"]] = row
    out = []
    for (task, index), per_filter in by_doc.items():
        head = per_filter.get(headline_filter) or next(iter(per_filter.values()))
        metrics = {f"{k},{f}": float(v) for f, row in per_filter.items() for k, v in row.items()
                   if k not in _NOT_METRICS and isinstance(v, (int, float, bool))}
        args = [_plain(a) for a in head["arguments"]]
        extra: dict[str, Any] = {"lm_eval": {"task": task, "doc_id": index, "filter": head["filter"]},
                                 "metrics": metrics}
        if len(args) > 1 or (args and isinstance(head["filtered_resps"][0], (list, tuple))):
            lls = [float(r[0]) for r in head["filtered_resps"]]
            best = max(range(len(lls)), key=lls.__getitem__)
            extra.update(loglikelihoods=lls, is_greedy=[bool(r[1]) for r in head["filtered_resps"]],
                         continuations=[a[1] for a in args])
            output, extracted = args[best][1], best
        else:
            extra["filtered"] = {f: _plain(row["filtered_resps"][0]) for f, row in per_filter.items()}
            extra["generation_kwargs"] = args[0][1] if len(args[0]) > 1 else None
            output, extracted = head["resps"][0][0], _plain(head["filtered_resps"][0])
        out.append(ScoredSample(benchmark, ids[task][index], args[0][0], output, extracted, _plain(head["target"]),
                                float(head.get(metric, 0.0)), extra))
    return out


def to_results(benchmark: str, top: str, lm_out: dict[str, Any], n_docs: int) -> dict[str, Any]:
    """lm-eval's result blocks plus a headline row ``results[benchmark]`` (lm-eval's
    ``results[top]``) and ``n-samples[benchmark]`` when lm-eval has none (groups)."""
    doc = {k: lm_out.get(k, {}) for k in LM_EVAL_KEYS}
    doc = {k: dict(v) if isinstance(v, dict) else v for k, v in doc.items()}
    row = dict(doc["results"][top])
    doc["results"][benchmark] = {**row, "alias": benchmark}
    if benchmark not in doc["n-samples"]:
        doc["n-samples"][benchmark] = {"original": n_docs, "effective": n_docs}
    if benchmark != top:
        doc["versions"].setdefault(benchmark, doc["versions"].get(top))
        doc["higher_is_better"].setdefault(benchmark, doc["higher_is_better"].get(top, {}))
    return doc
