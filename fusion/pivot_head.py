"""What the loss reads from the pivot, computed two ways: from its logits (unfused) or from
its final hidden states and head weight without materialising the logits (fused).

Both return a :class:`PivotHead`: the response cross-entropy and, at the distillation
positions (``batch["distill_pos"]``), the top-k logits, their token ids and the
full-vocabulary logsumexp. The WD and GLD terms (``fusion.trainer.fusion_terms``) consume
only this, so the two paths give the same loss and gradients (tests/test_fused_head.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor

from fusion.fused_head import chunked_head_terms
from fusion.graphs import TopK, require
from fusion.losses import response_cross_entropy

NO_RESPONSE = "no response tokens in the batch: cross-entropy is undefined"


@dataclass
class PivotHead:
    """``ce`` (scalar): mean response cross-entropy; ``top`` (B, L, k): top-k *logits* and
    ids at the distillation positions; ``lse`` (B, L): their full-vocabulary logsumexp.
    ``top``/``lse`` are None when no distillation term needs them."""

    ce: Tensor
    top: TopK | None = None
    lse: Tensor | None = None


def head_from_logits(logits: Tensor, batch: dict[str, Any], k: int | None) -> PivotHead:
    """The unfused path: ``logits`` (B, T, V) in any float dtype (upcast to fp32 once);
    ``k=None`` skips the top-k and logsumexp."""
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    ce = response_cross_entropy(logits, batch["labels"])
    if k is None:
        return PivotHead(ce)
    pos, mask = batch["distill_pos"], batch["distill_mask"]
    # Top-k over the window of positions that holds every response (a view: no (B, T, V)
    # copy, and the prompt rows before it are skipped), then pick the rows.
    lo = int(pos[mask].min()) if bool(mask.any()) else 0
    hi = int(pos.max()) + 1
    window = logits[:, lo:hi]
    top_logits, ids = torch.topk(window, k, dim=-1)
    require(torch.isfinite(top_logits).all(), "logits contain NaN or infinite values")
    lse = torch.logsumexp(window, dim=-1)
    where = (pos - lo).clamp(0, hi - lo - 1)
    gather_k = where.unsqueeze(-1).expand(-1, -1, k)
    top = TopK(torch.gather(top_logits, 1, gather_k), torch.gather(ids, 1, gather_k).detach())
    return PivotHead(ce, top, torch.gather(lse, 1, where))


def head_from_hidden(
    hidden: Tensor,
    weight: Tensor,
    batch: dict[str, Any],
    k: int | None,
    *,
    chunk_rows: int | None = None,
    compute_dtype: torch.dtype | None = None,
) -> PivotHead:
    """The fused path: ``hidden`` (B, T, H) are the states the head ``weight`` (V, H)
    projects (the decoder's final, normed output). Only the rows that predict a response
    token or are distilled go through :func:`fusion.fused_head.chunked_head_terms`; one
    host sync (the row selection) per call."""
    labels = batch["labels"]
    bsz, length, width = hidden.shape
    # Row b·T + t predicts labels[b, t + 1]; the last position predicts nothing.
    targets = torch.cat([labels[:, 1:], labels.new_full((bsz, 1), -100)], dim=1).reshape(-1)
    needed = targets != -100
    require(needed.any(), NO_RESPONSE)
    if k is not None:
        pos, mask = batch["distill_pos"], batch["distill_mask"]
        flat_pos = (pos + length * torch.arange(bsz, device=pos.device).unsqueeze(1)).reshape(-1)
        needed = needed.clone()
        needed[flat_pos[mask.reshape(-1)]] = True
    rows = needed.nonzero().squeeze(1)
    terms = chunked_head_terms(hidden.reshape(-1, width).index_select(0, rows), weight, targets[rows],
                               0 if k is None else k, chunk_rows=chunk_rows, compute_dtype=compute_dtype)
    valid = targets[rows] != -100
    ce = terms.nll.sum() / valid.sum()
    if k is None:
        return PivotHead(ce)
    row_of = torch.zeros(bsz * length, dtype=torch.long, device=rows.device)
    row_of[rows] = torch.arange(rows.numel(), device=rows.device)
    idx = torch.where(mask, row_of[flat_pos].view(bsz, -1), torch.zeros_like(pos))  # padding: any kept row
    return PivotHead(ce, TopK(terms.top_logits[idx], terms.top_ids[idx]), terms.lse[idx])


def fused_head_unsupported(model: torch.nn.Module) -> str | None:
    """Why ``model`` (an unwrapped causal LM) cannot use the fused head, or None: the head
    must be a bias-free ``nn.Linear`` applied to the decoder's output with nothing after it
    (no final logit soft-capping or logit scaling)."""
    # cast: nn.Module types dynamic attributes as Tensor | Module; these are transformers methods
    head = cast(Any, model).get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if not isinstance(head, torch.nn.Linear) or head.bias is not None:
        return "its output head is not a bias-free nn.Linear"
    if getattr(model, "base_model", model) is model:
        return "it has no separate decoder (base_model) whose output the head projects"
    config = getattr(model, "config", None)
    if getattr(config, "final_logit_softcapping", None) is not None:
        return "it soft-caps its final logits"
    for name in ("logit_scale", "logits_scaling", "output_multiplier_scale"):
        if getattr(config, name, 1.0) not in (None, 1, 1.0):
            return f"it scales its logits ({name})"
    return None


def forward_hidden(model: torch.nn.Module, unwrapped: torch.nn.Module, **inputs: Any) -> tuple[Tensor, Tensor]:
    """Run ``model`` (possibly DDP/accelerate-wrapped; ``unwrapped`` is the bare causal
    LM) so that its head projects only the last position (``logits_to_keep=1``: a (B, 1, V)
    tensor), and return the decoder's final hidden states (B, T, H) — captured by a hook
    on ``unwrapped.base_model`` — and the head weight (V, H). Calling the wrapper's
    forward (not the decoder directly) keeps DDP's gradient synchronisation intact."""
    captured: list[Tensor] = []

    def keep(_module: torch.nn.Module, _args: Any, output: Any) -> None:
        captured.append(output[0] if isinstance(output, tuple) else output.last_hidden_state)

    bare = cast(Any, unwrapped)  # a transformers causal LM: base_model, get_output_embeddings()
    handle = bare.base_model.register_forward_hook(keep)
    try:
        model(**inputs, logits_to_keep=1, use_cache=False)
    finally:
        handle.remove()
    if len(captured) != 1:
        raise RuntimeError(f"expected one decoder output, the hook saw {len(captured)}")
    return captured[0], bare.get_output_embeddings().weight
