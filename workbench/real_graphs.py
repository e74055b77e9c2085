"""Real-model graph pairs for ``workbench bounds --real``: the co-activation graphs of a
pivot and a source on the same examples, from their actual logits (DESIGN §2.2)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

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


def real_graph_pairs_from_cli(pivot: str, source: str, data: Path | None, limit: int) -> list[GraphPair]:
    """``workbench bounds --real``: the first ``limit`` examples of ``data`` (default: the
    deterministic demo set of ``fusion.demo_data``), default graph options."""
    from fusion.data import load_examples

    if limit < 1:
        raise ValueError(f"--pairs={limit} must be positive")
    if data is not None:
        examples = load_examples(data)[:limit]
    else:
        examples = demo_as_examples(limit)
    return real_graph_pairs(examples, ModelRef(name="pivot", spec=pivot), ModelRef(name="source", spec=source),
                            family=f"real:{Path(pivot).name}|{Path(source).name}")


def demo_as_examples(n: int, seed: int = 0) -> list[Example]:
    """The first ``n`` examples of the deterministic demo set (``fusion.demo_data``)."""
    from fusion.demo_data import demo_examples

    return [Example(id=d["id"], prompt=d.get("prompt") or d["messages"], response=d["response"])
            for d in demo_examples(n, seed)]
