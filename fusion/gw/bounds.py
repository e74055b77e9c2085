"""The GW objective and the provable bounds around it (DESIGN §2.5).

Upper side: the degree sandwich ``ĝ₂ ≤ GW ≤ ĝ₂ + (√V_C + √V_D)² ≤ ĝ₂ + 2(V_C + V_D)``.
Lower side, for certificates: ĝ₂, Mémoli's third lower bound (an LP, certified through
its dual) and a spectral bound for symmetric graphs. Every function states the bound it
computes and why it holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from fusion.gw.inputs import ArrayLike, check_graph, check_weights, to_tensor
from fusion.gw.pot import import_pot
from fusion.gw.sorting import node_features, quantile_coupling, sorting_gw, wasserstein_1d_pp

# Relative safety margin subtracted from LP-dual bounds: covers the rounding of the final
# fp64 dot products, so a certificate never sits above the true LP value.
_DUAL_MARGIN = 1e-12


def gw_objective(C: ArrayLike, D: ArrayLike, T: ArrayLike) -> float:
    """The GW objective at a coupling T (DESIGN §2.3):
    ``Σ_{i,j,k,l} (C_ik − D_jl)² T_ij T_kl``, expanded as
    ``Σ_ik C_ik² a_i a_k + Σ_jl D_jl² b_j b_l − 2 Σ_ij T_ij (C T Dᵀ)_ij`` with
    ``a = T 1``, ``b = Tᵀ 1`` (exact for any non-negative T, O(n²m + nm²))."""
    C, D, T = (np.asarray(to_tensor(v, n).detach().cpu(), dtype=np.float64) for v, n in ((C, "C"), (D, "D"), (T, "T")))
    a, b = T.sum(axis=1), T.sum(axis=0)
    value = a @ (C**2) @ a + b @ (D**2) @ b - 2.0 * np.sum(T * (C @ T @ D.T))
    return float(max(value, 0.0))


def within_row_variance(C: ArrayLike, p: ArrayLike | None = None) -> Tensor:
    """``V_C = Σ_i p_i Σ_k p_k (C_ik − s_C(i))²``: the mean within-row variance of C under
    the node weights p (DESIGN §2.5)."""
    C = check_graph(C)
    w = check_weights(p, C.shape[-1], C)
    s = node_features(C, w, "degree")
    row_var = ((C - s.unsqueeze(-1)) ** 2 * w.unsqueeze(-2)).sum(dim=-1)
    return (w * row_var).sum(dim=-1)


@dataclass
class GWBounds:
    """The degree sandwich of DESIGN §2.5: ``lower = ĝ₂(C, D)``,
    ``upper_cs = ĝ₂ + (√V_C + √V_D)²`` (Cauchy–Schwarz, the tighter one) and
    ``upper = ĝ₂ + 2(V_C + V_D)`` (the form of the paper's Proposition 1)."""

    lower: float
    upper: float
    upper_cs: float
    variance_C: float
    variance_D: float


def gw_bounds(C: ArrayLike, D: ArrayLike, p: ArrayLike | None = None, q: ArrayLike | None = None) -> GWBounds:
    """``ĝ₂ ≤ GW ≤ ĝ₂ + (√V_C + √V_D)² ≤ ĝ₂ + 2(V_C + V_D)`` (degree feature, order 2)
    for any real C, D and node weights p, q (DESIGN §2.5).

    Proof of the upper side. Evaluate the GW objective at T*, the optimal 1-D coupling of
    the degree distributions. For each (i, j) the inner sum ``Σ_kl T*_kl (C_ik − D_jl)²``
    is ``E[(X − Y)²]`` with X = C_ik, Y = D_jl, (k, l) ~ T* (marginals p, q), so it equals
    ``(s_C(i) − s_D(j))² + Var(X − Y) ≤ (s_C(i) − s_D(j))² + (σ_i + τ_j)²`` with σ_i, τ_j
    the within-row standard deviations. Summing with weights T*_ij gives
    ``ĝ₂ + V_C + V_D + 2 Σ_ij T*_ij σ_i τ_j`` and Cauchy–Schwarz on the coupling,
    ``Σ T*_ij σ_i τ_j ≤ (Σ T*_ij σ_i²)^½ (Σ T*_ij τ_j²)^½ = √(V_C V_D)``, gives
    ``(√V_C + √V_D)²``; ``2ab ≤ a² + b²`` gives the looser ``2(V_C + V_D)``.
    """
    C, D = check_graph(C, "C").to(torch.float64), check_graph(D, "D").to(torch.float64)
    p = check_weights(p, C.shape[-1], C, "p")
    q = check_weights(q, D.shape[-1], D, "q")
    lower = float(sorting_gw(C, D, p, q, order=2, feature="degree"))
    vc, vd = float(within_row_variance(C, p)), float(within_row_variance(D, q))
    return GWBounds(lower=lower, upper=lower + 2.0 * (vc + vd),
                    upper_cs=lower + (math.sqrt(max(vc, 0.0)) + math.sqrt(max(vd, 0.0))) ** 2,
                    variance_C=vc, variance_D=vd)


def prop1_bound(n: int, m: int) -> float:
    """The Proposition-1 form ``2((n−1)/n² + (m−1)/m²)``: the bound of §2.5 specialised to
    row-stochastic graphs with uniform weights, where ``σ_C(i)² ≤ (n−1)/n²``."""
    if n < 1 or m < 1:
        raise ValueError("graph sizes must be positive")
    return 2.0 * ((n - 1) / n**2 + (m - 1) / m**2)


def monotone_coupling(x: Tensor, y: Tensor, p: Tensor, q: Tensor) -> Tensor:
    """The dense (n × m) monotone coupling of ``Σ p_i δ_{x_i}`` and ``Σ q_j δ_{y_j}``:
    optimal for every convex 1-D cost, and a vertex of Π(p, q)."""
    ix, iy, mass = quantile_coupling(x, y, p, q)
    T = torch.zeros(x.shape[-1], y.shape[-1], dtype=mass.dtype)
    return T.index_put((ix, iy), mass, accumulate=True)


def sorted_degree_coupling(
    C: ArrayLike, D: ArrayLike, p: ArrayLike | None = None, q: ArrayLike | None = None
) -> Tensor:
    """The dense optimal 1-D coupling T* (n × m) between the degree distributions of C and
    D: the coupling at which the upper bounds of §2.5 are evaluated, and a solver start."""
    C, D = check_graph(C, "C").to(torch.float64), check_graph(D, "D").to(torch.float64)
    p = check_weights(p, C.shape[-1], C, "p")
    q = check_weights(q, D.shape[-1], D, "q")
    return monotone_coupling(node_features(C, p), node_features(D, q), p, q)


def is_symmetric(C: np.ndarray) -> bool:
    """Whether C equals its transpose up to 1e-12 of its largest entry."""
    return bool(np.allclose(C, C.T, rtol=0.0, atol=1e-12 * max(1.0, float(np.abs(C).max()))))


def _padded_gap(a: np.ndarray, b: np.ndarray) -> float:
    """``Σ_i (a↓_i − b↓_i)²`` of two non-negative spectra, the shorter zero-padded."""
    a, b = np.sort(a)[::-1], np.sort(b)[::-1]
    width = max(len(a), len(b))
    a, b = np.pad(a, (0, width - len(a))), np.pad(b, (0, width - len(b)))
    return float(np.sum((a - b) ** 2))


def spectral_lower_bound(C: ArrayLike, D: ArrayLike, p: ArrayLike | None = None,
                         q: ArrayLike | None = None) -> float | None:
    """A lower bound of GW for symmetric C, D from their weighted spectra (DESIGN §2.5);
    ``None`` when a graph is not symmetric.

    With ``C̃ = P^½ C P^½``, ``D̃ = Q^½ D Q^½`` and, for a coupling T,
    ``X = P^-½ T Q^-½``, the objective is ``‖C̃‖²_F + ‖D̃‖²_F − 2 tr(C̃ X D̃ Xᵀ)``. X is a
    contraction (``|uᵀXv| ≤ (Σ T_ij u_i²/p_i)^½ (Σ T_ij v_j²/q_j)^½ = ‖u‖‖v‖``), so von
    Neumann's trace inequality gives ``tr(C̃XD̃Xᵀ) ≤ Σ_i σ_i(C̃) σ_i(D̃)`` and

        GW ≥ Σ_i (σ↓_i(C̃) − σ↓_i(D̃))²  (zero-padded).

    Projected refinement: every X maps v = √q to u = √p and v⊥ into u⊥, so
    X = u vᵀ + Y with ``Y = P_u⊥ X P_v⊥``, ``‖Y‖ ≤ 1``. Split
    ``C̃ = a uuᵀ + u cᵀ + c uᵀ + C₀`` (``a = uᵀC̃u`` the mean degree, ``c = P_u⊥ C̃ u``,
    ``C₀ = P_u⊥ C̃ P_u⊥``; likewise b, d, D₀). Then ``‖C̃‖² = a² + 2‖c‖² + ‖C₀‖²`` and
    ``tr(C̃XD̃Xᵀ) = ab + 2cᵀXd + tr(C₀YD₀Yᵀ)`` with ``cᵀXd = Σ_ij T_ij f_i g_j``,
    ``f = s_C − a``, ``g = s_D − b`` (the centred degrees, since ``c_i = √p_i f_i``), so

        GW(T) = (a − b)² + 2 Σ_ij T_ij (f_i − g_j)² + ‖C₀‖² + ‖D₀‖² − 2 tr(C₀YD₀Yᵀ).

    Minimising the terms separately — the middle one is 1-D transport, solved by sorting;
    the last one by von Neumann again — and using ``(a − b)² + W₂²(f, g) = ĝ₂`` gives

        GW ≥ ĝ₂ + W₂²(f, g) + Σ_i (σ↓_i(C₀) − σ↓_i(D₀))²  (≥ ĝ₂).

    The larger of the two bounds is returned. Neither needs non-negativity or PSD.
    """
    Ct, Dt = check_graph(C, "C").to(torch.float64), check_graph(D, "D").to(torch.float64)
    pt, qt = check_weights(p, Ct.shape[-1], Ct, "p"), check_weights(q, Dt.shape[-1], Dt, "q")
    Cn, Dn = Ct.detach().cpu().numpy(), Dt.detach().cpu().numpy()
    if Cn.ndim != 2 or Dn.ndim != 2:
        raise ValueError("spectral_lower_bound takes two single graphs (n, n) and (m, m)")
    if not (is_symmetric(Cn) and is_symmetric(Dn)):
        return None
    Cn, Dn = (Cn + Cn.T) / 2, (Dn + Dn.T) / 2

    def parts(A: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        u = np.sqrt(w)
        At = u[:, None] * A * u[None, :]
        proj = np.eye(len(u)) - np.outer(u, u)
        A0 = proj @ At @ proj
        return np.abs(np.linalg.eigvalsh(At)), A @ w, np.abs(np.linalg.eigvalsh((A0 + A0.T) / 2))

    pn, qn = pt.detach().cpu().numpy(), qt.detach().cpu().numpy()
    sc, degree_c, s0c = parts(Cn, pn)
    sd, degree_d, s0d = parts(Dn, qn)
    plain = _padded_gap(sc, sd)
    x, y, pw, qw = (torch.as_tensor(v) for v in (degree_c, degree_d, pn, qn))
    g2 = float(wasserstein_1d_pp(x, y, pw, qw, order=2))
    centred = float(wasserstein_1d_pp(x - (pw * x).sum(), y - (qw * y).sum(), pw, qw, order=2))
    projected = g2 + centred + _padded_gap(s0c, s0d)
    return max(plain, projected)


@dataclass
class ThirdLowerBound:
    """Mémoli's TLB certified through LP duality: ``value`` is a dual-feasible objective
    (≤ the LP optimum ≤ GW whatever the solver's accuracy), ``primal`` the solver's cost,
    ``coupling`` its optimal T (a good GW start), ``status`` the solver's message."""

    value: float
    primal: float
    coupling: np.ndarray
    status: str


def third_lower_bound_lp(
    C: ArrayLike, D: ArrayLike, p: ArrayLike | None = None, q: ArrayLike | None = None, *, max_work: float = 4e7
) -> ThirdLowerBound | None:
    """Mémoli's third lower bound (TLB) for the square loss, solved and certified:
    ``TLB = min_{T ∈ Π(p,q)} Σ_ij T_ij Ω_ij`` with ``Ω_ij = W₂²(Σ_k p_k δ_{C_ik}, Σ_l q_l δ_{D_jl})``.

    For fixed (i, j) the inner GW sum is a transport cost between row i of C and row j of
    D, hence ≥ their W₂²; so TLB ≤ GW, and TLB ≥ ĝ₂ (W₂² ≥ squared mean gap).

    Numerics: Ω is rescaled to max 1 before POT's network simplex (which stops early on
    costs of ~1e-10), and the value reported is the *dual* objective ``p·u + q·v`` after
    repairing feasibility (``v_j = min_i Ω_ij − u_i``): by weak duality it is a lower
    bound of the LP optimum whatever the solver returned. Zero-weight nodes are dropped
    (they change no transport cost). ``None`` when n·m·(n+m) exceeds ``max_work``.
    """
    ot = import_pot()

    Ct, Dt = check_graph(C, "C").to(torch.float64), check_graph(D, "D").to(torch.float64)
    n, m = Ct.shape[-1], Dt.shape[-1]
    if n * m * (n + m) > max_work:
        return None
    pt, qt = check_weights(p, n, Ct, "p"), check_weights(q, m, Dt, "q")
    rows_c = Ct.unsqueeze(1).expand(n, m, n)
    rows_d = Dt.unsqueeze(0).expand(n, m, m)
    omega = wasserstein_1d_pp(rows_c, rows_d, pt.expand(n, m, n), qt.expand(n, m, m), order=2).numpy()
    pn, qn = pt.numpy(), qt.numpy()
    rows, cols = np.flatnonzero(pn > 0), np.flatnonzero(qn > 0)
    a, b = pn[rows] / pn[rows].sum(), qn[cols] / qn[cols].sum()
    M = omega[np.ix_(rows, cols)]
    scale = float(M.max())
    coupling = np.zeros((n, m))
    if scale <= 0:
        coupling[np.ix_(rows, cols)] = np.outer(a, b)
        return ThirdLowerBound(value=0.0, primal=0.0, coupling=coupling, status="zero cost")
    Ms = M / scale
    G, log = ot.emd(a, b, Ms, log=True)
    u = np.asarray(log["u"], dtype=np.float64)
    v = (Ms - u[:, None]).min(axis=0)  # the largest v with u_i + v_j ≤ Ω_ij: dual feasible
    dual = math.fsum(a * u) + math.fsum(b * v)
    value = max(0.0, scale * dual * (1.0 - _DUAL_MARGIN) if dual > 0 else scale * dual)
    coupling[np.ix_(rows, cols)] = G
    status = log.get("warning") or "optimal"
    return ThirdLowerBound(value=value, primal=scale * float(log["cost"]), coupling=coupling, status=str(status))


def third_lower_bound(
    C: ArrayLike, D: ArrayLike, p: ArrayLike | None = None, q: ArrayLike | None = None, *, max_work: float = 4e7
) -> float | None:
    """The certified value of :func:`third_lower_bound_lp` (``None`` when too large)."""
    result = third_lower_bound_lp(C, D, p, q, max_work=max_work)
    return None if result is None else result.value
