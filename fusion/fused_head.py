"""The pivot's vocabulary projection, chunked: per-position cross-entropy, full-vocabulary
logsumexp and top-k logits without ever materialising the (N, V) logits.

:func:`chunked_head_terms` runs ``hidden @ weightᵀ`` over chunks of rows; each chunk's
logits live only while that chunk is processed (forward: logsumexp, target logit, top-k;
backward: recomputed, turned into the logit gradient and contracted with the weight and
the hidden states). Gradients are exact: with ``p = softmax(z)`` of a row,

    ∂/∂z [ a·nll + b·lse + Σ_j c_j·z_{id_j} ] = (a + b)·p − a·onehot(target) + Σ_j c_j·onehot(id_j)

(``nll = lse − z_target``; the top-k *logits* carry their own gradient, and any quantity the
losses build from them and from ``lse`` — e.g. ``prob = exp(logit − lse)`` — gets its
gradient through both outputs by autograd outside this function).

Why not Liger-Kernel: its fused linear cross-entropy (and its chunked-loss base) computes
the input and weight gradients *inside the forward*, which is possible only when the loss
of a chunk is known there. Here the logsumexp and top-k feed WD and GLD, and GLD is a
function of a whole sequence's top-k (the node union and sorting over every position), so
the per-row upstream gradients exist only after the forward — the backward must recompute
the chunk's logits (one extra ``hidden @ weightᵀ``, cheap next to the step).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from fusion.graphs import require

#: Default size of one chunk's fp32 logits (rows x vocab x 4 bytes).
DEFAULT_CHUNK_BYTES = 512 * 2**20


class HeadTerms(NamedTuple):
    """Per-row outputs of :func:`chunked_head_terms` (N rows).

    ``nll`` (N,) fp32: ``lse − z_target`` (0 where the target is ignored); ``lse`` (N,)
    fp32: ``logsumexp`` of the row's logits over the full vocabulary; ``top_logits``
    (N, k) fp32, descending; ``top_ids`` (N, k) int64 (constants for autograd).
    """

    nll: Tensor
    lse: Tensor
    top_logits: Tensor
    top_ids: Tensor


def default_chunk_rows(vocab: int, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Rows per chunk so that one chunk's fp32 logits take about ``chunk_bytes``."""
    return max(1, chunk_bytes // (4 * vocab))


def chunked_head_terms(
    hidden: Tensor,
    weight: Tensor,
    targets: Tensor,
    k: int,
    *,
    chunk_rows: int | None = None,
    compute_dtype: torch.dtype | None = None,
    ignore_index: int = -100,
) -> HeadTerms:
    """Cross-entropy, logsumexp and top-k of ``hidden @ weightᵀ`` per row, in chunks.

    ``hidden`` (N, H), ``weight`` (V, H) (the head's, no bias), ``targets`` (N,) token ids
    or ``ignore_index``. The matmul runs in ``compute_dtype`` (default: the weight's;
    pass ``torch.bfloat16`` to match a bf16-autocast ``lm_head``); logsumexp, the target
    logit and the outputs are fp32 (fp64 when computing in fp64). ``chunk_rows`` defaults
    to :func:`default_chunk_rows`. Top-k selection is on the compute-dtype logits, the
    same values an unfused ``topk`` of the upcast logits sees.
    """
    if hidden.ndim != 2 or weight.ndim != 2 or hidden.shape[1] != weight.shape[1]:
        raise ValueError(f"hidden (N, H) and weight (V, H) expected; got {tuple(hidden.shape)}, {tuple(weight.shape)}")
    if targets.shape != hidden.shape[:1]:
        raise ValueError(f"targets must be (N,) = ({hidden.shape[0]},); got {tuple(targets.shape)}")
    vocab = weight.shape[0]
    if not 0 <= k <= vocab:
        raise ValueError(f"k={k} must be between 0 (no top-k) and the vocabulary size {vocab}")
    rows = chunk_rows or default_chunk_rows(vocab)
    if rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {rows}")
    dtype = compute_dtype or weight.dtype
    nll, lse, top, ids = _ChunkedHead.apply(hidden, weight, targets, k, rows, dtype, ignore_index)
    return HeadTerms(nll, lse, top, ids)


def _accum_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)


class _ChunkedHead(torch.autograd.Function):
    """Autograd of :func:`chunked_head_terms` (forward and the exact backward above)."""

    @staticmethod
    def forward(ctx, hidden, weight, targets, k, rows, dtype, ignore_index):
        acc = _accum_dtype(dtype)
        w = weight.to(dtype)
        n = hidden.shape[0]
        nll = hidden.new_empty(n, dtype=acc)
        lse = hidden.new_empty(n, dtype=acc)
        top = hidden.new_empty(n, k, dtype=acc)
        ids = torch.empty(n, k, dtype=torch.long, device=hidden.device)
        valid = targets != ignore_index
        safe_targets = torch.where(valid, targets, torch.zeros_like(targets))
        for lo in range(0, n, rows):
            hi = min(n, lo + rows)
            logits = hidden[lo:hi].to(dtype) @ w.T  # (c, V) in the compute dtype
            if k:
                top_c, ids[lo:hi] = torch.topk(logits, k, dim=-1)
                top[lo:hi] = top_c.to(acc)
            target_logit = torch.gather(logits, 1, safe_targets[lo:hi, None]).squeeze(1).to(acc)
            lse[lo:hi] = torch.logsumexp(logits.to(acc), dim=-1)
            nll[lo:hi] = torch.where(valid[lo:hi], lse[lo:hi] - target_logit, torch.zeros_like(target_logit))
            del logits
        # topk keeps NaN and +inf (they compare largest): checking the kept entries catches them.
        require(torch.isfinite(top).all() & torch.isfinite(lse).all(), "logits contain NaN or infinite values")
        ctx.save_for_backward(hidden, w, safe_targets, valid, lse, ids)
        ctx.rows, ctx.dtype, ctx.weight_dtype = rows, dtype, weight.dtype
        ctx.mark_non_differentiable(ids)
        return nll, lse, top, ids

    @staticmethod
    def backward(ctx, d_nll, d_lse, d_top, _d_ids):
        hidden, w, targets, valid, lse, ids = ctx.saved_tensors
        rows, dtype = ctx.rows, ctx.dtype
        acc = _accum_dtype(dtype)
        n = hidden.shape[0]
        zeros = lse.new_zeros(n)
        a = torch.where(valid, d_nll, zeros) if d_nll is not None else zeros  # dL/dnll (ignored rows: 0)
        b = d_lse if d_lse is not None else zeros
        grad_h = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        grad_w = torch.zeros(w.shape, dtype=acc, device=w.device) if ctx.needs_input_grad[1] else None
        for lo in range(0, n, rows):
            hi = min(n, lo + rows)
            h = hidden[lo:hi].to(dtype)
            g = (h @ w.T).to(acc)  # recomputed logits, then turned into dL/dz in place
            g.sub_(lse[lo:hi, None]).exp_().mul_((a[lo:hi] + b[lo:hi])[:, None])  # (a + b)·p
            g.scatter_add_(1, targets[lo:hi, None], -a[lo:hi, None])  # − a·onehot(target)
            if d_top is not None and ids.shape[1]:
                g.scatter_add_(1, ids[lo:hi], d_top[lo:hi].to(acc))  # + Σ c_j·onehot(id_j)
            g = g.to(dtype)
            if grad_h is not None:
                grad_h[lo:hi] = (g @ w).to(hidden.dtype)
            if grad_w is not None:
                grad_w += (g.T @ h).to(acc)
            del g, h
        return grad_h, None if grad_w is None else grad_w.to(ctx.weight_dtype), None, None, None, None, None
