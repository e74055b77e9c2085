"""Alignment of response positions across tokenizers (DESIGN §2.6).

``offsets`` (default): pivot response token i is paired with every source response token
whose character span overlaps its own, ``[a_i, b_i) ∩ [c_j, d_j) ≠ ∅`` (spans from fast
tokenizers' ``offset_mapping``, relative to the response text). Tokens with an empty span
are paired with nothing. When one pivot token overlaps several source tokens, the
token-level loss takes the **mean over those source positions** (uniform weights
``1/|J_i|``) — every overlapping source prediction counts equally, whatever its width.

``index`` (ULD's alignment, for comparison): pivot position i is paired with source
position i while both exist.

Pivot positions with no partner are excluded from the token-level loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor

AlignMode = Literal["offsets", "index"]
Offsets = Sequence[tuple[int, int]] | np.ndarray


def offset_alignment(pivot_offsets: Offsets, source_offsets: Offsets) -> list[list[int]]:
    """For each pivot token, the sorted source token positions whose character spans
    overlap it (half-open spans; empty spans overlap nothing)."""
    p = np.asarray(pivot_offsets, dtype=np.int64).reshape(-1, 2)
    s = np.asarray(source_offsets, dtype=np.int64).reshape(-1, 2)
    if len(p) == 0 or len(s) == 0:
        return [[] for _ in range(len(p))]
    _check_spans(p, "pivot")
    _check_spans(s, "source")
    overlap = (p[:, None, 0] < s[None, :, 1]) & (s[None, :, 0] < p[:, None, 1])
    overlap &= (p[:, 1] > p[:, 0])[:, None]
    overlap &= (s[:, 1] > s[:, 0])[None, :]
    return [np.flatnonzero(row).tolist() for row in overlap]


def index_alignment(num_pivot: int, num_source: int) -> list[list[int]]:
    """ULD's alignment: pivot position i ↔ source position i while both exist."""
    return [[i] if i < num_source else [] for i in range(num_pivot)]


def align_positions(pivot_offsets: Offsets, source_offsets: Offsets, mode: AlignMode = "offsets") -> list[list[int]]:
    """Pair pivot response positions with source response positions by ``mode``."""
    if mode == "offsets":
        return offset_alignment(pivot_offsets, source_offsets)
    if mode == "index":
        return index_alignment(len(pivot_offsets), len(source_offsets))
    raise ValueError(f"alignment={mode!r} is not one of offsets, index")


def alignment_tensors(pairs: Sequence[Sequence[Sequence[int]]], length: int | None = None) -> tuple[Tensor, Tensor]:
    """Pack a batch of alignments into padded tensors.

    ``pairs[b][i]`` lists the source positions of pivot position i in sequence b.
    Returns ``index`` (B, L, M) long (0 where padded) and ``weight`` (B, L, M) float with
    ``1/|J_i|`` on real pairs (the mean aggregation) and 0 elsewhere; L = ``length`` or
    the longest pivot sequence, M = the largest number of partners (at least 1).
    """
    bsz = len(pairs)
    length = max((len(p) for p in pairs), default=0) if length is None else length
    width = max((len(j) for p in pairs for j in p), default=1) or 1
    index = torch.zeros(bsz, length, width, dtype=torch.long)
    weight = torch.zeros(bsz, length, width, dtype=torch.float32)
    for b, seq in enumerate(pairs):
        for i, partners in enumerate(seq[:length]):
            if partners:
                index[b, i, : len(partners)] = torch.as_tensor(list(partners), dtype=torch.long)
                weight[b, i, : len(partners)] = 1.0 / len(partners)
    return index, weight


def _check_spans(spans: np.ndarray, who: str) -> None:
    if (spans < 0).any() or (spans[:, 1] < spans[:, 0]).any():
        raise ValueError(f"{who} offsets must be spans (start <= end, non-negative)")
