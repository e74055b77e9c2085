"""Top-k sparsification and co-activation graphs (DESIGN §2.1-§2.2)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from fusion.graphs import (
    TopK,
    coactivation_graph,
    degree_features,
    graph_from_topk,
    topk_sparsify,
)
from fusion.gw import node_features


def test_topk_values_per_mode_match_independent_formulas() -> None:
    torch.manual_seed(0)
    logits = torch.randn(6, 30, dtype=torch.float64)
    probs = torch.softmax(logits, dim=-1)
    for t in range(6):
        order = np.argsort(-logits[t].numpy())[:4]
        tk = topk_sparsify(logits, 4, "prob")
        assert tk.indices[t].tolist() == order.tolist()
        assert tk.values[t].numpy() == pytest.approx(probs[t, order].numpy())
        raw = logits[t, order].numpy()
        assert topk_sparsify(logits, 4, "logit").values[t].numpy() == pytest.approx(raw)
        z = (raw - raw.mean()) / raw.std()
        assert topk_sparsify(logits, 4, "zscore").values[t].numpy() == pytest.approx(z)
    # z-scores are invariant to a per-position shift of the logits (why a cache may store log-probs)
    shifted = logits + torch.randn(6, 1, dtype=torch.float64) * 5
    assert torch.allclose(topk_sparsify(shifted, 4, "zscore").values, topk_sparsify(logits, 4, "zscore").values)


def test_vocab_graph_is_brute_force_sum_of_outer_products() -> None:
    torch.manual_seed(1)
    logits = torch.randn(8, 25, dtype=torch.float64)
    g = coactivation_graph(logits, 3, normalize="none")
    tk = topk_sparsify(logits, 3)
    union = sorted(set(tk.indices.flatten().tolist()))
    assert g.node_ids.tolist() == union and g.n == len(union)
    Z = torch.zeros(8, 25, dtype=torch.float64)
    Z.scatter_(1, tk.indices, tk.values)
    expected = sum(torch.outer(Z[t], Z[t]) for t in range(8))[union][:, union]
    assert torch.allclose(g.matrix, expected)
    assert torch.allclose(g.matrix, g.matrix.T)
    assert torch.linalg.eigvalsh(g.matrix).min() >= -1e-12  # PSD
    assert (g.matrix >= 0).all()


def test_rank_nodes_have_k_slots_and_normalisations() -> None:
    torch.manual_seed(2)
    logits = torch.randn(5, 40, dtype=torch.float64)
    g = coactivation_graph(logits, 6, nodes="rank", normalize="row")
    assert g.n == 6 and g.node_ids.tolist() == list(range(6))
    assert torch.allclose(g.matrix.sum(dim=1), torch.ones(6, dtype=torch.float64))
    total = coactivation_graph(logits, 6, normalize="total")
    assert float(total.matrix.sum()) == pytest.approx(1.0)
    mass = coactivation_graph(logits, 6, weights="mass")
    tk = topk_sparsify(logits, 6)
    by_hand = {int(i): 0.0 for i in mass.node_ids}
    for v, i in zip(tk.values.flatten().tolist(), tk.indices.flatten().tolist()):
        by_hand[i] += v
    expected = torch.tensor([by_hand[int(i)] for i in mass.node_ids], dtype=torch.float64)
    assert torch.allclose(mass.weights, expected / expected.sum())


@pytest.mark.parametrize(
    "nodes, normalize, weights",
    list(itertools.product(["vocab", "rank"], ["rms", "total", "row", "none"], ["uniform", "mass"])),
)
def test_memory_light_degrees_equal_dense_degrees(nodes: str, normalize: str, weights: str) -> None:
    torch.manual_seed(3)
    logits = torch.randn(3, 10, 50, dtype=torch.float64)
    mask = torch.rand(3, 10) > 0.4
    mask[:, 0] = True
    feats = degree_features(topk_sparsify(logits, 4), mask=mask, nodes=nodes, normalize=normalize, weights=weights)
    for b in range(3):
        g = coactivation_graph(logits[b], 4, mask=mask[b], nodes=nodes, normalize=normalize, weights=weights)
        dense = node_features(g.matrix, g.weights)
        assert torch.allclose(feats.values[b, : g.n], dense)
        assert torch.allclose(feats.weights[b, : g.n], g.weights)
        assert float(feats.weights[b, g.n :].abs().sum()) == 0.0


def test_masked_positions_contribute_no_nodes() -> None:
    torch.manual_seed(4)
    logits = torch.randn(6, 30, dtype=torch.float64)
    mask = torch.tensor([True, True, False, False, True, False])
    g = coactivation_graph(logits, 2, mask=mask)
    kept = set(topk_sparsify(logits[mask], 2).indices.flatten().tolist())
    assert set(g.node_ids.tolist()) == kept


def test_degree_features_from_cached_topk_carry_gradients() -> None:
    values = torch.rand(2, 4, 3, dtype=torch.float64, requires_grad=True)
    indices = torch.randint(0, 100, (2, 4, 3))
    # distinct ids per position, as top-k guarantees
    indices = torch.stack([torch.randperm(100)[:3] for _ in range(8)]).view(2, 4, 3)
    feats = degree_features(TopK(values, indices))
    feats.values.sum().backward()
    assert values.grad is not None and torch.isfinite(values.grad).all()


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="vocabulary"):
        topk_sparsify(torch.randn(2, 5), 6)
    with pytest.raises(ValueError, match="NaN"):
        topk_sparsify(torch.tensor([[0.0, float("nan")]]), 1)
    with pytest.raises(ValueError, match="empty graph"):
        coactivation_graph(torch.randn(3, 5), 2, mask=torch.zeros(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="value="):
        topk_sparsify(torch.randn(2, 5), 2, value="softmax")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nodes="):
        coactivation_graph(torch.randn(2, 5), 2, nodes="tokens")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="logits"):
        coactivation_graph(torch.randn(2, 3, 5), 2)
    assert graph_from_topk(topk_sparsify(torch.randn(2, 5), 2)).n >= 2
