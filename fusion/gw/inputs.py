"""Validation of the inputs every GW function takes: graphs (..., n, n), node weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from fusion.graphs import require

ArrayLike = Tensor | np.ndarray


def to_tensor(x: ArrayLike | Any, name: str) -> Tensor:
    if isinstance(x, Tensor):
        t = x
    else:
        t = torch.as_tensor(np.asarray(x, dtype=np.float64))
    if not torch.is_floating_point(t):
        t = t.to(torch.float64)
    # One cheap reduction (any NaN/inf makes the sum non-finite); the element-wise check
    # runs only to confirm on CPU. On a GPU the check is queued, never synchronised.
    if t.device.type == "cpu":
        if not torch.isfinite(t.sum()) and not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    else:
        require(torch.isfinite(t).all(), f"{name} contains NaN or infinite values")
    return t


def check_graph(C: ArrayLike, name: str = "C") -> Tensor:
    """Validate a graph matrix (..., n, n): finite, square, non-empty; returns a tensor."""
    t = to_tensor(C, name)
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{name} must be a square matrix (..., n, n); got shape {tuple(t.shape)}")
    if t.shape[-1] == 0:
        raise ValueError(f"{name} is an empty graph (n = 0)")
    return t


def check_weights(p: ArrayLike | None, n: int, like: Tensor, name: str = "p") -> Tensor:
    """Node weights: uniform when ``None``; otherwise non-negative with a positive sum,
    rescaled to sum to 1 (a probability distribution over the n nodes)."""
    if p is None:
        shape = like.shape[:-2] + (n,) if like.ndim >= 2 else (n,)
        return torch.full(shape, 1.0 / n, dtype=like.dtype, device=like.device)
    w = to_tensor(p, name).to(dtype=like.dtype, device=like.device)
    if w.shape[-1] != n:
        raise ValueError(f"{name} has {w.shape[-1]} weights for a graph of {n} nodes")
    require((w >= 0).all(), f"{name} has negative node weights")
    total = w.sum(dim=-1, keepdim=True)
    require((total > 0).all(), f"{name} sums to zero: node weights must have positive mass")
    return w / total


def weights_are_uniform(w: Tensor) -> bool:
    """Whether normalised node weights are uniform (to 1e-12 relative): explicit uniform
    weights must get the same treatment as omitted ones (the brute-force oracle)."""
    n = w.shape[-1]
    return bool(torch.allclose(w.double(), torch.full_like(w.double(), 1.0 / n), rtol=1e-12, atol=0.0))
