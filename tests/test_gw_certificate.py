"""The certificate of the exact GW reference (DESIGN §2.5): the Cauchy–Schwarz upper bound,
the spectral lower bound, the LP-dual-certified TLB against HiGHS, brute force with
explicit uniform weights. Oracles: brute force over permutations, scipy's HiGHS, POT's
1-D Wasserstein, the objective at many feasible couplings."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from fusion.gw import (
    brute_force_gw,
    exact_gw,
    gw_bounds,
    gw_objective,
    sorted_degree_coupling,
    spectral_lower_bound,
    third_lower_bound_lp,
)
from fusion.gw.exact import _random_vertex_coupling


def psd_graph(rng: np.random.Generator, n: int, scale: float = 1.0) -> np.ndarray:
    Z = rng.random((int(rng.integers(2, 10)), n)) * (rng.random((1, n)) + 0.1)
    return scale * (Z.T @ Z)


def symmetric_graph(rng: np.random.Generator, n: int) -> np.ndarray:
    A = rng.normal(size=(n, n))
    return A + A.T  # indefinite, signed


def weights(rng: np.random.Generator, n: int) -> np.ndarray:
    w = rng.random(n) + 0.05
    return w / w.sum()


def feasible_couplings(rng: np.random.Generator, p: np.ndarray, q: np.ndarray, C: np.ndarray,
                       D: np.ndarray, count: int = 12) -> list[np.ndarray]:
    """Points of Π(p, q): random vertices, the product, and POT's local optima."""
    out = [np.outer(p, q)] + [_random_vertex_coupling(p, q, rng) for _ in range(count)]
    out += [ot.gromov.gromov_wasserstein(C, D, p, q, "square_loss", G0=G) for G in out[:4]]
    return out


# --------------------------------------------------------- Cauchy–Schwarz upper bound


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 10), m=st.integers(1, 10), kind=st.sampled_from(
    ["psd", "signed", "nonsymmetric"]), weighted=st.booleans())
def test_cauchy_schwarz_upper_bound_holds_at_its_coupling_and_is_tighter(seed, n, m, kind, weighted) -> None:
    """GW ≤ GW(T*) ≤ ĝ₂ + (√V_C + √V_D)² ≤ ĝ₂ + 2(V_C + V_D) for any real graphs."""
    rng = np.random.default_rng(seed)
    make = {"psd": psd_graph, "signed": symmetric_graph, "nonsymmetric": lambda r, k: r.normal(size=(k, k))}[kind]
    C, D = make(rng, n), make(rng, m)
    p = weights(rng, n) if weighted else np.full(n, 1 / n)
    q = weights(rng, m) if weighted else np.full(m, 1 / m)
    b = gw_bounds(C, D, p, q)
    scale = max(np.abs(C).max(), np.abs(D).max()) ** 2 + 1e-300
    at_star = gw_objective(C, D, sorted_degree_coupling(C, D, p, q).numpy())
    assert at_star <= b.upper_cs + 1e-11 * scale
    assert b.upper_cs <= b.upper + 1e-12 * scale
    # (√a + √b)² = a + b + 2√(ab): the slack over ĝ₂ is at most the old one, half when V_C = V_D
    assert b.upper_cs - b.lower == pytest.approx(b.variance_C + b.variance_D + 2 * np.sqrt(b.variance_C * b.variance_D),
                                                 rel=1e-9, abs=1e-12 * scale)


def test_cauchy_schwarz_bound_holds_against_the_certified_optimum() -> None:
    rng = np.random.default_rng(5)
    for _ in range(60):
        n = int(rng.integers(2, 7))
        C, D = psd_graph(rng, n), psd_graph(rng, n)
        bf = brute_force_gw(C, D)
        b = gw_bounds(C, D)
        assert bf.certified and b.lower - 1e-12 <= bf.value <= b.upper_cs + 1e-12


# ------------------------------------------------------------------- spectral bound


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7])
def test_spectral_bound_never_exceeds_the_brute_force_optimum(n: int) -> None:
    rng = np.random.default_rng(100 + n)
    for _ in range(15):
        C, D = psd_graph(rng, n), psd_graph(rng, n)
        bf = brute_force_gw(C, D)
        bound = spectral_lower_bound(C, D)
        assert bound is not None and bound <= bf.value * (1 + 1e-9) + 1e-13


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 9), m=st.integers(1, 9), signed=st.booleans(),
       weighted=st.booleans())
def test_spectral_bound_is_below_the_objective_at_every_feasible_coupling(seed, n, m, signed, weighted) -> None:
    """A lower bound of the minimum is below the objective at every point of Π(p, q):
    weighted, n ≠ m, signed indefinite graphs included (the proof needs only symmetry)."""
    rng = np.random.default_rng(seed)
    make = symmetric_graph if signed else psd_graph
    C, D = make(rng, n), make(rng, m)
    p = weights(rng, n) if weighted else np.full(n, 1 / n)
    q = weights(rng, m) if weighted else np.full(m, 1 / m)
    bound = spectral_lower_bound(C, D, p, q)
    scale = max(np.abs(C).max(), np.abs(D).max()) ** 2
    for T in feasible_couplings(rng, p, q, C, D, count=6):
        assert bound <= gw_objective(C, D, T) + 1e-10 * scale


def test_spectral_bound_proof_steps() -> None:
    """The two facts the proof rests on, checked numerically: X = P^-½TQ^-½ is a
    contraction for every coupling, and the objective equals ‖C̃‖² + ‖D̃‖² − 2tr(C̃XD̃Xᵀ)."""
    rng = np.random.default_rng(9)
    C, D = symmetric_graph(rng, 6), symmetric_graph(rng, 4)
    p, q = weights(rng, 6), weights(rng, 4)
    Ct = np.sqrt(p)[:, None] * C * np.sqrt(p)[None]
    Dt = np.sqrt(q)[:, None] * D * np.sqrt(q)[None]
    for T in feasible_couplings(rng, p, q, C, D):
        X = T / np.sqrt(np.outer(p, q))
        assert np.linalg.norm(X, 2) <= 1 + 1e-12
        expanded = (Ct**2).sum() + (Dt**2).sum() - 2 * np.trace(Ct @ X @ Dt @ X.T)
        assert gw_objective(C, D, T) == pytest.approx(max(expanded, 0.0), rel=1e-9, abs=1e-12)


def test_spectral_bound_is_exact_for_isomorphic_graphs_and_none_when_not_symmetric() -> None:
    rng = np.random.default_rng(2)
    C = psd_graph(rng, 6)
    perm = rng.permutation(6)
    assert spectral_lower_bound(C, C[np.ix_(perm, perm)]) == pytest.approx(0.0, abs=1e-12)
    assert spectral_lower_bound(rng.normal(size=(4, 4)), psd_graph(rng, 4)) is None


# -------------------------------------------------------------- TLB, certified by duality


def _omega(C: np.ndarray, D: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Ω_ij = W₂²(row i of C under p, row j of D under q), by POT's 1-D solver."""
    n, m = len(p), len(q)
    out = np.empty((n, m))
    for i in range(n):
        u = np.repeat(C[i][:, None], m, axis=1)
        out[i] = ot.wasserstein_1d(u, D.T, p, q, p=2)
    return out


def _highs(p: np.ndarray, q: np.ndarray, M: np.ndarray) -> float:
    """The transport LP by HiGHS, on costs rescaled to max 1 (HiGHS's absolute tolerances,
    ~1e-7, would otherwise swamp costs of 1e-10 and stop at an arbitrary feasible point)."""
    scale = float(M.max())
    M = M / scale
    n, m = M.shape
    rows = np.kron(np.eye(n), np.ones((1, m)))
    cols = np.kron(np.ones((1, n)), np.eye(m))
    res = linprog(M.ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.concatenate([p, q]), bounds=(0, None),
                  method="highs")
    assert res.status == 0
    return float(res.fun) * scale


@pytest.mark.parametrize("n,m,scale", [(12, 9, 1.0), (40, 33, 1e-5), (90, 70, 1e-5)])
def test_tlb_agrees_with_highs_and_never_exceeds_it(n: int, m: int, scale: float) -> None:
    """Total-normalised-size entries (1e-5, so costs of ~1e-10, where LP solvers' absolute
    tolerances bite): the certified TLB is ≤ HiGHS's LP optimum (on rescaled costs) and
    within 1e-6 of it."""
    rng = np.random.default_rng(n)
    C, D = psd_graph(rng, n, scale), psd_graph(rng, m, scale)
    p, q = weights(rng, n), weights(rng, m)
    reference = _highs(p, q, _omega(C, D, p, q))
    tlb = third_lower_bound_lp(C, D, p, q)
    assert tlb is not None and tlb.status == "optimal"
    assert tlb.value <= reference * (1 + 1e-12)
    assert tlb.value == pytest.approx(reference, rel=1e-6)
    assert gw_bounds(C, D, p, q).lower <= tlb.value * (1 + 1e-9)


def test_tlb_dual_certificate_is_valid_even_from_a_wrong_dual() -> None:
    """The repair v_j = min_i Ω_ij − u_i makes any u dual-feasible, so even a perturbed
    dual gives a value ≤ the LP optimum (what makes the certificate solver-independent)."""
    rng = np.random.default_rng(3)
    C, D = psd_graph(rng, 15), psd_graph(rng, 11)
    p, q = weights(rng, 15), weights(rng, 11)
    M = _omega(C, D, p, q)
    reference = _highs(p, q, M)
    for _ in range(20):
        u = rng.normal(size=15) * M.max()
        v = (M - u[:, None]).min(axis=0)
        assert p @ u + q @ v <= reference * (1 + 1e-12) + 1e-15


# ------------------------------------------------------------ the certificate as a whole


def test_explicit_uniform_weights_get_the_brute_force_oracle() -> None:
    rng = np.random.default_rng(8)
    for _ in range(10):
        C, D = psd_graph(rng, 6), psd_graph(rng, 6)
        u = np.full(6, 1 / 6)
        explicit, omitted = exact_gw(C, D, u, u, restarts=2), exact_gw(C, D, restarts=2)
        assert explicit.method == omitted.method == "brute-force"
        assert explicit.value == pytest.approx(brute_force_gw(C, D).value, rel=1e-12, abs=1e-15)
        assert explicit.gap == 0.0


def test_certificate_is_a_true_bracket_and_names_its_bound() -> None:
    rng = np.random.default_rng(12)
    for _ in range(12):
        n = int(rng.integers(3, 8))
        C, D = psd_graph(rng, n), psd_graph(rng, n)
        bf = brute_force_gw(C, D)
        res = exact_gw(C, D, restarts=4, brute_force=False)
        assert res.lower_bound <= bf.value * (1 + 1e-9) + 1e-15 <= res.value * (1 + 1e-9) + 2e-15
        assert res.lower_bound_name in res.lower_bounds
        assert res.lower_bound == pytest.approx(min(max(res.lower_bounds.values()), res.value))
        assert {"degree", "tlb", "spectral"} <= set(res.lower_bounds)


def test_negative_restarts_are_refused() -> None:
    C = psd_graph(np.random.default_rng(0), 3)
    with pytest.raises(ValueError, match="restarts=-1"):
        exact_gw(C, C, restarts=-1)


def test_more_starts_never_give_a_worse_value() -> None:
    """The starts of exact_gw include POT's default (product) start, so the reported value
    is never above what POT alone returns."""
    rng = np.random.default_rng(21)
    for _ in range(6):
        C, D = psd_graph(rng, 14), psd_graph(rng, 11)
        p, q = weights(rng, 14), weights(rng, 11)
        pot = gw_objective(C, D, ot.gromov.gromov_wasserstein(C, D, p, q, "square_loss"))
        assert exact_gw(C, D, p, q, restarts=2).value <= pot * (1 + 1e-12)


def test_tensor_inputs_work_too() -> None:
    rng = np.random.default_rng(1)
    C, D = psd_graph(rng, 5), psd_graph(rng, 4)
    assert spectral_lower_bound(torch.tensor(C), torch.tensor(D)) == pytest.approx(spectral_lower_bound(C, D))
