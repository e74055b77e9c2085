"""The scale-free ``rms`` normalisation of GLD (DESIGN §2.2) and the refused degree options:
independent formulas, invariances that would break under ``total``, gradients, config errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.config import ConfigError, load_config
from fusion.graphs import TopK, check_degree_options, degree_features, topk_sparsify
from fusion.gw import sorting_gw
from fusion.losses import gld


def _topk(seed: int, length: int = 12, vocab: int = 40, k: int = 5, scale: float = 3.0) -> TopK:
    gen = torch.Generator().manual_seed(seed)
    return topk_sparsify(scale * torch.randn(length, vocab, generator=gen, dtype=torch.float64), k)


def test_rms_degrees_have_unit_weighted_second_moment_and_match_an_independent_formula() -> None:
    topk = _topk(0)
    for weights in ("uniform", "mass"):
        f = degree_features(topk, normalize="rms", weights=weights)
        # independent: dense Z, C = ZᵀZ, s = C p, divide by sqrt(Σ p s²)
        ids = torch.unique(topk.indices)
        Z = torch.zeros(topk.values.shape[0], len(ids), dtype=torch.float64)
        for t in range(Z.shape[0]):
            for v, i in zip(topk.values[t], topk.indices[t]):
                Z[t, int((ids == i).nonzero())] = v
        C = Z.T @ Z
        p = torch.full((len(ids),), 1 / len(ids), dtype=torch.float64) if weights == "uniform" else \
            Z.abs().sum(0) / Z.abs().sum()
        s = C @ p
        want = s / torch.sqrt((p * s * s).sum())
        torch.testing.assert_close(f.values, want, rtol=1e-12, atol=1e-14)
        assert float((f.weights * f.values**2).sum()) == pytest.approx(1.0, rel=1e-12)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 8), length=st.integers(1, 20),
       scale=st.floats(1e-3, 1e3))
def test_rms_gld_lies_in_0_2_and_ignores_the_value_scale(seed: int, k: int, length: int, scale: float) -> None:
    """Non-negative graphs (prob values): both degree laws have unit second moment on
    [0, ∞), so ĝ₂ = E X² + E Y² − 2E[XY] ∈ [0, 2]; multiplying the values by a constant
    leaves the rms degrees (hence GLD) unchanged."""
    a, b = _topk(seed, length, 30, k), _topk(seed + 1, max(1, length // 2), 50, k)
    mask_a = torch.ones(1, a.values.shape[0], dtype=torch.bool)
    mask_b = torch.ones(1, b.values.shape[0], dtype=torch.bool)
    batch = lambda t: TopK(t.values.unsqueeze(0), t.indices.unsqueeze(0))  # noqa: E731
    value = float(gld(batch(a), mask_a, batch(b), mask_b, normalize="rms"))
    assert -1e-12 <= value <= 2.0 + 1e-12
    scaled = TopK(a.values * scale, a.indices)
    assert float(gld(batch(scaled), mask_a, batch(b), mask_b, normalize="rms")) == pytest.approx(value, rel=1e-9,
                                                                                                  abs=1e-15)


def test_duplicating_every_node_leaves_rms_gld_unchanged_but_moves_total_gld() -> None:
    """Split every node of C into two identical half-activation copies (C' = ½[[C, C], [C, C]]
    on 2n nodes). The degree *distribution* under uniform weights is unchanged up to scale,
    so a scale-free GLD must not move; under ``total`` the degrees fall by 4 (mean degree
    1/n², n doubled) — the n⁻⁴-type decay of ĝ₂ in DESIGN §2.2."""
    rng = np.random.default_rng(4)
    Z = rng.random((9, 6))
    W = rng.random((7, 5))
    C, D = torch.tensor(Z.T @ Z), torch.tensor(W.T @ W)
    Cd = torch.cat([torch.cat([C, C], 1), torch.cat([C, C], 1)], 0) / 2

    def ghat(A: torch.Tensor, B: torch.Tensor, normalize: str) -> float:
        from fusion.graphs import normalize_graph

        return float(sorting_gw(normalize_graph(A, normalize), normalize_graph(B, normalize)))

    assert ghat(Cd, D, "rms") == pytest.approx(ghat(C, D, "rms"), rel=1e-12)
    # under `total` the same construction moves GLD: the degrees of C' are a quarter of C's
    Ct, Cdt = C / C.sum(), Cd / Cd.sum()
    torch.testing.assert_close(Cdt.mean(1)[:6], Ct.mean(1) / 4)
    assert abs(ghat(Cd, D, "total") - ghat(C, D, "total")) > 0.1 * ghat(C, D, "total")


def test_rms_order1_has_a_gradient_where_total_has_none() -> None:
    """``order=1`` with one degree law dominating the other: W₁ = E X − E Y. Under ``total``
    E X = 1/n² is constant, so the gradient is exactly 0; under ``rms`` it is not."""
    piv = _topk(1, length=6, vocab=4, k=2)  # n ≤ 4 nodes: total-normalised degrees ~1/n²
    src = _topk(2, length=6, vocab=300, k=8)  # ~48 nodes: degrees ~1/48², all below the pivot's
    mask = torch.ones(1, 6, dtype=torch.bool)
    p_deg = degree_features(piv, normalize="total").values
    s_deg = degree_features(src, normalize="total").values
    assert float(p_deg.min()) > float(s_deg.max())  # the dominance the docstring needs
    for normalize, zero in (("total", True), ("rms", False)):
        values = piv.values.clone().requires_grad_(True)
        value = gld(TopK(values.unsqueeze(0), piv.indices.unsqueeze(0)), mask,
                    TopK(src.values.unsqueeze(0), src.indices.unsqueeze(0)), mask, normalize=normalize, order=1)
        (grad,) = torch.autograd.grad(value.sum(), values)
        assert (float(grad.abs().max()) < 1e-12) == zero, normalize


@pytest.mark.parametrize("value,normalize,message", [
    ("prob", "row", "every degree exactly 1/n"),
    ("zscore", "rms", "every degree 0"),
    ("zscore", "total", "every degree 0"),
])
def test_degenerate_degree_options_are_refused_with_the_reason(value: str, normalize: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_degree_options(value, normalize, "uniform")
    check_degree_options(value, normalize, "mass")  # informative degrees: allowed


def test_the_refusals_are_true_statements() -> None:
    """What the messages claim, computed: row+uniform degrees are all 1/n; zscore+uniform
    degrees are all ~0 (round-off)."""
    topk = _topk(3, length=10, vocab=30, k=6)
    row = degree_features(topk, normalize="row")
    torch.testing.assert_close(row.values, torch.full_like(row.values, 1 / row.values.shape[0]))
    z = topk_sparsify(3 * torch.randn(10, 30, generator=torch.Generator().manual_seed(3), dtype=torch.float64), 6,
                      value="zscore")
    assert float(degree_features(z, normalize="none").values.abs().max()) < 1e-12


def test_config_refuses_degenerate_gld_options_naming_the_file(tmp_path) -> None:
    text = open("configs/tiny.yaml").read().replace("normalize: rms", "normalize: row")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"bad\.yaml: loss\.gld: normalize='row' with weights='uniform'"):
        load_config(path)
    # the same options are fine when GLD carries no weight
    path.write_text(text.replace("beta: 1.0", "beta: 0.0"))
    assert load_config(path).loss.gld.normalize == "row"


def test_shipped_configs_use_the_scale_free_default_and_beta_1() -> None:
    for name in ("demo", "smollm2-gemma3", "tiny"):
        cfg = load_config(f"configs/{name}.yaml")
        assert cfg.loss.gld.normalize == "rms" and cfg.loss.beta == 1.0, name
