"""Loss terms of the fusion objective against independent reference computations."""

from __future__ import annotations

import math

import pytest
import torch

from fusion.align import alignment_tensors
from fusion.config import GLDConfig, LossConfig
from fusion.graphs import TopK, graph_from_topk, topk_sparsify
from fusion.gw import sorting_gw
from fusion.losses import aligned_wd, fusion_objective, gld, response_cross_entropy, source_topk, truncate_sorted_topk
from fusion.trainer import fusion_terms


def _wd_by_loops(p: list[list[float]], q: list[list[float]], pairs: list[list[int]]) -> float:
    """Sorted-probability distance by explicit Python loops, mean over partners, mean
    over aligned pivot positions (the documented aggregation)."""
    per_pos = []
    for i, partners in enumerate(pairs):
        if not partners:
            continue
        dists = []
        for j in partners:
            a = sorted(p[i], reverse=True)
            b = sorted(q[j], reverse=True)
            n = max(len(a), len(b))
            a += [0.0] * (n - len(a))
            b += [0.0] * (n - len(b))
            dists.append(sum(abs(x - y) for x, y in zip(a, b)))
        per_pos.append(sum(dists) / len(dists))
    return sum(per_pos) / len(per_pos) if per_pos else 0.0


def test_aligned_wd_matches_explicit_loops() -> None:
    gen = torch.Generator().manual_seed(0)
    bsz, lp, ls, k_p, k_s = 3, 5, 7, 4, 6
    p = torch.rand(bsz, lp, k_p, generator=gen, dtype=torch.float64)
    q = torch.rand(bsz, ls, k_s, generator=gen, dtype=torch.float64)
    pairs = [
        [[0], [1, 2], [], [3, 4, 5], [6]],
        [[0, 1], [2], [3], [4], []],
        [[], [], [], [], []],  # nothing aligned: contributes 0
    ]
    idx, w = alignment_tensors(pairs, lp)
    got = aligned_wd(p, q, idx, w.double())
    for b in range(bsz):
        want = _wd_by_loops(p[b].tolist(), q[b].tolist(), pairs[b])
        assert got[b].item() == pytest.approx(want, rel=1e-7, abs=1e-12)  # weights 1/|J| are fp32


def test_response_cross_entropy_matches_loop() -> None:
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 6, 11, generator=gen, dtype=torch.float64)
    labels = torch.full((2, 6), -100)
    labels[0, 3:] = torch.tensor([4, 5, 6])
    labels[1, 2:5] = torch.tensor([1, 2, 3])
    terms = []
    for b in range(2):
        for t in range(1, 6):
            if labels[b, t] >= 0:
                row = logits[b, t - 1]
                terms.append(-(row[labels[b, t]] - torch.logsumexp(row, 0)).item())
    assert response_cross_entropy(logits, labels).item() == pytest.approx(sum(terms) / len(terms), rel=1e-12)


@pytest.mark.parametrize("value", ["prob", "logit", "zscore"])
def test_source_topk_recovers_every_value_mode(value: str) -> None:
    """Cached (top-k log-probs, logsumexp) give the same kept values as topk_sparsify on
    the full logits, in every value mode."""
    gen = torch.Generator().manual_seed(2)
    logits = 3 * torch.randn(2, 5, 50, generator=gen, dtype=torch.float64)
    k = 6
    top, idx = torch.topk(logits, k, dim=-1)
    lse = torch.logsumexp(logits, dim=-1)
    cached = source_topk(top - lse.unsqueeze(-1), idx, lse, value)
    want = topk_sparsify(logits, k, value=value)
    order_c = torch.argsort(cached.indices, dim=-1)
    order_w = torch.argsort(want.indices, dim=-1)
    assert torch.equal(torch.gather(cached.indices, -1, order_c), torch.gather(want.indices, -1, order_w))
    torch.testing.assert_close(torch.gather(cached.values.double(), -1, order_c),
                               torch.gather(want.values, -1, order_w), rtol=1e-5, atol=1e-6)


def test_truncate_sorted_topk_keeps_the_first_k_by_position() -> None:
    values = torch.tensor([[0.5, 0.3, 0.1, 0.05]], dtype=torch.float64)
    indices = torch.tensor([[3, 9, 7, 1]])
    out = truncate_sorted_topk(TopK(values, indices), 2)
    assert out.values.tolist() == [[0.5, 0.3]] and out.indices.tolist() == [[3, 9]]
    with pytest.raises(ValueError, match="k=5 of 4"):
        truncate_sorted_topk(TopK(values, indices), 5)


def test_fp16_ties_at_the_boundary_keep_the_fp32_order() -> None:
    """Two log-probs that differ in fp32 but round to the same fp16 value sit at the k/k+1
    boundary: the entry the fp32 sort ranked k-th must be the one kept (a re-rank of the
    fp16 values could pick either)."""
    top = torch.tensor([[-0.5, -2.0, -3.0001, -3.0002]], dtype=torch.float32)  # fp32-sorted
    assert top.half()[0, 2] == top.half()[0, 3]  # a tie in the cache's storage type
    idx = torch.tensor([[11, 22, 33, 44]])
    lse = torch.zeros(1)
    for _ in range(20):
        # Which tied entry a value-based re-rank keeps depends on the sort implementation;
        # position truncation always keeps id 33, the fp32 third.
        perm_free = source_topk(top.half().unsqueeze(0), idx.unsqueeze(0), lse.unsqueeze(0), "prob", 3)
        assert perm_free.indices[0, 0].tolist() == [11, 22, 33]


def test_zscore_standardises_over_the_kept_entries_only() -> None:
    """``zscore`` with a cache holding more entries than the loss keeps: the z-scores are
    those of the k kept logits (mean 0, std 1 over exactly those), independently computed."""
    gen = torch.Generator().manual_seed(5)
    logits = 2 * torch.randn(1, 4, 40, generator=gen, dtype=torch.float64)
    top, idx = torch.topk(logits, 12, dim=-1)
    lse = torch.logsumexp(logits, dim=-1)
    got = source_topk(top - lse.unsqueeze(-1), idx, lse, "zscore", 5)
    kept = top[..., :5]
    want = (kept - kept.mean(-1, keepdim=True)) / kept.std(-1, unbiased=False, keepdim=True)
    torch.testing.assert_close(got.values.double(), want, rtol=1e-5, atol=1e-6)
    assert torch.equal(got.indices, idx[..., :5])


@pytest.mark.parametrize("nodes,normalize,weights,order",
                         [("vocab", "rms", "uniform", 2), ("vocab", "total", "uniform", 2),
                          ("vocab", "none", "mass", 1), ("rank", "rms", "mass", 1), ("rank", "total", "uniform", 2)])
def test_gld_matches_dense_graph_path(nodes: str, normalize: str, weights: str, order: int) -> None:
    """Batched, padded GLD equals sorting_gw on each sequence's materialised graphs."""
    gen = torch.Generator().manual_seed(3)
    k = 4
    piv = topk_sparsify(torch.randn(2, 6, 30, generator=gen, dtype=torch.float64), k)
    src = topk_sparsify(torch.randn(2, 9, 80, generator=gen, dtype=torch.float64), k)
    pmask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    smask = torch.tensor([[1] * 9, [1] * 5 + [0] * 4], dtype=torch.bool)
    got = gld(piv, pmask, src, smask, nodes=nodes, normalize=normalize, weights=weights, order=order)
    for b in range(2):
        c = graph_from_topk(TopK(piv.values[b][pmask[b]], piv.indices[b][pmask[b]]), nodes=nodes,
                            normalize=normalize, weights=weights)
        d = graph_from_topk(TopK(src.values[b][smask[b]], src.indices[b][smask[b]]), nodes=nodes,
                            normalize=normalize, weights=weights)
        want = sorting_gw(c, d, order=order)
        assert got[b].item() == pytest.approx(want.item(), rel=1e-9, abs=1e-15)


def test_fusion_objective_formula() -> None:
    ce = torch.tensor(2.0)
    wd = {"a": torch.tensor(0.3), "b": torch.tensor(0.7)}
    g = {"a": torch.tensor(0.01), "b": torch.tensor(0.05)}
    w = {"a": 0.25, "b": 0.75}
    lam, alpha, beta = 0.4, 1.5, 10.0
    want = (1 - lam) * 2.0 + lam * (0.25 * (1.5 * 0.3 + 10 * 0.01) + 0.75 * (1.5 * 0.7 + 10 * 0.05))
    got = fusion_objective(ce, wd, g, w, lam=lam, alpha=alpha, beta=beta)
    assert got.item() == pytest.approx(want, rel=1e-6)


def _synthetic_batch(vocab: int = 40, src_vocab: int = 90, k: int = 5) -> tuple[torch.Tensor, dict]:
    gen = torch.Generator().manual_seed(4)
    bsz, seq, lr, ls = 2, 8, 4, 5
    labels = torch.full((bsz, seq), -100)
    labels[:, 4:8] = torch.randint(0, vocab, (bsz, 4), generator=gen)
    src_logits = 2 * torch.randn(bsz, ls, src_vocab, generator=gen)
    top, idx = torch.topk(src_logits, k, dim=-1)
    lse = torch.logsumexp(src_logits, dim=-1)
    pairs = [[[0], [1, 2], [3], [4]], [[0, 1], [2], [], [3, 4]]]
    ai, aw = alignment_tensors(pairs, lr)
    batch = {
        "labels": labels,
        "distill_pos": torch.arange(3, 7).repeat(bsz, 1),
        "distill_mask": torch.ones(bsz, lr, dtype=torch.bool),
        "teachers": [{"logprobs": top - lse.unsqueeze(-1), "indices": idx, "lse": lse,
                      "mask": torch.ones(bsz, ls, dtype=torch.bool), "align_index": ai, "align_weight": aw}],
    }
    logits = torch.randn(bsz, seq, vocab, generator=gen)
    return logits, batch


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (0.0, 1.0)])
def test_gradients_flow_only_into_the_pivot(alpha: float, beta: float) -> None:
    """WD and GLD each give the pivot's logits a non-zero gradient; the cached source
    tensors are constants (no tensor of the batch requires or receives a gradient)."""
    logits, batch = _synthetic_batch()
    logits.requires_grad_(True)
    cfg = LossConfig(lambda_=1.0, alpha=alpha, beta=beta, k=5)
    terms = fusion_terms(logits, batch, cfg, ["s"], {"s": 1.0})
    terms["loss"].backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    # Only the response-predicting positions (3..6) receive distillation gradient.
    assert logits.grad[:, :3].abs().sum() == 0 and logits.grad[:, 7:].abs().sum() == 0
    for t in batch["teachers"]:
        assert all(not v.requires_grad and v.grad is None for v in t.values())


def test_fusion_terms_combine_as_logged() -> None:
    logits, batch = _synthetic_batch()
    cfg = LossConfig(lambda_=0.3, alpha=2.0, beta=5.0, k=5)
    terms = fusion_terms(logits, batch, cfg, ["s"], {"s": 0.5})
    want = 0.7 * terms["ce"] + 0.3 * 0.5 * (2.0 * terms["wd/s"] + 5.0 * terms["gld/s"])
    assert terms["loss"].item() == pytest.approx(want.item(), rel=1e-6)
    assert math.isfinite(terms["gld/s"].item()) and terms["wd/s"].item() > 0


def test_gld_decreases_when_optimising_pivot_toward_fixed_source() -> None:
    """Gradient descent on the pivot's logits with GLD alone lowers GLD substantially."""
    gen = torch.Generator().manual_seed(5)
    src = topk_sparsify(torch.cat([6 * torch.randn(1, 12, 3, generator=gen),
                                   torch.randn(1, 12, 57, generator=gen)], -1), 5)
    smask = torch.ones(1, 12, dtype=torch.bool)
    pivot_logits = torch.randn(1, 10, 40, generator=gen).requires_grad_(True)
    pmask = torch.ones(1, 10, dtype=torch.bool)
    opt = torch.optim.Adam([pivot_logits], lr=0.05)
    cfg = GLDConfig()
    values = []
    for _ in range(150):
        opt.zero_grad()
        loss = gld(topk_sparsify(pivot_logits, 5), pmask, src, smask, nodes=cfg.nodes,
                   normalize=cfg.normalize, weights=cfg.weights, order=cfg.order, mode=cfg.mode).mean()
        values.append(loss.item())
        loss.backward()
        opt.step()
    assert values[-1] < 0.2 * values[0], (values[0], values[-1])


def test_fusion_terms_pick_each_rows_response_positions() -> None:
    """Rows with different prompt lengths (and padding): the WD and GLD of fusion_terms equal
    the same terms computed from each row's response logits taken out one by one."""
    logits, batch = _synthetic_batch()
    batch["distill_pos"] = torch.tensor([[2, 3, 4, 5], [4, 5, 6, 0]])
    batch["distill_mask"] = torch.tensor([[True] * 4, [True, True, True, False]])
    t = batch["teachers"][0]
    t["align_weight"][1, 3] = 0.0  # the padded pivot position has no partner
    cfg = LossConfig(lambda_=0.5, alpha=1.0, beta=1.0, k=5)
    terms = fusion_terms(logits, batch, cfg, ["s"], {"s": 1.0})
    wd, g = [], []
    for b in range(2):
        n = int(batch["distill_mask"][b].sum())
        rows = logits[b, batch["distill_pos"][b, :n]].unsqueeze(0)
        piv = topk_sparsify(rows, 5)
        src = source_topk(t["logprobs"][b : b + 1], t["indices"][b : b + 1], t["lse"][b : b + 1], "prob")
        wd.append(aligned_wd(piv.values, src.values, t["align_index"][b : b + 1, :n], t["align_weight"][b : b + 1, :n]))
        g.append(gld(piv, torch.ones(1, n, dtype=torch.bool), src, t["mask"][b : b + 1]))
    assert terms["wd/s"].item() == pytest.approx(torch.cat(wd).mean().item(), rel=1e-6)
    assert terms["gld/s"].item() == pytest.approx(torch.cat(g).mean().item(), rel=1e-6)


def test_gld_sources_batched_equals_separate_calls() -> None:
    from fusion.losses import gld_sources

    gen = torch.Generator().manual_seed(6)
    piv = topk_sparsify(torch.randn(2, 6, 30, generator=gen, dtype=torch.float64), 4)
    pmask = torch.tensor([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    s1 = topk_sparsify(torch.randn(2, 9, 80, generator=gen, dtype=torch.float64), 4)
    m1 = torch.tensor([[1] * 9, [1] * 4 + [0] * 5], dtype=torch.bool)
    s2 = topk_sparsify(torch.randn(2, 5, 120, generator=gen, dtype=torch.float64), 4)
    m2 = torch.ones(2, 5, dtype=torch.bool)
    both = gld_sources(piv, pmask, [(s1, m1), (s2, m2)])
    assert both.shape == (2, 2)
    from fusion.graphs import degree_features

    fp = degree_features(piv, mask=pmask)  # the reference: one source at a time, no padding
    torch.testing.assert_close(both[0], sorting_gw(fp, degree_features(s1, mask=m1)), rtol=1e-12, atol=0)
    torch.testing.assert_close(both[1], sorting_gw(fp, degree_features(s2, mask=m2)), rtol=1e-12, atol=0)
