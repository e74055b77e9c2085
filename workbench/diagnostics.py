"""Diagnostics on real logits: token-level WD vs exact GW vs the sorting
approximation, per example, per source and per checkpoint of a run.

For every example each model reads its *own* chat-templated prompt plus the shared
response (``fusion.data.tokenize_example``); the top-k entries of its logits at the
response positions are kept (``fusion.graphs.topk_sparsify``). Then, per (pivot, source):

* WD (DESIGN §2.6) with ``fusion.losses.aligned_wd`` on the character-offset alignment of
  ``fusion.align`` (and, for comparison, ULD's index alignment) — the trainer's own term;
* the two co-activation graphs (``fusion.graphs.graph_from_topk``);
* every number of DESIGN §2.5 from ``workbench.bounds.evaluate_pair`` (exact GW best of R
  starts with certificate, entropic GW, all sorting variants, paper mode, bounds,
  Proposition-1 form, sizes, timings).

Nothing here re-implements a formula: this module only moves tensors between those
functions. Writing tables, figures and the graph export lives in
:mod:`workbench.diagnostics_report`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from fusion.align import align_positions, alignment_tensors
from fusion.data import Example, tokenize_example
from fusion.graphs import CoactivationGraph, TopK, graph_from_topk, topk_sparsify
from fusion.losses import aligned_wd
from workbench.bounds import evaluate_pair
from workbench.graph_families import GraphPair

Tensor = torch.Tensor


@dataclass(frozen=True)
class GraphOptions:
    """How co-activation graphs are built (DESIGN §2.1-2.2); ``k`` is also WD's top-k."""

    k: int = 10
    value: str = "prob"
    nodes: str = "vocab"
    normalize: str = "rms"
    weights: str = "uniform"


@dataclass(frozen=True)
class ModelRef:
    """A model to diagnose: a display ``name``, a spec for ``fusion.models`` (built-in,
    tiny-random, local folder or checkpoint) and an optional chat-template override."""

    name: str
    spec: str
    template: str | None = None
    step: int | None = None


@dataclass
class ResponseTopK:
    """One model's kept logits on one example's response positions.

    ``graph`` holds the top-k entries in the graph's ``value`` mode, ``probs`` the top-k
    probabilities (what WD compares), ``offsets`` the response character spans.
    """

    example_id: str
    graph: TopK
    probs: Tensor
    offsets: list[tuple[int, int]]



@dataclass
class ModelOutputs:
    """All examples' :class:`ResponseTopK` of one model plus its id -> token-string map."""

    ref: ModelRef
    by_id: dict[str, ResponseTopK]
    token_strings: Callable[[Sequence[int]], list[str]] = field(repr=False)


def _token_decoder(tokenizer: Any) -> Callable[[Sequence[int]], list[str]]:
    """Readable token strings (decoded text of each id, so byte-level markers disappear)."""

    def decode(ids: Sequence[int]) -> list[str]:
        return [tokenizer.decode([int(i)]) for i in ids]

    return decode


#: Loaded (model, tokenizer) pairs kept for reuse: loading (Gemma's 262k-token tokenizer
#: above all) costs far more than a forward pass; two entries = one pivot + one source.
MODEL_CACHE_SIZE = 2


@functools.lru_cache(maxsize=MODEL_CACHE_SIZE)
def _load_cached(spec: str, stamp: float) -> tuple[Any, Any]:
    from fusion.models import load_model_and_tokenizer

    return load_model_and_tokenizer(spec, dtype=torch.float32, device="cpu")


def load_model(spec: str) -> tuple[Any, Any]:
    """``fusion.models.load_model_and_tokenizer`` (fp32, CPU, eval), cached per spec; a
    local folder is keyed by its newest file time too, so a rewritten checkpoint reloads."""
    path = Path(spec)
    stamp = max((f.stat().st_mtime for f in path.iterdir()), default=0.0) if path.is_dir() else 0.0
    return _load_cached(str(spec), stamp)


@torch.no_grad()
def model_topk(
    ref: ModelRef,
    examples: Sequence[Example],
    options: GraphOptions,
    *,
    max_prompt_tokens: int = 256,
    max_response_tokens: int = 256,
    progress: bool = True,
) -> ModelOutputs:
    """Forward pass of one model over every example (batch of one, CPU fp32); keep only
    the top-k entries at the response positions, so memory stays O(L·k) per example."""
    model, tokenizer = load_model(ref.spec)
    by_id: dict[str, ResponseTopK] = {}
    for ex in tqdm(examples, desc=f"forward {ref.name}", disable=not progress, leave=False):
        tok = tokenize_example(tokenizer, ex, template=ref.template, max_prompt_tokens=max_prompt_tokens,
                               max_response_tokens=max_response_tokens)
        positions = tok.distill_positions()
        ids = torch.as_tensor([tok.input_ids])
        # Only the positions from the last prompt token on are needed (saves the
        # (T x V) projection of the prompt, which matters for Gemma's 262k vocab).
        keep = len(tok.input_ids) - positions[0]
        logits = model(input_ids=ids, logits_to_keep=keep).logits[0, : len(positions)].float()
        if logits.shape[-1] < options.k:
            raise ValueError(f"k={options.k} exceeds the vocabulary of {ref.name} ({logits.shape[-1]})")
        probs = topk_sparsify(logits, options.k, value="prob")
        graph = probs if options.value == "prob" else topk_sparsify(logits, options.k, value=options.value)  # type: ignore[arg-type]
        by_id[ex.id] = ResponseTopK(ex.id, graph, probs.values, list(tok.response_offsets))
    return ModelOutputs(ref=ref, by_id=by_id, token_strings=_token_decoder(tokenizer))


def example_wd(pivot: ResponseTopK, source: ResponseTopK, alignment: str = "offsets") -> tuple[float, float]:
    """WD of one example (the trainer's ``aligned_wd``) and the fraction of pivot response
    positions that found a partner under ``alignment``."""
    pairs = align_positions(pivot.offsets, source.offsets, alignment)  # type: ignore[arg-type]
    index, weight = alignment_tensors([pairs], len(pivot.offsets))
    wd = aligned_wd(pivot.probs.unsqueeze(0), source.probs.unsqueeze(0).to(pivot.probs.dtype), index, weight)
    aligned = sum(1 for p in pairs if p) / max(len(pairs), 1)
    return float(wd[0]), aligned


def response_graph(entry: ResponseTopK, options: GraphOptions) -> CoactivationGraph:
    """The co-activation graph of one model's response (DESIGN §2.2), in float64."""
    topk = TopK(entry.graph.values.double(), entry.graph.indices)
    return graph_from_topk(topk, nodes=options.nodes, normalize=options.normalize, weights=options.weights)  # type: ignore[arg-type]


def graph_pair(pivot: CoactivationGraph, source: CoactivationGraph, *, family: str, index: int,
               normalize: str, note: str = "") -> GraphPair:
    """Wrap two co-activation graphs as the report's :class:`GraphPair`."""
    return GraphPair(family=family, index=index, C=pivot.matrix.numpy(), D=source.matrix.numpy(),
                     p=pivot.weights.numpy(), q=source.weights.numpy(), normalize=normalize, note=note)


@dataclass
class DiagnosedPair:
    """One (checkpoint, source, example): the table row and, for the graph export, the
    two graphs (``pair`` in pivot -> source orientation; ``swapped`` says whether the GW
    numbers were computed on the swapped pair, see :func:`canonical_orientation`)."""

    row: dict[str, Any]
    pair: GraphPair
    pivot_graph: CoactivationGraph
    source_graph: CoactivationGraph
    swapped: bool = False


def _graph_key(g: CoactivationGraph) -> tuple[float, ...]:
    m = g.matrix.double()
    return (float(g.n), float(m.sum()), float((m * m).sum()), float(m.diagonal().sum()))


def canonical_orientation(pivot: CoactivationGraph, source: CoactivationGraph) -> bool:
    """Whether to compute GW on (source, pivot) instead of (pivot, source).

    GW is symmetric, but the exact solver (POT conditional gradient from a few starts) is
    local: measured here, swapping the two graphs changed best-of-R by a few percent. A
    fixed orientation (the larger graph first, then by entry sums) makes every reported
    number a function of the unordered pair; the solver's inexactness stays visible in
    ``gw_gap``."""
    return _graph_key(source) > _graph_key(pivot)


# Row fields that belong to one side; swapped back after a swapped computation.
_SIDED = (("n", "m"), ("var_C", "var_D"))


def diagnose_pair(
    pivot: ModelOutputs,
    source: ModelOutputs,
    example_id: str,
    index: int,
    options: GraphOptions,
    *,
    restarts: int = 4,
    seed: int = 0,
) -> DiagnosedPair:
    """Every diagnostic number of one example for one (pivot, source) pair."""
    p_entry, s_entry = pivot.by_id[example_id], source.by_id[example_id]
    wd, aligned = example_wd(p_entry, s_entry, "offsets")
    wd_index, _ = example_wd(p_entry, s_entry, "index")
    pg, sg = response_graph(p_entry, options), response_graph(s_entry, options)
    family = f"{pivot.ref.name}|{source.ref.name}"
    pair = graph_pair(pg, sg, family=family, index=index, normalize=options.normalize, note=example_id)
    swapped = canonical_orientation(pg, sg)
    row: dict[str, Any] = {
        "checkpoint": pivot.ref.name,
        "step": pivot.ref.step,
        "pivot": pivot.ref.spec,
        "source": source.ref.name,
        "source_spec": source.ref.spec,
        "example_id": example_id,
        "L_pivot": len(p_entry.offsets),
        "L_source": len(s_entry.offsets),
        "aligned_fraction": aligned,
        "wd": wd,
        "wd_index": wd_index,
        "k": options.k,
        "value": options.value,
        "nodes": options.nodes,
        "weights": options.weights,
    }
    computed = evaluate_pair(oriented_pair(pair, swapped), restarts=restarts, seed=seed)
    if swapped:
        for a, b in _SIDED:
            computed[a], computed[b] = computed[b], computed[a]
    computed.update(family=family, index=index, note=example_id)
    row.update(computed)
    row["gw_orientation"] = "source-pivot" if swapped else "pivot-source"
    return DiagnosedPair(row=row, pair=pair, pivot_graph=pg, source_graph=sg, swapped=swapped)


def oriented_pair(pair: GraphPair, swapped: bool) -> GraphPair:
    """``pair`` itself, or with its two graphs exchanged."""
    if not swapped:
        return pair
    return GraphPair(family=pair.family, index=pair.index, C=pair.D, D=pair.C, p=pair.q, q=pair.p,
                     normalize=pair.normalize, note=pair.note)


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """The complete checkpoints ``run_dir/checkpoints/step-N`` of a run, sorted by step
    (:func:`fusion.checkpoints.is_complete_checkpoint`), each verified against its marker."""
    from fusion.checkpoints import complete_checkpoints, verify_checkpoint

    run_dir = Path(run_dir)
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        raise FileNotFoundError(f"{run_dir}: no checkpoints/ folder (is this a fusion run directory?)")
    found = complete_checkpoints(folder)
    if not found:
        raise FileNotFoundError(f"{folder}: no complete step-N checkpoint (none has checkpoint_complete.json)")
    for _, path in found:
        verify_checkpoint(path)
    return found


def pivot_trajectory(pivot: ModelRef, run_dir: str | Path | None) -> list[ModelRef]:
    """The pivots to diagnose: the starting pivot (step 0), then every checkpoint of
    ``run_dir`` when given (paper Figure 5's trajectory)."""
    refs = [ModelRef(name="step-0" if run_dir else pivot.name, spec=pivot.spec, template=pivot.template, step=0)]
    if run_dir:
        refs += [ModelRef(name=path.name, spec=str(path), template=pivot.template, step=step)
                 for step, path in list_checkpoints(run_dir) if step != 0]
    return refs


def run_diagnostics(
    examples: Sequence[Example],
    pivots: Sequence[ModelRef],
    sources: Sequence[ModelRef],
    options: GraphOptions = GraphOptions(),
    *,
    restarts: int = 4,
    seed: int = 0,
    max_prompt_tokens: int = 256,
    max_response_tokens: int = 256,
    progress: bool = True,
    on_pair: Callable[[DiagnosedPair, ModelOutputs, ModelOutputs], None] | None = None,
) -> list[dict[str, Any]]:
    """Diagnose every example for every (pivot, source); returns the table rows.

    Sources are run once; pivots (checkpoints) one at a time, so only one model is in
    memory. ``on_pair`` sees each :class:`DiagnosedPair` (the graph export hooks in there).
    """
    if not examples:
        raise ValueError("no examples to diagnose")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ValueError(f"source names must be unique, got {names}")
    kw: dict[str, Any] = dict(max_prompt_tokens=max_prompt_tokens, max_response_tokens=max_response_tokens,
                              progress=progress)
    source_out = [model_topk(s, examples, options, **kw) for s in sources]
    rows: list[dict[str, Any]] = []
    total = len(pivots) * len(sources) * len(examples)
    bar = tqdm(total=total, desc="diagnose (example x source x checkpoint)", disable=not progress)
    for pref in pivots:
        pout = model_topk(pref, examples, options, **kw)
        for sout in source_out:
            for i, ex in enumerate(examples):
                diagnosed = diagnose_pair(pout, sout, ex.id, i, options, restarts=restarts, seed=seed)
                rows.append(diagnosed.row)
                if on_pair is not None:
                    on_pair(diagnosed, pout, sout)
                bar.update(1)
    bar.close()
    return rows


def node_ranking(graph: CoactivationGraph) -> np.ndarray:
    """Node order by weighted degree, largest first (ties by token id): the "top nodes"."""
    from fusion.gw import node_features

    degree = node_features(graph.matrix, graph.weights, "degree").numpy()
    ids = graph.node_ids.numpy()
    return np.lexsort((ids, -degree))
