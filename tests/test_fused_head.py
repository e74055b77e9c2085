"""The fused head (chunked CE + logsumexp + top-k over ``hidden @ Wᵀ``) against the unfused
path on materialised logits: loss terms and gradients w.r.t. the hidden states and the head
weight, in float64 (exact up to summation order), with odd chunk sizes, masked and padded
positions, k larger than the chunk, and ties."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fusion.align import alignment_tensors
from fusion.config import GLDConfig, LossConfig
from fusion.fused_head import chunked_head_terms, default_chunk_rows
from fusion.pivot_head import head_from_hidden
from fusion.trainer import fusion_terms, head_terms

DT = torch.float64
TOL = dict(rtol=1e-10, atol=1e-12)


def _batch(gen: torch.Generator, bsz: int = 2, seq: int = 11, hidden: int = 6, vocab: int = 37,
           src_vocab: int = 50, k: int = 5, sources: int = 2) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Hidden states, a head weight and a batch whose rows differ in prompt length and
    padding: row 0 responds on positions 4..10, row 1 on 6..8 then padding."""
    labels = torch.full((bsz, seq), -100)
    labels[0, 4:] = torch.randint(0, vocab, (seq - 4,), generator=gen)
    labels[1, 6:9] = torch.randint(0, vocab, (3,), generator=gen)
    lr = seq - 4
    pos = torch.zeros(bsz, lr, dtype=torch.long)
    mask = torch.zeros(bsz, lr, dtype=torch.bool)
    pos[0] = torch.arange(3, 3 + lr)
    mask[0] = True
    pos[1, :3] = torch.arange(5, 8)
    mask[1, :3] = True
    teachers = []
    for _ in range(sources):
        ls = 6
        logits = 2 * torch.randn(bsz, ls, src_vocab, generator=gen, dtype=DT)
        top, idx = torch.topk(logits, k, dim=-1)
        lse = torch.logsumexp(logits, dim=-1)
        pairs = [[[j % ls, (j + 1) % ls] for j in range(lr)], [[0], [1, 2], [3]] + [[]] * (lr - 3)]
        ai, aw = alignment_tensors(pairs, lr)
        smask = torch.ones(bsz, ls, dtype=torch.bool)
        smask[1, 4:] = False
        teachers.append({"logprobs": top - lse.unsqueeze(-1), "indices": idx, "lse": lse, "mask": smask,
                         "align_index": ai, "align_weight": aw.to(DT)})
    batch = {"labels": labels, "distill_pos": pos, "distill_mask": mask, "teachers": teachers}
    h = torch.randn(bsz, seq, hidden, generator=gen, dtype=DT)
    w = torch.randn(vocab, hidden, generator=gen, dtype=DT)
    return h, w, batch


def _both(h, w, batch, cfg, chunk_rows):
    """Loss terms and (dL/dh, dL/dW) of the unfused and the fused path."""
    names = [f"s{i}" for i in range(len(batch["teachers"]))]
    weights = {n: 1.0 + i for i, n in enumerate(names)}
    out = []
    for fused in (False, True):
        hh, ww = h.clone().requires_grad_(True), w.clone().requires_grad_(True)
        if fused:
            from fusion.trainer import distill_k
            head = head_from_hidden(hh, ww, batch, distill_k(cfg), chunk_rows=chunk_rows)
            terms = head_terms(head, batch, cfg, names, weights)
        else:
            terms = fusion_terms(hh @ ww.T, batch, cfg, names, weights)
        terms["loss"].backward()
        out.append(({k: v.detach() for k, v in terms.items()}, hh.grad, ww.grad))
    return out


CFGS = {
    "sft": LossConfig(lambda_=0.0, alpha=0.0, beta=0.0, k=5),
    "wd": LossConfig(lambda_=0.5, alpha=1.0, beta=0.0, k=5),
    "wd+gld": LossConfig(lambda_=0.5, alpha=1.0, beta=2.0, k=5),
    "gld-logit": LossConfig(lambda_=0.7, alpha=0.5, beta=1.0, k=5, gld=GLDConfig(value="logit")),
    "gld-zscore": LossConfig(lambda_=0.7, alpha=0.0, beta=1.0, k=5,
                             gld=GLDConfig(value="zscore", nodes="rank", weights="mass")),
}


@pytest.mark.parametrize("chunk_rows", [1, 3, 4, 7, 1000])
@pytest.mark.parametrize("mode", sorted(CFGS))
def test_fused_equals_unfused_float64(mode: str, chunk_rows: int) -> None:
    """Every loss term and both gradients agree to ~1e-12 (float64), for chunk sizes that
    split the kept rows unevenly (1, 3, 4 < k = 5 < 7) or not at all."""
    h, w, batch = _batch(torch.Generator().manual_seed(0))
    (t_ref, gh_ref, gw_ref), (t_fused, gh, gw) = _both(h, w, batch, CFGS[mode], chunk_rows)
    assert t_ref.keys() == t_fused.keys()
    for key in t_ref:
        torch.testing.assert_close(t_fused[key], t_ref[key], **TOL, msg=key)
    assert gh_ref.abs().sum() > 0 and gw_ref.abs().sum() > 0
    torch.testing.assert_close(gh, gh_ref, **TOL)
    torch.testing.assert_close(gw, gw_ref, **TOL)


def test_rows_that_are_neither_trained_nor_distilled_get_no_gradient() -> None:
    """Prompt rows and padding (row 1 after position 8) carry no loss: their hidden-state
    gradient is exactly 0 on the fused path, as on the unfused one."""
    h, w, batch = _batch(torch.Generator().manual_seed(1))
    (_, gh_ref, _), (_, gh, _) = _both(h, w, batch, CFGS["wd+gld"], 3)
    assert gh[0, :3].abs().sum() == 0 and gh[1, :5].abs().sum() == 0 and gh[1, 9:].abs().sum() == 0
    assert gh_ref[1, 9:].abs().sum() == 0


def test_ties_in_the_top_k() -> None:
    """Duplicate head rows give tied logits across the top-k boundary: the kept values are
    equal on both paths and the loss and gradients still agree."""
    h, w, batch = _batch(torch.Generator().manual_seed(2))
    w[10:20] = w[3]  # ten identical vocabulary rows: ten-way ties in every position
    h[..., :] = h.abs()  # make the tied logit large in many rows
    w[3] = w[3].abs() + 1.0
    w[10:20] = w[3]
    (t_ref, gh_ref, gw_ref), (t_fused, gh, gw) = _both(h, w, batch, CFGS["wd+gld"], 3)
    for key in t_ref:
        torch.testing.assert_close(t_fused[key], t_ref[key], **TOL, msg=key)
    torch.testing.assert_close(gh, gh_ref, **TOL)
    torch.testing.assert_close(gw, gw_ref, **TOL)


def test_chunked_head_terms_against_direct_formulas() -> None:
    """Per-row nll / lse / top-k equal F.cross_entropy, logsumexp and topk of the logits, and
    the gradient of an arbitrary combination of the three outputs equals autograd's."""
    gen = torch.Generator().manual_seed(3)
    h = torch.randn(13, 5, generator=gen, dtype=DT, requires_grad=True)
    w = torch.randn(29, 5, generator=gen, dtype=DT, requires_grad=True)
    targets = torch.randint(0, 29, (13,), generator=gen)
    targets[[0, 5, 6]] = -100
    a, b, c = (torch.randn(13, generator=gen, dtype=DT), torch.randn(13, generator=gen, dtype=DT),
               torch.randn(13, 8, generator=gen, dtype=DT))
    out = chunked_head_terms(h, w, targets, 8, chunk_rows=4)
    logits = h @ w.T
    want_nll = F.cross_entropy(logits, targets, reduction="none", ignore_index=-100)
    torch.testing.assert_close(out.nll, want_nll, **TOL)
    torch.testing.assert_close(out.lse, torch.logsumexp(logits, -1), **TOL)
    top, ids = torch.topk(logits, 8, -1)
    torch.testing.assert_close(out.top_logits, top, **TOL)
    assert torch.equal(out.top_ids, ids) and not out.top_ids.requires_grad
    got = torch.autograd.grad((a * out.nll + b * out.lse + (c * out.top_logits).sum(-1)).sum(), (h, w))
    want = torch.autograd.grad((a * want_nll + b * torch.logsumexp(logits, -1) + (c * top).sum(-1)).sum(), (h, w))
    for g_got, g_want in zip(got, want):
        torch.testing.assert_close(g_got, g_want, **TOL)


def test_bfloat16_compute_matches_the_autocast_head() -> None:
    """With ``compute_dtype=bfloat16`` the logits are the bf16 matmul an autocast lm_head
    computes: nll/lse/top-k agree with the unfused fp32-upcast path to bf16 rounding
    (stated tolerance: 2e-2 absolute on logit-scale values, 2 % relative on gradients)."""
    gen = torch.Generator().manual_seed(4)
    h = torch.randn(20, 16, generator=gen, requires_grad=True)
    w = (0.3 * torch.randn(300, 16, generator=gen)).requires_grad_(True)
    targets = torch.randint(0, 300, (20,), generator=gen)
    out = chunked_head_terms(h, w, targets, 4, chunk_rows=6, compute_dtype=torch.bfloat16)
    logits = (h.bfloat16() @ w.bfloat16().T).float()
    torch.testing.assert_close(out.lse, torch.logsumexp(logits, -1), rtol=0, atol=2e-2)
    torch.testing.assert_close(out.top_logits, torch.topk(logits, 4, -1).values, rtol=0, atol=2e-2)
    loss = out.nll.mean() + out.lse.mean() * 0.1
    loss.backward()
    gh = h.grad.clone()
    h.grad = None
    ref = F.cross_entropy(logits, targets) + torch.logsumexp(logits, -1).mean() * 0.1
    ref.backward()
    torch.testing.assert_close(gh, h.grad, rtol=2e-2, atol=2e-3)


def test_errors() -> None:
    h, w = torch.zeros(3, 4), torch.zeros(7, 4)
    with pytest.raises(ValueError, match="k=8"):
        chunked_head_terms(h, w, torch.zeros(3, dtype=torch.long), 8)
    with pytest.raises(ValueError, match="targets"):
        chunked_head_terms(h, w, torch.zeros(2, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="NaN or infinite"):
        chunked_head_terms(h, w.fill_(float("nan")), torch.zeros(3, dtype=torch.long), 2)
    assert default_chunk_rows(152_064) == 512 * 2**20 // (4 * 152_064)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_bfloat16_fused_equals_unfused_within_tolerance() -> None:
    """On the GPU, bf16 head matmul (as under autocast) with a 152k vocabulary: the fused
    terms equal the unfused ones (logits materialised in bf16, upcast to fp32) to 1e-3
    relative, and dL/dh, dL/dW to 2 % of their largest entry (bf16 rounding of the logit
    gradient before its matmuls; both paths round, at different points)."""
    gen = torch.Generator().manual_seed(5)
    h, w, batch = _batch(gen, bsz=2, seq=300, hidden=256, vocab=151_936, k=10)
    batch["labels"][0, 4:] = torch.randint(0, 151_936, (296,), generator=gen)
    h, w = h.float().cuda(), (0.05 * w).float().cuda()
    batch = {k: (v.cuda() if torch.is_tensor(v) else [{kk: vv.cuda() for kk, vv in t.items()} for t in v])
             for k, v in batch.items()}
    for t in batch["teachers"]:
        t["align_weight"] = t["align_weight"].float()
    cfg = LossConfig(lambda_=0.5, alpha=1.0, beta=1.0, k=10)
    names, weights = ["s0", "s1"], {"s0": 1.0, "s1": 2.0}
    res = []
    for fused in (False, True):
        hh, ww = h.clone().requires_grad_(True), w.clone().requires_grad_(True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            if fused:
                from fusion.trainer import distill_k
                head = head_from_hidden(hh, ww, batch, distill_k(cfg), chunk_rows=97, compute_dtype=torch.bfloat16)
                terms = head_terms(head, batch, cfg, names, weights)
            else:
                terms = fusion_terms(torch.nn.functional.linear(hh, ww), batch, cfg, names, weights)
        terms["loss"].backward()
        res.append(({k: float(v) for k, v in terms.items()}, hh.grad, ww.grad))
    (t_ref, gh_ref, gw_ref), (t_f, gh, gw) = res
    for key in t_ref:
        assert t_f[key] == pytest.approx(t_ref[key], rel=1e-3, abs=1e-5), key
    for got, want in ((gh, gh_ref), (gw, gw_ref)):
        assert (got - want).abs().max() <= 2e-2 * want.abs().max()
