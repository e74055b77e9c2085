"""Top-k sparsification and co-activation graphs (DESIGN.md §2.1-§2.2).

Two representations of the same graph:

* :func:`coactivation_graph` materialises ``C = Zₖᵀ Zₖ`` (n x n) — for diagnostics only.
* :func:`degree_features` returns the weighted degrees ``s_C = C p`` of a batch of graphs
  without ever forming ``C``: it works on the factor ``Zₖ`` (L x k non-zeros per
  sequence), so its cost is ``O(L·k)`` plus one sort for the node union. This is what the
  training loss (GLD) uses.

Both share :func:`sparse_factor` (the node union and the sparse ``Zₖ``), so the node
definition, the normalisations and the node weights exist once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor

ValueMode = Literal["prob", "logit", "zscore"]
NodeMode = Literal["vocab", "rank"]
NormalizeMode = Literal["rms", "total", "row", "none"]
WeightMode = Literal["uniform", "mass"]

VALUE_MODES: tuple[str, ...] = ("prob", "logit", "zscore")
NODE_MODES: tuple[str, ...] = ("vocab", "rank")
NORMALIZE_MODES: tuple[str, ...] = ("rms", "total", "row", "none")
DEFAULT_NORMALIZE: NormalizeMode = "rms"
WEIGHT_MODES: tuple[str, ...] = ("uniform", "mass")


class TopK(NamedTuple):
    """Kept entries per position: ``values`` (..., L, k) and ``indices`` (..., L, k).

    ``values`` carry gradients; ``indices`` are constants for autograd. Built by
    :func:`topk_sparsify` or directly from a teacher cache.
    """

    values: Tensor
    indices: Tensor


@dataclass
class NodeFeatures:
    """One scalar per node and the node weights, batched and padded.

    ``values`` and ``weights`` are (B, n_max) (or (n,) for a single graph); padded slots
    have weight 0 and never influence a transport cost. Weights of each graph sum to 1.
    """

    values: Tensor
    weights: Tensor


@dataclass
class CoactivationGraph:
    """A materialised co-activation graph: ``matrix`` (n x n), ``node_ids`` (n,) and
    ``weights`` (n,). ``node_ids`` are vocabulary token ids (``nodes="vocab"``) or rank
    slots 0..k-1 (``nodes="rank"``)."""

    matrix: Tensor
    node_ids: Tensor
    weights: Tensor

    @property
    def n(self) -> int:
        """Number of nodes."""
        return int(self.matrix.shape[-1])


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(allowed)}")


def topk_sparsify(logits: Tensor, k: int, value: ValueMode = "prob") -> TopK:
    """Keep the k largest entries per position (DESIGN §2.1).

    ``logits`` is (..., L, V). The kept values are, per ``value``: ``prob`` — the
    full-vocabulary softmax, then the top-k probabilities (non-negative, one scale across
    models); ``logit`` — the raw logits; ``zscore`` — ``(z - mean) / std`` over the k kept
    logits (InfiFusion). Selection is always by the largest logits (softmax is monotone,
    so the three modes keep the same indices). Indices are detached constants.
    """
    _check_choice("value", value, VALUE_MODES)
    if logits.ndim < 2:
        raise ValueError(f"logits must be (..., L, V); got shape {tuple(logits.shape)}")
    vocab = logits.shape[-1]
    if not 1 <= k <= vocab:
        raise ValueError(f"k={k} must be between 1 and the vocabulary size {vocab}")
    top_logits, indices = torch.topk(logits, k, dim=-1)
    # topk keeps NaN and +inf (they compare largest), so checking the kept entries catches
    # them without another pass over the (B, L, V) logits.
    require(torch.isfinite(top_logits).all(), "logits contain NaN or infinite values")
    lse = torch.logsumexp(logits, dim=-1) if value == "prob" else None
    return TopK(values=kept_values(top_logits, lse, value), indices=indices.detach())


def kept_values(top_logits: Tensor, lse: Tensor | None, value: ValueMode) -> Tensor:
    """The §2.1 value transform of kept logits (..., k): ``prob`` — ``exp(z − lse)`` with
    ``lse`` (...) the full-vocabulary logsumexp of the same rows; ``logit`` — ``z``;
    ``zscore`` — ``(z − mean) / std`` over the k kept logits (``lse`` unused)."""
    _check_choice("value", value, VALUE_MODES)
    if value == "prob":
        if lse is None:
            raise ValueError("value='prob' needs the full-vocabulary logsumexp")
        return torch.exp(top_logits - lse.unsqueeze(-1))
    if value == "logit":
        return top_logits
    mean = top_logits.mean(dim=-1, keepdim=True)
    std = top_logits.std(dim=-1, keepdim=True, unbiased=False).clamp_min(1e-6)
    return (top_logits - mean) / std


@dataclass
class SparseFactor:
    """The sparsified matrix ``Zₖ`` of a batch of sequences in coordinate form.

    ``batch``, ``position``, ``node`` and ``value`` list one entry per kept value of every
    position (B·L·k entries, static shapes): ``Zₖ[b][t, node] = value``; entries of masked
    positions carry value 0, so they add nothing. ``node_ids`` (B, n_max) gives each
    node's token id or rank slot (-1 for padding), ``num_nodes`` (B,) the graph sizes.
    """

    batch: Tensor
    position: Tensor
    node: Tensor
    value: Tensor
    node_ids: Tensor
    num_nodes: Tensor
    num_positions: int

    @property
    def batch_size(self) -> int:
        """Number of graphs."""
        return int(self.num_nodes.shape[0])

    @property
    def n_max(self) -> int:
        """Padded graph width: the largest graph on CPU; L·k on GPU (no host sync)."""
        return int(self.node_ids.shape[1])


def require(condition: Tensor, message: str) -> None:
    """Input validation that never stalls a GPU: on CPU a failed ``condition`` raises
    ``ValueError(message)``; on an accelerator the check is queued asynchronously
    (``torch._assert_async``) so the training step keeps CPU and GPU overlapped."""
    if condition.device.type == "cpu":
        if not bool(condition):
            raise ValueError(message)
    else:
        torch._assert_async(condition, message)


def sparse_factor(topk: TopK, *, mask: Tensor | None = None, nodes: NodeMode = "vocab") -> SparseFactor:
    """Build ``Zₖ`` for a batch from top-k entries (DESIGN §2.2 node definitions).

    ``topk`` fields are (B, L, k) (a single (L, k) sequence is treated as B = 1); ``mask``
    (B, L) selects the response positions. ``nodes="vocab"``: nodes are the union of token
    ids kept at any valid position of that sequence (sorted by id); ``nodes="rank"``: the k
    rank slots after sorting each position's kept values in descending order.

    Every shape is static (the node union comes from one row-wise sort, not
    ``torch.unique``), so on a GPU this runs without a host synchronisation; on CPU the
    padding is trimmed to the largest graph.
    """
    _check_choice("nodes", nodes, NODE_MODES)
    values, indices = topk.values, topk.indices
    if values.shape != indices.shape:
        raise ValueError(f"top-k values {tuple(values.shape)} and indices {tuple(indices.shape)} differ in shape")
    if values.ndim == 2:
        values, indices = values.unsqueeze(0), indices.unsqueeze(0)
        mask = None if mask is None else mask.unsqueeze(0)
    if values.ndim != 3:
        raise ValueError(f"top-k entries must be (B, L, k) or (L, k); got {tuple(values.shape)}")
    bsz, length, k = values.shape
    device = values.device
    if mask is None:
        mask = torch.ones(bsz, length, dtype=torch.bool, device=device)
    if mask.shape != (bsz, length):
        raise ValueError(f"mask must be (B, L) = {(bsz, length)}; got {tuple(mask.shape)}")
    mask = mask.to(device=device, dtype=torch.bool)
    require(torch.isfinite(values).all(), "top-k values contain NaN or infinite values")
    require(mask.any(dim=1).all(), "empty graph: a sequence has no valid position")

    keep = mask.unsqueeze(-1).expand(bsz, length, k)
    if nodes == "rank":
        values, _ = torch.sort(values, dim=-1, descending=True)
        node = torch.arange(k, device=device).expand(bsz, length, k)
        node_ids = torch.arange(k, device=device).expand(bsz, k).clone()
        num_nodes = torch.full((bsz,), k, dtype=torch.long, device=device)
    else:
        # Node union per sequence: sort each row's kept ids (masked entries get a sentinel
        # that sorts last); the first occurrence of each id opens a new node.
        sentinel = torch.iinfo(torch.long).max
        keys = torch.where(keep, indices.long(), torch.full_like(indices, sentinel, dtype=torch.long)).view(bsz, -1)
        sorted_keys, order = torch.sort(keys, dim=-1)
        previous = torch.cat([torch.full_like(sorted_keys[:, :1], -1), sorted_keys[:, :-1]], dim=1)
        first = (sorted_keys != previous) & (sorted_keys != sentinel)
        rank = torch.cumsum(first, dim=1) - 1
        node = torch.empty_like(rank).scatter_(1, order, rank.clamp_min(0)).view(bsz, length, k)
        num_nodes = first.sum(dim=1)
        width = length * k
        # Non-first entries are written to a spare column that is dropped afterwards.
        slot = torch.where(first, rank, torch.full_like(rank, width))
        node_ids = torch.full((bsz, width + 1), -1, dtype=torch.long, device=device)
        node_ids = node_ids.scatter(1, slot, torch.where(first, sorted_keys, torch.full_like(sorted_keys, -1)))
        node_ids = node_ids[:, :width]
        if device.type == "cpu":
            node_ids = node_ids[:, : max(int(num_nodes.max()), 1)]
    value = values * keep.to(values.dtype)
    batch = torch.arange(bsz, device=device).view(bsz, 1, 1).expand(bsz, length, k)
    position = (torch.arange(bsz * length, device=device).view(bsz, length, 1)).expand(bsz, length, k)
    return SparseFactor(
        batch=batch.reshape(-1),
        position=position.reshape(-1),
        node=node.reshape(-1),
        value=value.reshape(-1),
        node_ids=node_ids,
        num_nodes=num_nodes,
        num_positions=bsz * length,
    )


def _node_weights(factor: SparseFactor, weights: WeightMode) -> Tensor:
    """Node weights (B, n_max): ``uniform`` = 1/n; ``mass`` ∝ Σ_t |Zₖ[t, i]|. Padding 0."""
    _check_choice("weights", weights, WEIGHT_MODES)
    bsz, n_max = factor.batch_size, factor.n_max
    valid = factor.node_ids >= 0
    if weights == "uniform":
        w = valid.to(factor.value.dtype) / factor.num_nodes.unsqueeze(1).to(factor.value.dtype)
        return w
    mass = torch.zeros(bsz * n_max, dtype=factor.value.dtype, device=factor.value.device)
    mass = mass.index_add(0, factor.batch * n_max + factor.node, factor.value.abs())
    mass = mass.view(bsz, n_max)
    total = mass.sum(dim=1, keepdim=True)
    require((total > 0).all(), "weights='mass' needs non-zero activations in every graph")
    return mass / total


def _factor_matvec(factor: SparseFactor, x: Tensor) -> Tensor:
    """``Zₖᵀ (Zₖ x)`` per graph for x (B, n_max): the product ``(ZₖᵀZₖ) x`` in O(L·k)."""
    bsz, n_max = factor.batch_size, factor.n_max
    x_at = x.reshape(-1)[factor.batch * n_max + factor.node]
    zx = torch.zeros(factor.num_positions, dtype=x.dtype, device=x.device)
    zx = zx.index_add(0, factor.position, factor.value * x_at)  # (B*L,) = Zₖ x
    out = torch.zeros(bsz * n_max, dtype=x.dtype, device=x.device)
    out = out.index_add(0, factor.batch * n_max + factor.node, factor.value * zx[factor.position])
    return out.view(bsz, n_max)


def degree_features(
    topk: TopK,
    *,
    mask: Tensor | None = None,
    nodes: NodeMode = "vocab",
    normalize: NormalizeMode = DEFAULT_NORMALIZE,
    weights: WeightMode = "uniform",
) -> NodeFeatures:
    """Weighted degrees ``s_C(i) = Σ_k p_k C_ik`` of each sequence's co-activation graph,
    computed as ``Zₖᵀ(Zₖ p)`` without materialising ``C`` (DESIGN §2.2, §2.4).

    Normalisations of ``C = ZₖᵀZₖ``: ``rms`` (default) divides C by the root-mean-square
    of its weighted degrees, ``sqrt(Σ_i p_i s_C(i)²)`` (see :func:`rms_degree_scale`), so
    the degrees have unit weighted second moment whatever n, k, L or the value scale;
    ``total`` divides by ``Σ_ik C_ik = ‖Zₖ 1‖²`` (mean degree exactly 1/n² under uniform
    weights); ``row`` divides row i by ``r_i = (Zₖᵀ Zₖ 1)_i`` (so every uniform-weight
    degree is 1/n — the degree carries no information there); ``none`` keeps ``C``.
    Returns padded, batched :class:`NodeFeatures`; differentiable w.r.t. ``topk.values``.
    Equal to ``node_features(coactivation_graph(...).matrix, p, "degree")`` (tested).
    """
    _check_choice("normalize", normalize, NORMALIZE_MODES)
    factor = sparse_factor(topk, mask=mask, nodes=nodes)
    p = _node_weights(factor, weights)
    degree = _factor_matvec(factor, p)
    if normalize == "rms":
        degree = degree / rms_degree_scale(degree, p)
    elif normalize != "none":
        # Row sums r = ZₖᵀZₖ 1 serve both: ``total`` divides by Σ_i r_i, ``row`` by r_i.
        row_sums = _factor_matvec(factor, (factor.node_ids >= 0).to(p.dtype))
        scale = row_sums.sum(dim=1, keepdim=True) if normalize == "total" else row_sums
        degree = degree / _safe_denominator(scale)
    single = topk.values.ndim == 2
    values = degree.masked_fill(factor.node_ids < 0, 0.0)
    return NodeFeatures(values=values[0] if single else values, weights=p[0] if single else p)


def rms_degree_scale(degree: Tensor, p: Tensor) -> Tensor:
    """The ``rms`` normalisation's divisor ``‖s_C‖_p = sqrt(Σ_i p_i s_C(i)²)`` per graph
    (DESIGN §2.2), shape (..., 1) for degrees and weights (..., n).

    Dividing C by it divides every degree by it (``s_{C/a} = s_C / a``), so the normalised
    degrees satisfy ``Σ_i p_i s(i)² = 1``: for non-negative graphs both degree
    distributions then live on [0, ∞) with unit second moment and
    ``ĝ₂ = E X² + E Y² − 2 E[XY] ∈ [0, 2]`` under the monotone coupling. A graph whose
    degrees are all zero keeps its (zero) scale instead of dividing by zero.
    """
    second_moment = (p * degree * degree).sum(dim=-1, keepdim=True)
    return _safe_denominator(second_moment).sqrt()


def check_degree_options(value: str, normalize: str, weights: str) -> None:
    """Refuse the graph options under which the degree feature (the one GLD and the
    bounds use) is constant, so GLD would be zero or round-off (DESIGN §2.2):

    * ``normalize="row"`` with ``weights="uniform"``: every degree is exactly 1/n, so GLD
      is identically 0 with zero gradient;
    * ``value="zscore"`` with ``weights="uniform"``: z-scores sum to 0 at every position,
      so ``Zₖ 1 = 0`` and every degree ``Zₖᵀ(Zₖ 1)/n`` is 0; any normalisation then
      divides round-off by round-off.

    With ``weights="mass"`` both combinations give informative degrees and are allowed.
    Raises ``ValueError`` naming the combination and why.
    """
    _check_choice("value", value, VALUE_MODES)
    _check_choice("normalize", normalize, NORMALIZE_MODES)
    _check_choice("weights", weights, WEIGHT_MODES)
    if weights != "uniform":
        return
    if normalize == "row":
        raise ValueError("normalize='row' with weights='uniform' makes every degree exactly 1/n: GLD would be "
                         "identically 0 with zero gradient; use normalize='rms' (the default) or weights='mass'")
    if value == "zscore":
        raise ValueError("value='zscore' with weights='uniform' makes every degree 0 (z-scores sum to 0 at each "
                         "position): GLD would compare round-off; use value='prob' (the default) or 'logit', "
                         "or weights='mass'")


def _safe_denominator(x: Tensor) -> Tensor:
    """Replace zeros by ones so all-zero rows/graphs stay zero instead of NaN."""
    return torch.where(x == 0, torch.ones_like(x), x)


def normalize_graph(matrix: Tensor, normalize: NormalizeMode, weights: Tensor | None = None) -> Tensor:
    """Normalise a dense graph (DESIGN §2.2): ``rms`` (÷ ``sqrt(Σ_i p_i s_C(i)²)`` with
    node weights ``weights``, uniform when omitted), ``total`` (÷ sum of entries), ``row``
    (row-stochastic), ``none``. All-zero rows/graphs stay zero."""
    _check_choice("normalize", normalize, NORMALIZE_MODES)
    if normalize == "rms":
        n = matrix.shape[-1]
        p = torch.full(matrix.shape[:-1], 1.0 / n, dtype=matrix.dtype, device=matrix.device) if weights is None \
            else weights.to(matrix.dtype)
        degree = (matrix @ p.unsqueeze(-1)).squeeze(-1)
        return matrix / rms_degree_scale(degree, p).unsqueeze(-1)
    if normalize == "total":
        return matrix / _safe_denominator(matrix.sum(dim=(-2, -1), keepdim=True))
    if normalize == "row":
        return matrix / _safe_denominator(matrix.sum(dim=-1, keepdim=True))
    return matrix


def coactivation_graph(
    logits: Tensor,
    k: int,
    *,
    value: ValueMode = "prob",
    nodes: NodeMode = "vocab",
    normalize: NormalizeMode = DEFAULT_NORMALIZE,
    weights: WeightMode = "uniform",
    mask: Tensor | None = None,
) -> CoactivationGraph:
    """Materialise the co-activation graph ``C = Σ_t z_t z_tᵀ = ZₖᵀZₖ`` of one sequence
    (DESIGN §2.2) from its logits (L, V) at the response positions (``mask`` (L,)).

    For diagnostics only: the training loss uses :func:`degree_features`.
    """
    if logits.ndim != 2:
        raise ValueError(f"coactivation_graph takes one sequence's logits (L, V); got {tuple(logits.shape)}")
    topk = topk_sparsify(logits, k, value=value)
    return graph_from_topk(topk, mask=mask, nodes=nodes, normalize=normalize, weights=weights)


def graph_from_topk(
    topk: TopK,
    *,
    mask: Tensor | None = None,
    nodes: NodeMode = "vocab",
    normalize: NormalizeMode = DEFAULT_NORMALIZE,
    weights: WeightMode = "uniform",
) -> CoactivationGraph:
    """Materialise one sequence's co-activation graph from its top-k entries (L, k)."""
    if topk.values.ndim != 2:
        raise ValueError("graph_from_topk takes one sequence's top-k entries (L, k)")
    factor = sparse_factor(topk, mask=None if mask is None else mask, nodes=nodes)
    n = int(factor.num_nodes[0])
    dense = torch.zeros(factor.num_positions, n, dtype=factor.value.dtype, device=factor.value.device)
    dense = dense.index_put((factor.position, factor.node), factor.value, accumulate=True)
    p = _node_weights(factor, weights)[0, :n]
    matrix = normalize_graph(dense.T @ dense, normalize, p)
    return CoactivationGraph(matrix=matrix, node_ids=factor.node_ids[0, :n], weights=p)
