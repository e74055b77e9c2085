"""Gromov-Wasserstein mathematics: oracles (brute force, POT), bounds, invariances,
gradients and input validation (DESIGN §2.3-§2.5)."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fusion.graphs import NodeFeatures, coactivation_graph, degree_features, topk_sparsify
from fusion.gw import (
    brute_force_gw,
    entropic_gw,
    exact_gw,
    gw_bounds,
    gw_objective,
    node_features,
    prop1_bound,
    sorted_degree_coupling,
    sorting_gw,
    third_lower_bound,
    within_row_variance,
)


def random_graph(rng: np.random.Generator, n: int, normalize: str = "total") -> np.ndarray:
    """A random non-negative PSD graph ``ZᵀZ`` (the shape of a co-activation graph)."""
    Z = rng.random((rng.integers(2, 12), n)) * (rng.random((1, n)) + 0.1)
    C = Z.T @ Z
    if normalize == "rms":
        C = C / np.sqrt(np.mean(C.mean(axis=1) ** 2))
    elif normalize == "total":
        C = C / C.sum()
    elif normalize == "row":
        C = C / C.sum(axis=1, keepdims=True)
    return C


def random_weights(rng: np.random.Generator, n: int) -> np.ndarray:
    w = rng.random(n) + 0.05
    return w / w.sum()


# ---------------------------------------------------------------- objective and oracle


def test_gw_objective_matches_pot_and_the_quadruple_sum() -> None:
    rng = np.random.default_rng(1)
    C, D = random_graph(rng, 5), random_graph(rng, 4)
    p, q = random_weights(rng, 5), random_weights(rng, 4)
    T, log = ot.gromov.gromov_wasserstein(C, D, p, q, "square_loss", log=True)
    quadruple = sum(
        (C[i, k] - D[j, ll]) ** 2 * T[i, j] * T[k, ll]
        for i in range(5) for j in range(4) for k in range(5) for ll in range(4)
    )
    assert gw_objective(C, D, T) == pytest.approx(quadruple, rel=1e-10)
    assert gw_objective(C, D, T) == pytest.approx(log["gw_dist"], rel=1e-8)


@pytest.mark.parametrize("n", [2, 3, 5, 6])
def test_exact_gw_equals_brute_force_optimum_on_small_graphs(n: int) -> None:
    rng = np.random.default_rng(n)
    for _ in range(5):
        C, D = random_graph(rng, n), random_graph(rng, n)
        bf = brute_force_gw(C, D)
        assert bf.certified  # ZᵀZ graphs are PSD: the permutation optimum is the GW optimum
        # the brute-force value is the objective at its permutation coupling
        assert gw_objective(C, D, bf.coupling) == pytest.approx(bf.value, rel=1e-10)
        # no coupling POT finds from any start can beat the certified optimum
        for _ in range(3):
            T = ot.gromov.gromov_wasserstein(C, D, ot.unif(n), ot.unif(n), "square_loss",
                                             G0=np.eye(n)[rng.permutation(n)] / n)
            assert gw_objective(C, D, T) >= bf.value - 1e-14
        result = exact_gw(C, D, restarts=4, seed=0)
        assert result.value == pytest.approx(bf.value, rel=1e-9, abs=1e-15)
        assert result.method == "brute-force" and result.gap == pytest.approx(0.0, abs=1e-12)


def test_exact_gw_certificate_brackets_the_true_optimum_without_brute_force() -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        C, D = random_graph(rng, 6), random_graph(rng, 6)
        bf = brute_force_gw(C, D)
        res = exact_gw(C, D, restarts=6, seed=3, brute_force=False)
        assert res.lower_bound <= bf.value + 1e-15 <= res.value + 2e-15
        assert 0.0 <= res.gap <= 1.0
        # product, T*, the TLB coupling, two spectral alignments, 4x6 random (a small graph)
        assert set(res.start_values) == {"product", "sorted-degree", "tlb", "spectral+", "spectral-"} | {
            f"random-{r}" for r in range(24)}
        assert res.starts == 29


def test_gw_of_a_graph_with_itself_is_zero_and_permutation_invariant() -> None:
    rng = np.random.default_rng(3)
    C = random_graph(rng, 7)
    assert exact_gw(C, C, restarts=2).value == pytest.approx(0.0, abs=1e-15)
    perm = rng.permutation(7)
    Cp = C[np.ix_(perm, perm)]
    assert exact_gw(C, Cp, restarts=2).value == pytest.approx(0.0, abs=1e-15)
    D = random_graph(rng, 5)
    assert float(sorting_gw(torch.tensor(Cp), torch.tensor(D))) == pytest.approx(
        float(sorting_gw(torch.tensor(C), torch.tensor(D))), rel=1e-12)
    assert exact_gw(Cp, D, restarts=4).value == pytest.approx(exact_gw(C, D, restarts=4).value, rel=1e-6)


def test_third_lower_bound_sits_between_degree_bound_and_gw() -> None:
    rng = np.random.default_rng(11)
    for n in (3, 5, 7):
        C, D = random_graph(rng, n), random_graph(rng, n)
        tlb = third_lower_bound(C, D)
        assert gw_bounds(C, D).lower - 1e-15 <= tlb <= brute_force_gw(C, D).value + 1e-15


# ---------------------------------------------------------------- bounds (DESIGN §2.5)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 9),
    m=st.integers(1, 9),
    normalize=st.sampled_from(["rms", "total", "row", "none"]),
    weighted=st.booleans(),
)
def test_bounds_hold_for_any_coupling_family(seed: int, n: int, m: int, normalize: str, weighted: bool) -> None:
    """ĝ₂ ≤ GW ≤ ĝ₂ + (√V_C + √V_D)² ≤ ĝ₂ + 2(V_C + V_D): the lower bound holds at every
    coupling POT returns; both upper bounds hold at T* (their proof's coupling)."""
    rng = np.random.default_rng(seed)
    C, D = random_graph(rng, n, normalize), random_graph(rng, m, normalize)
    p = random_weights(rng, n) if weighted else np.full(n, 1 / n)
    q = random_weights(rng, m) if weighted else np.full(m, 1 / m)
    b = gw_bounds(C, D, p, q)
    scale = max(np.abs(C).max(), np.abs(D).max()) ** 2
    T_star = sorted_degree_coupling(C, D, p, q).numpy()
    assert T_star.sum(axis=1) == pytest.approx(p) and T_star.sum(axis=0) == pytest.approx(q)
    at_star = gw_objective(C, D, T_star)
    assert b.lower <= at_star + 1e-12 * scale
    assert at_star <= b.upper_cs + 1e-12 * scale <= b.upper + 2e-12 * scale
    T = ot.gromov.gromov_wasserstein(C, D, p, q, "square_loss")
    assert gw_objective(C, D, T) >= b.lower - 1e-9 * scale
    if n == m and not weighted and n <= 6:
        bf = brute_force_gw(C, D)
        if bf.certified:
            assert b.lower <= bf.value + 1e-12 * scale <= b.upper_cs + 2e-12 * scale


def test_within_row_variance_matches_its_definition() -> None:
    rng = np.random.default_rng(5)
    C, p = random_graph(rng, 6), random_weights(rng, 6)
    s = C @ p
    expected = sum(p[i] * sum(p[k] * (C[i, k] - s[i]) ** 2 for k in range(6)) for i in range(6))
    assert float(within_row_variance(C, p)) == pytest.approx(expected, rel=1e-12)


def test_prop1_form_and_row_normalised_degrees_are_uninformative() -> None:
    assert prop1_bound(4, 5) == pytest.approx(2 * (3 / 16 + 4 / 25))
    rng = np.random.default_rng(2)
    C = random_graph(rng, 6, "row")
    # uniform-weight degrees of a row-stochastic graph are all 1/n: ĝ between two such graphs is 0
    assert node_features(C).numpy() == pytest.approx(np.full(6, 1 / 6))
    assert float(sorting_gw(C, random_graph(rng, 6, "row"))) == pytest.approx(0.0, abs=1e-15)
    # and every row's variance is at most (n−1)/n², the step to Proposition 1
    assert float(within_row_variance(C)) <= 5 / 36


# ---------------------------------------------------------------- sorting approximation


@pytest.mark.parametrize("order", [1, 2])
def test_sorting_gw_equals_pot_wasserstein_1d_on_degrees(order: int) -> None:
    rng = np.random.default_rng(order)
    for n, m in [(5, 5), (4, 9), (12, 3)]:
        C, D = random_graph(rng, n), random_graph(rng, m)
        p, q = random_weights(rng, n), random_weights(rng, m)
        expected = ot.wasserstein_1d(C @ p, D @ q, p, q, p=order)
        assert float(sorting_gw(C, D, p, q, order=order)) == pytest.approx(expected, rel=1e-10)


def test_sorting_gw_uniform_equal_size_is_mean_sorted_difference() -> None:
    rng = np.random.default_rng(9)
    x, y = rng.random(10), rng.random(10)
    expected = np.mean((np.sort(x) - np.sort(y)) ** 2)
    assert float(sorting_gw(torch.tensor(x), torch.tensor(y))) == pytest.approx(expected, rel=1e-12)


def test_paper_mode_is_topk_sorted_l1_zero_padded() -> None:
    x = torch.tensor([0.5, 0.1, 0.3], dtype=torch.float64)
    y = torch.tensor([0.2, 0.6], dtype=torch.float64)
    # sorted: [0.5, 0.3, 0.1] vs [0.6, 0.2, 0]; by hand
    assert float(sorting_gw(x, y, mode="paper", order=1)) == pytest.approx(0.1 + 0.1 + 0.1)
    assert float(sorting_gw(x, y, mode="paper", order=1, k=1)) == pytest.approx(0.1)


def test_other_features() -> None:
    rng = np.random.default_rng(4)
    C, D = random_graph(rng, 5), random_graph(rng, 5)
    diag = float(sorting_gw(C, D, feature="diag"))
    assert diag == pytest.approx(np.mean((np.sort(np.diag(C)) - np.sort(np.diag(D))) ** 2))
    rn = float(sorting_gw(C, D, feature="row_norm", order=1))
    assert rn == pytest.approx(np.mean(np.abs(np.sort(np.linalg.norm(C, axis=1)) - np.sort(np.linalg.norm(D, axis=1)))))


@pytest.mark.parametrize("mode", ["quantile", "paper"])
@pytest.mark.parametrize("order", [1, 2])
def test_batched_equals_looped(mode: str, order: int) -> None:
    torch.manual_seed(0)
    logits_a = torch.randn(4, 9, 40, dtype=torch.float64)
    logits_b = torch.randn(4, 7, 60, dtype=torch.float64)
    mask_a = torch.rand(4, 9) > 0.3
    mask_a[:, 0] = True
    fa = degree_features(topk_sparsify(logits_a, 5), mask=mask_a)
    fb = degree_features(topk_sparsify(logits_b, 3))
    batched = sorting_gw(fa, fb, order=order, mode=mode)
    for i in range(4):
        ga = coactivation_graph(logits_a[i], 5, mask=mask_a[i])
        gb = coactivation_graph(logits_b[i], 3)
        assert float(batched[i]) == pytest.approx(float(sorting_gw(ga, gb, order=order, mode=mode)), rel=1e-10)


def test_gradients_gradcheck_float64() -> None:
    torch.manual_seed(1)
    x = torch.rand(2, 6, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 4, dtype=torch.float64, requires_grad=True)
    px = torch.full((2, 6), 1 / 6, dtype=torch.float64)
    qy = torch.full((2, 4), 1 / 4, dtype=torch.float64)
    for mode in ("quantile", "paper"):
        for order in (1, 2):
            f = lambda a, b: sorting_gw(NodeFeatures(a, px), NodeFeatures(b, qy), order=order, mode=mode)  # noqa: E731, B023 - used at once
            assert torch.autograd.gradcheck(f, (x, y))
    # end to end: through the graph construction from logits
    logits = torch.randn(5, 20, dtype=torch.float64, requires_grad=True)
    target = degree_features(topk_sparsify(torch.randn(6, 30, dtype=torch.float64), 3))

    def through_graph(lg: torch.Tensor) -> torch.Tensor:
        return sorting_gw(degree_features(topk_sparsify(lg, 3)), target)

    assert torch.autograd.gradcheck(through_graph, (logits,))


def test_entropic_gw_runs_on_torch_and_is_an_upper_estimate() -> None:
    rng = np.random.default_rng(12)
    C, D = random_graph(rng, 6), random_graph(rng, 6)
    bf = brute_force_gw(C, D).value
    value = entropic_gw(torch.tensor(C), torch.tensor(D), epsilon=1e-5)
    assert isinstance(value, torch.Tensor)
    assert float(value) >= bf - 1e-12  # the objective at a feasible coupling
    b = gw_bounds(C, D)
    assert float(value) >= b.lower


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sorting_gw(torch.rand(3, 4), torch.rand(3, 3)), "square"),
        (lambda: sorting_gw(torch.tensor([[float("nan"), 0], [0, 1.0]]), torch.eye(2)), "NaN"),
        (lambda: sorting_gw(torch.eye(3), torch.eye(3), p=torch.tensor([0.5, 0.6, -0.1])), "negative"),
        (lambda: exact_gw(np.zeros((0, 0)), np.eye(2)), "empty"),
        (lambda: topk_sparsify(torch.randn(3, 10), 11), "vocabulary"),
        (lambda: sorting_gw(torch.eye(3), torch.eye(3), order=3), "order"),
        (lambda: brute_force_gw(np.eye(9), np.eye(9)), "too large"),
        (lambda: sorting_gw(torch.eye(3), torch.eye(3), p=torch.zeros(3)), "zero"),
    ],
)
def test_bad_input_raises_clear_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
