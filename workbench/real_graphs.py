"""Real-model graph pairs for ``workbench bounds --real``: the co-activation graphs of a
pivot and a source on the same examples, from their actual logits (DESIGN §2.2)."""

from __future__ import annotations

from collections.abc import Iterable

from fusion.data import Example
from workbench.diagnostics import GraphOptions, ModelRef, graph_pair, model_topk, response_graph
from workbench.graph_families import GraphPair


def real_graph_pairs(
    examples: Iterable[Example],
    pivot: ModelRef,
    source: ModelRef,
    options: GraphOptions = GraphOptions(),
    *,
    family: str = "real",
    progress: bool = True,
) -> list[GraphPair]:
    """One :class:`GraphPair` per example: C from the pivot's response logits, D from the
    source's (each model on its own chat template; no GW is computed here)."""
    examples = list(examples)
    if not examples:
        raise ValueError("no examples for the real-model graph family")
    pout = model_topk(pivot, examples, options, progress=progress)
    sout = model_topk(source, examples, options, progress=progress)
    pairs = []
    for i, ex in enumerate(examples):
        pg = response_graph(pout.by_id[ex.id], options)
        sg = response_graph(sout.by_id[ex.id], options)
        note = f"{ex.id}: {pivot.name} vs {source.name}"
        pairs.append(graph_pair(pg, sg, family=family, index=i, normalize=options.normalize, note=note))
    return pairs
