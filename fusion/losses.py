"""Loss terms of the fusion objective (DESIGN §2.6-2.7).

* :func:`response_cross_entropy` — SFT cross-entropy on the pivot's response tokens.
* :func:`aligned_wd` — token-level sorted-probability distance (WD / ULD) on aligned
  position pairs; the distance itself is ``fusion.gw.paper_sorted_distance`` with order 1
  (the paper's ``WD̃ = Σ_{i≤d'} |f_t↓(i) − f_s↓(i)|``), not re-implemented here.
* :func:`gld` — graph-on-logits distillation: ``sorting_gw`` between the degree features
  of the pivot's and a source's co-activation graphs, per sequence; never materialises the
  n×n graph (``fusion.graphs.degree_features`` works in O(L·k)).
* :func:`fusion_objective` — ``L = (1−λ)·CE + λ·Σ_s w_s (α·WD_s + β·GLD_s)``.
* :func:`source_topk` — turns cached source entries (top-k log-probs + logsumexp) into a
  :class:`TopK` in any ``value`` mode, truncated by position to the loss's k.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from fusion.graphs import (
    DEFAULT_NORMALIZE,
    NodeFeatures,
    NodeMode,
    NormalizeMode,
    TopK,
    ValueMode,
    WeightMode,
    degree_features,
    topk_sparsify,
)
from fusion.gw import paper_sorted_distance, sorting_gw
from fusion.gw.sorting import SortMode


def response_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean next-token cross-entropy over the positions whose label is not -100.

    ``logits`` (B, T, V) predict token t+1 at position t; ``labels`` (B, T) hold the
    target ids on response tokens and -100 elsewhere (prompt, padding).
    """
    # Half-precision logits are upcast for a stable log-softmax; fp64 stays fp64.
    shifted_logits = logits[:, :-1, :].to(torch.promote_types(logits.dtype, torch.float32))
    shifted_labels = labels[:, 1:]
    if not (shifted_labels != -100).any():
        raise ValueError("no response tokens in the batch: cross-entropy is undefined")
    return F.cross_entropy(
        shifted_logits.reshape(-1, shifted_logits.shape[-1]), shifted_labels.reshape(-1), ignore_index=-100
    )


def source_topk(logprobs: Tensor, indices: Tensor, lse: Tensor, value: ValueMode, k: int | None = None) -> TopK:
    """A cached source's kept entries as a :class:`TopK` in ``value`` mode, keeping the
    first ``k`` cached entries (all when ``None``).

    The cache stores the top-k **log-probabilities** (fp16) and the full-vocabulary
    ``logsumexp`` of the logits (fp32) per position, sorted by the fp32 logits, which
    recovers every mode exactly: ``prob = exp(logprob)``; the top-k logits are
    ``logprob + lse``, from which ``logit`` and ``zscore`` come through ``topk_sparsify``
    (both need only the kept logits). ``logprobs``/``indices`` are (B, L, k_cache), ``lse``
    (B, L).

    Truncation is by position (:func:`truncate_sorted_topk`) and happens *before* the
    value transform, so ``zscore`` standardises over exactly the k entries the loss keeps
    and fp16 ties at the k/k+1 boundary cannot change which entries those are.
    """
    kept = truncate_sorted_topk(TopK(logprobs, indices), logprobs.shape[-1] if k is None else k)
    logprobs, indices = kept.values.float(), kept.indices.long()
    if value == "prob":
        return TopK(values=logprobs.exp(), indices=indices)
    top_logits = logprobs + lse.float().unsqueeze(-1)
    transformed = topk_sparsify(top_logits, top_logits.shape[-1], value=value)
    return TopK(values=transformed.values, indices=torch.gather(indices, -1, transformed.indices))


def truncate_sorted_topk(topk: TopK, k: int) -> TopK:
    """The first k of entries already sorted in descending order (a teacher cache's, which
    are sorted by the fp32 logits). Truncating by position rather than re-ranking the
    stored (fp16) values keeps the fp32 order: fp16 rounding can tie the k-th and
    (k+1)-th entries, and a re-rank would then pick either."""
    width = topk.values.shape[-1]
    if not 1 <= k <= width:
        raise ValueError(f"cannot keep k={k} of {width} cached entries per position")
    if k == width:
        return topk
    return TopK(values=topk.values[..., :k], indices=topk.indices[..., :k])


def aligned_wd(
    pivot_probs: Tensor,
    source_probs: Tensor,
    align_index: Tensor,
    align_weight: Tensor,
) -> Tensor:
    """Token-level WD per sequence on aligned positions (DESIGN §2.6).

    ``pivot_probs`` (B, L, k) and ``source_probs`` (B, Ls, k') are the kept top-k
    probabilities at the response positions; ``align_index``/``align_weight`` (B, L, M)
    pair pivot position i with source positions (weights ``1/|J_i|``, 0 for padding, see
    ``fusion.align``). For each pair the distance is ``Σ_r |p↓(r) − q↓(r)|`` (sorted,
    zero-padded); a pivot position's value is the weighted mean over its partners, and a
    sequence's value is the mean over its pivot positions that have a partner. Returns (B,);
    a sequence with no aligned position contributes 0.
    """
    bsz, length, width = align_index.shape
    gathered = torch.gather(
        source_probs.unsqueeze(1).expand(bsz, length, *source_probs.shape[1:]),
        2,
        align_index.unsqueeze(-1).expand(bsz, length, width, source_probs.shape[-1]),
    )  # (B, L, M, k')
    p = pivot_probs[:, :length].unsqueeze(2).expand(bsz, length, width, pivot_probs.shape[-1])
    valid_p = torch.ones_like(p, dtype=torch.bool)
    valid_q = torch.ones_like(gathered, dtype=torch.bool)
    pair = paper_sorted_distance(p, gathered.to(p.dtype), valid_p, valid_q, order=1)  # (B, L, M)
    per_position = (pair * align_weight.to(pair.dtype)).sum(-1)  # (B, L)
    aligned = align_weight.sum(-1) > 0
    count = aligned.sum(-1)
    total = (per_position * aligned).sum(-1)
    return torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total))


def gld(
    pivot: TopK,
    pivot_mask: Tensor,
    source: TopK,
    source_mask: Tensor,
    *,
    nodes: NodeMode = "vocab",
    normalize: NormalizeMode = DEFAULT_NORMALIZE,
    weights: WeightMode = "uniform",
    order: int = 2,
    mode: SortMode = "quantile",
) -> Tensor:
    """Graph-on-logits distillation per sequence (DESIGN §2.7): ``ĝ(C_pivot, C_s)`` =
    ``sorting_gw`` of the two co-activation graphs' degree features. Each side's graph is
    built over its own response positions (``*_mask`` (B, L)) and vocabulary; the graphs
    never appear densely. Returns (B,). (One source of :func:`gld_sources`.)"""
    return gld_sources(pivot, pivot_mask, [(source, source_mask)], nodes=nodes, normalize=normalize,
                       weights=weights, order=order, mode=mode)[0]


def gld_sources(
    pivot: TopK,
    pivot_mask: Tensor,
    sources: list[tuple[TopK, Tensor]],
    *,
    nodes: NodeMode = "vocab",
    normalize: NormalizeMode = DEFAULT_NORMALIZE,
    weights: WeightMode = "uniform",
    order: int = 2,
    mode: SortMode = "quantile",
) -> Tensor:
    """GLD of the pivot against every source at once: returns (S, B).

    The pivot's degree features are computed once; the sources' graphs (padded to one
    length, padding masked out) go through ``degree_features`` and ``sorting_gw`` as one
    batch of S·B graphs — the same values as S separate calls, with S times fewer kernel
    launches (the GLD path is launch-bound: its arithmetic is O(L·k)).

    The value mode is not an argument (``pivot``/``sources`` carry transformed values), so
    :func:`fusion.graphs.check_degree_options` is the caller's job (the config does it).
    """
    fp = degree_features(pivot, mask=pivot_mask, nodes=nodes, normalize=normalize, weights=weights)
    length = max(topk.values.shape[1] for topk, _ in sources)

    def pad(x: Tensor) -> Tensor:
        widths = [0, 0] * (x.ndim - 2) + [0, length - x.shape[1]]
        return torch.nn.functional.pad(x, widths)

    values = torch.cat([pad(t.values) for t, _ in sources])
    indices = torch.cat([pad(t.indices) for t, _ in sources])
    masks = torch.cat([pad(m.to(torch.bool)) for _, m in sources])
    fs = degree_features(TopK(values, indices), mask=masks, nodes=nodes, normalize=normalize, weights=weights)
    count = len(sources)
    fp_all = NodeFeatures(values=fp.values.repeat(count, 1), weights=fp.weights.repeat(count, 1))
    return sorting_gw(fp_all, fs, order=order, mode=mode).view(count, -1)


def fusion_objective(
    ce: Tensor,
    wd: Mapping[str, Tensor],
    gld_terms: Mapping[str, Tensor],
    source_weights: Mapping[str, float],
    *,
    lam: float,
    alpha: float,
    beta: float,
) -> Tensor:
    """``L = (1−λ)·CE + λ·Σ_s w_s (α·WD_s + β·GLD_s)`` (DESIGN §2.7).

    ``wd``/``gld_terms`` map source names to batch-mean scalars; a source missing from one
    of them contributes 0 for that term (it is switched off).
    """
    zero = ce.new_zeros(())
    distill = zero
    for name, w in source_weights.items():
        term = alpha * wd.get(name, zero) + beta * gld_terms.get(name, zero)
        distill = distill + w * term
    return (1.0 - lam) * ce + lam * distill
