"""Gromov-Wasserstein mathematics (DESIGN.md §2.3-§2.5): the exact reference, the sorting
approximation used by GLD, and the provable bounds that tie them together.

Convention everywhere (POT's square loss, no ½, no square root)::

    GW(C, D) = min_{T ∈ Π(p, q)} Σ_{i,j,k,l} (C_ik − D_jl)² T_ij T_kl

The sorting approximation compresses each node to one scalar (its weighted degree by
default) and solves 1-D optimal transport between the two feature distributions in closed
form by sorting (the merged-CDF "quantile" form handles n ≠ m and any weights).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from fusion.graphs import CoactivationGraph, NodeFeatures, require

Feature = Literal["degree", "diag", "row_norm"]
SortMode = Literal["quantile", "paper"]
FEATURES: tuple[str, ...] = ("degree", "diag", "row_norm")
SORT_MODES: tuple[str, ...] = ("quantile", "paper")
BRUTE_FORCE_MAX_N = 8

ArrayLike = Tensor | np.ndarray


# --------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------


def _to_tensor(x: ArrayLike | Any, name: str) -> Tensor:
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
    t = _to_tensor(C, name)
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
    w = _to_tensor(p, name).to(dtype=like.dtype, device=like.device)
    if w.shape[-1] != n:
        raise ValueError(f"{name} has {w.shape[-1]} weights for a graph of {n} nodes")
    require((w >= 0).all(), f"{name} has negative node weights")
    total = w.sum(dim=-1, keepdim=True)
    require((total > 0).all(), f"{name} sums to zero: node weights must have positive mass")
    return w / total


# --------------------------------------------------------------------------------------
# Node features and 1-D optimal transport
# --------------------------------------------------------------------------------------


def node_features(C: ArrayLike, p: ArrayLike | None = None, feature: Feature = "degree") -> Tensor:
    """Graph feature compression (DESIGN §2.4): one scalar per node of C (..., n, n).

    ``degree``: the weighted degree ``s_C(i) = Σ_k p_k C_ik`` (the default, and the feature
    the bounds of §2.5 are proved for); ``diag``: ``C_ii``; ``row_norm``: ``‖C_i·‖₂``.
    """
    C = check_graph(C)
    return _node_features_unchecked(C, check_weights(p, C.shape[-1], C), feature)


def _node_features_unchecked(C: Tensor, w: Tensor, feature: Feature) -> Tensor:
    """:func:`node_features` on already validated inputs (hot path of sorting_gw)."""
    if feature not in FEATURES:
        raise ValueError(f"feature={feature!r} is not one of {', '.join(FEATURES)}")
    if feature == "diag":
        return torch.diagonal(C, dim1=-2, dim2=-1)
    if feature == "row_norm":
        return torch.linalg.vector_norm(C, dim=-1)
    return (C @ w.unsqueeze(-1)).squeeze(-1)


def quantile_coupling(x: Tensor, y: Tensor, p: Tensor, q: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The optimal 1-D coupling between ``Σ p_i δ_{x_i}`` and ``Σ q_j δ_{y_j}`` (batched on
    leading dims) in merged-CDF form: pieces ``(i_r, j_r, mass_r)`` such that the coupling
    is ``Σ_r mass_r δ_(i_r, j_r)``. This is the monotone (north-west corner) coupling of the
    sorted supports, optimal for every convex cost |x − y|^p; it costs one sort per side.
    Zero-weight (padding) entries never receive mass.
    """
    xs, ix = torch.sort(x, dim=-1)
    ys, iy = torch.sort(y, dim=-1)
    cp = torch.cumsum(torch.gather(p, -1, ix), dim=-1)
    cq = torch.cumsum(torch.gather(q, -1, iy), dim=-1)
    cp = cp / cp[..., -1:]
    cq = cq / cq[..., -1:]
    levels, _ = torch.sort(torch.cat([cp, cq], dim=-1), dim=-1)
    prev = torch.cat([torch.zeros_like(levels[..., :1]), levels[..., :-1]], dim=-1)
    mass = levels - prev
    # The quantile functions are constant on each open piece (prev, level): evaluate at
    # its midpoint so rounding at the breakpoints cannot select a neighbouring atom.
    mid = ((levels + prev) / 2).detach().contiguous()
    n, m = x.shape[-1], y.shape[-1]
    pos_x = torch.searchsorted(cp.detach().contiguous(), mid).clamp_max(n - 1)
    pos_y = torch.searchsorted(cq.detach().contiguous(), mid).clamp_max(m - 1)
    return torch.gather(ix, -1, pos_x), torch.gather(iy, -1, pos_y), mass


def wasserstein_1d_pp(x: Tensor, y: Tensor, p: Tensor, q: Tensor, order: int = 2) -> Tensor:
    """``W_p^p(Σ_i p_i δ_{x_i}, Σ_j q_j δ_{y_j})`` in closed form by sorting (batched on
    leading dims, differentiable in x, y, p, q): ``Σ_r mass_r |x_{i_r} − y_{j_r}|^p`` over
    the pieces of :func:`quantile_coupling`. For uniform weights and n = m this is
    ``(1/n) Σ_i |x↓(i) − y↓(i)|^p``."""
    ix, iy, mass = quantile_coupling(x, y, p, q)
    diff = torch.gather(x, -1, ix) - torch.gather(y, -1, iy)
    return (mass * diff.abs().pow(order)).sum(dim=-1)


def _features_of(a: Any, w: ArrayLike | None, feature: Feature, name: str) -> tuple[Tensor, Tensor]:
    """Turn a graph, a feature vector or :class:`NodeFeatures` into (values, weights)."""
    if isinstance(a, NodeFeatures):
        if w is not None:
            raise ValueError(f"give node weights for {name} either in NodeFeatures or as an argument, not both")
        vals = _to_tensor(a.values, name)
        return vals, check_weights(a.weights, vals.shape[-1], vals.unsqueeze(-1), name=f"weights of {name}")
    if isinstance(a, CoactivationGraph):
        w = a.weights if w is None else w
        a = a.matrix
    t = _to_tensor(a, name)
    if t.ndim == 1:
        if t.shape[0] == 0:
            raise ValueError(f"{name} is empty")
        return t, check_weights(w, t.shape[0], t.unsqueeze(-1), name=name)
    C = check_graph(t, name)
    weights = check_weights(w, C.shape[-1], C, name=name)
    return _node_features_unchecked(C, weights, feature), weights


def sorting_gw(
    C_or_features: Any,
    D_or_features: Any,
    p: ArrayLike | None = None,
    q: ArrayLike | None = None,
    *,
    order: int = 2,
    feature: Feature = "degree",
    mode: SortMode = "quantile",
    k: int | None = None,
) -> Tensor:
    """The sorting approximation of GW (DESIGN §2.4), differentiable and batched.

    Inputs are graphs (tensors (..., n, n) or :class:`CoactivationGraph`), 1-D feature
    vectors (n,), or batched :class:`NodeFeatures` (padding = weight 0).

    ``mode="quantile"``: ``ĝ_p(C, D) = W_p^p(Σ_i p_i δ_{s_C(i)}, Σ_j q_j δ_{s_D(j)})``
    (handles n ≠ m and any weights); with ``order=2`` and ``feature="degree"`` it is the
    provable lower bound of GW. ``mode="paper"``: the paper's figure,
    ``Σ_{i≤k} |f_C↓(i) − f_D↓(i)|^order`` over the k largest features of each graph,
    zero-padded (k defaults to the larger graph's size; weights only mark padding).
    Cost ``O(n log n)`` after the features.
    """
    if order not in (1, 2):
        raise ValueError(f"order={order} must be 1 or 2")
    if mode not in SORT_MODES:
        raise ValueError(f"mode={mode!r} is not one of {', '.join(SORT_MODES)}")
    x, px = _features_of(C_or_features, p, feature, "C")
    y, qy = _features_of(D_or_features, q, feature, "D")
    x, y = x.to(torch.promote_types(x.dtype, y.dtype)), y.to(torch.promote_types(x.dtype, y.dtype))
    if x.shape[:-1] != y.shape[:-1]:
        try:
            batch = torch.broadcast_shapes(x.shape[:-1], y.shape[:-1])
        except RuntimeError as exc:
            raise ValueError(f"batch shapes differ: {tuple(x.shape[:-1])} vs {tuple(y.shape[:-1])}") from exc
        x, px = x.expand(*batch, x.shape[-1]), px.expand(*batch, px.shape[-1])
        y, qy = y.expand(*batch, y.shape[-1]), qy.expand(*batch, qy.shape[-1])
    if mode == "quantile":
        return wasserstein_1d_pp(x, y, px.to(x.dtype), qy.to(y.dtype), order)
    return paper_sorted_distance(x, y, px > 0, qy > 0, order=order, k=k)


def paper_sorted_distance(
    x: Tensor, y: Tensor, x_valid: Tensor, y_valid: Tensor, *, order: int = 1, k: int | None = None
) -> Tensor:
    """The paper's sorted-feature distance ``Σ_{i≤k} |f_C↓(i) − f_D↓(i)|^order``: sort each
    side descending, keep the k largest valid entries, zero-pad the shorter, sum.

    The same formula is the paper's token-level ``WD̃`` when x, y are probability vectors.
    """
    # Defaulting k to the padded width (not the largest valid count) gives the same sum —
    # the extra slots are zero on both sides — and needs no host synchronisation.
    k = max(x.shape[-1], y.shape[-1]) if k is None else k
    if k < 1:
        raise ValueError(f"k={k} must be positive")

    def top(v: Tensor, valid: Tensor) -> Tensor:
        v = v.masked_fill(~valid, float("-inf"))
        width = min(k, v.shape[-1])
        s = torch.topk(v, width, dim=-1).values
        s = torch.where(torch.isinf(s), torch.zeros_like(s), s)
        if width < k:
            s = torch.nn.functional.pad(s, (0, k - width))
        return s

    return (top(x, x_valid) - top(y, y_valid)).abs().pow(order).sum(dim=-1)


# --------------------------------------------------------------------------------------
# The exact objective, bounds and the exact solver
# --------------------------------------------------------------------------------------


def gw_objective(C: ArrayLike, D: ArrayLike, T: ArrayLike) -> float:
    """The GW objective at a coupling T (DESIGN §2.3):
    ``Σ_{i,j,k,l} (C_ik − D_jl)² T_ij T_kl``, expanded as
    ``Σ_ik C_ik² a_i a_k + Σ_jl D_jl² b_j b_l − 2 Σ_ij T_ij (C T Dᵀ)_ij`` with
    ``a = T 1``, ``b = Tᵀ 1`` (exact for any non-negative T, O(n²m + nm²))."""
    C, D, T = (np.asarray(_to_tensor(v, n).detach().cpu(), dtype=np.float64) for v, n in ((C, "C"), (D, "D"), (T, "T")))
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
    """``lower = ĝ₂(C, D)`` and ``upper = ĝ₂(C, D) + 2 (V_C + V_D)`` of DESIGN §2.5."""

    lower: float
    upper: float
    variance_C: float
    variance_D: float


def gw_bounds(C: ArrayLike, D: ArrayLike, p: ArrayLike | None = None, q: ArrayLike | None = None) -> GWBounds:
    """The provable bounds ``ĝ₂ ≤ GW ≤ ĝ₂ + 2 (V_C + V_D)`` (degree feature, order 2) for
    any non-negative C, D and node weights p, q (DESIGN §2.5, proof there)."""
    C, D = check_graph(C, "C").to(torch.float64), check_graph(D, "D").to(torch.float64)
    p = check_weights(p, C.shape[-1], C, "p")
    q = check_weights(q, D.shape[-1], D, "q")
    lower = float(sorting_gw(C, D, p, q, order=2, feature="degree"))
    vc, vd = float(within_row_variance(C, p)), float(within_row_variance(D, q))
    return GWBounds(lower=lower, upper=lower + 2.0 * (vc + vd), variance_C=vc, variance_D=vd)


def prop1_bound(n: int, m: int) -> float:
    """The Proposition-1 form ``2((n−1)/n² + (m−1)/m²)``: the bound of §2.5 specialised to
    row-stochastic graphs with uniform weights, where ``σ_C(i)² ≤ (n−1)/n²``."""
    if n < 1 or m < 1:
        raise ValueError("graph sizes must be positive")
    return 2.0 * ((n - 1) / n**2 + (m - 1) / m**2)


def sorted_degree_coupling(
    C: ArrayLike, D: ArrayLike, p: ArrayLike | None = None, q: ArrayLike | None = None
) -> Tensor:
    """The dense optimal 1-D coupling T* (n × m) between the degree distributions of C and
    D: the coupling at which the upper bound of §2.5 is evaluated, and a solver start."""
    C, D = check_graph(C, "C").to(torch.float64), check_graph(D, "D").to(torch.float64)
    p = check_weights(p, C.shape[-1], C, "p")
    q = check_weights(q, D.shape[-1], D, "q")
    return _monotone_coupling(node_features(C, p), node_features(D, q), p, q)


def _monotone_coupling(x: Tensor, y: Tensor, p: Tensor, q: Tensor) -> Tensor:
    ix, iy, mass = quantile_coupling(x, y, p, q)
    T = torch.zeros(x.shape[-1], y.shape[-1], dtype=mass.dtype)
    return T.index_put((ix, iy), mass, accumulate=True)


def is_psd(C: ArrayLike, tol: float = 1e-10) -> bool:
    """Whether a symmetric matrix is positive semi-definite (up to ``tol`` × its scale)."""
    A = np.asarray(_to_tensor(C, "C").detach().cpu(), dtype=np.float64)
    if not np.allclose(A, A.T, atol=1e-12 * max(1.0, np.abs(A).max())):
        return False
    scale = max(np.abs(A).max(), 1e-300)
    return bool(np.linalg.eigvalsh(A).min() >= -tol * scale)


@dataclass
class BruteForceGW:
    """Result of :func:`brute_force_gw`. ``certified`` is True when the value is the GW
    optimum: both graphs PSD make the objective concave in T, so its minimum over the
    Birkhoff polytope is attained at a permutation (a vertex)."""

    value: float
    permutation: np.ndarray
    coupling: np.ndarray
    certified: bool


def brute_force_gw(C: ArrayLike, D: ArrayLike) -> BruteForceGW:
    """Exhaustive GW over all n! permutation couplings, n = m ≤ 8, uniform weights (the
    test oracle of DESIGN §2.3). The value is ``(1/n²) Σ_ik (C_ik − D_σ(i)σ(k))²``
    minimised over σ — the GW objective at the coupling ``T = P_σ / n``."""
    Cn = np.asarray(check_graph(C, "C").detach().cpu(), dtype=np.float64)
    Dn = np.asarray(check_graph(D, "D").detach().cpu(), dtype=np.float64)
    n = Cn.shape[0]
    if Dn.shape[0] != n or Cn.ndim != 2:
        raise ValueError(f"brute_force_gw needs two single graphs of equal size; got {Cn.shape} and {Dn.shape}")
    if n > BRUTE_FORCE_MAX_N:
        raise ValueError(f"brute_force_gw enumerates n! couplings; n={n} > {BRUTE_FORCE_MAX_N} is too large")
    perms = np.array(list(itertools.permutations(range(n))), dtype=np.int64)
    best_value, best_perm = math.inf, perms[0]
    for chunk in np.array_split(perms, max(1, len(perms) // 5040)):
        Dp = Dn[chunk[:, :, None], chunk[:, None, :]]
        values = ((Cn[None] - Dp) ** 2).sum(axis=(1, 2)) / n**2
        i = int(np.argmin(values))
        if values[i] < best_value:
            best_value, best_perm = float(values[i]), chunk[i]
    T = np.zeros((n, n))
    T[np.arange(n), best_perm] = 1.0 / n
    return BruteForceGW(best_value, best_perm, T, certified=is_psd(Cn) and is_psd(Dn))


def third_lower_bound(
    C: ArrayLike, D: ArrayLike, p: ArrayLike | None = None, q: ArrayLike | None = None, *, max_work: float = 4e7
) -> float | None:
    """Mémoli's third lower bound (TLB) for the square loss:
    ``TLB = min_{T ∈ Π(p,q)} Σ_ij T_ij W₂²(Σ_k p_k δ_{C_ik}, Σ_l q_l δ_{D_jl})``.

    For fixed (i, j) the inner GW sum is a transport cost between row i of C and row j of
    D, hence ≥ their W₂²; so TLB ≤ GW, and TLB ≥ ĝ₂ (W₂² ≥ squared mean gap). Returns
    ``None`` when n·m·(n+m) exceeds ``max_work`` (too costly to be worth it)."""
    import ot

    C, D = check_graph(C, "C").to(torch.float64), check_graph(D, "D").to(torch.float64)
    n, m = C.shape[-1], D.shape[-1]
    if n * m * (n + m) > max_work:
        return None
    p = check_weights(p, n, C, "p")
    q = check_weights(q, m, D, "q")
    rows_c = C.unsqueeze(1).expand(n, m, n)
    rows_d = D.unsqueeze(0).expand(n, m, m)
    omega = wasserstein_1d_pp(rows_c, rows_d, p.expand(n, m, n), q.expand(n, m, m), order=2)
    return float(ot.emd2(p.numpy(), q.numpy(), omega.numpy()))


@dataclass
class ExactGW:
    """Best-of-R conditional-gradient GW with a certificate of how exact it is.

    ``value`` is the best objective found (an upper estimate of the true GW), ``coupling``
    its T. ``lower_bound`` is the best certified lower bound (brute force when
    ``method="brute-force"``; otherwise max of ĝ₂ and Mémoli's TLB) and ``gap`` the
    relative gap ``(value − lower_bound) / value`` (0 = provably optimal).
    """

    value: float
    coupling: np.ndarray
    starts: int
    lower_bound: float
    gap: float
    method: str
    seed: int
    start_values: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def _random_vertex_coupling(p: np.ndarray, q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random vertex of Π(p, q): the monotone coupling of randomly ordered supports
    (exact marginals by construction, so POT accepts it as a start)."""
    x = torch.as_tensor(rng.permutation(len(p)).astype(np.float64))
    y = torch.as_tensor(rng.permutation(len(q)).astype(np.float64))
    return _monotone_coupling(x, y, torch.as_tensor(p), torch.as_tensor(q)).numpy()


def exact_gw(
    C: ArrayLike,
    D: ArrayLike,
    p: ArrayLike | None = None,
    q: ArrayLike | None = None,
    *,
    restarts: int = 8,
    seed: int = 0,
    brute_force: bool = True,
) -> ExactGW:
    """The exact GW reference (DESIGN §2.3): POT's conditional gradient
    (``ot.gromov.gromov_wasserstein``, square loss) from several starts — the product
    coupling ``p qᵀ``, the sorted-degree coupling T*, and ``restarts`` random vertex
    couplings (seeded) — keeping the best objective. POT alone is a local method (it can
    end far above the optimum), so for n = m ≤ 8 with uniform weights the exhaustive
    permutation optimum is taken too (``brute_force``), certified optimal when both graphs
    are PSD (co-activation graphs ``ZₖᵀZₖ`` are). The result carries a certificate.
    """
    import ot

    t0 = time.perf_counter()
    Ct, Dt = check_graph(C, "C").to(torch.float64), check_graph(D, "D").to(torch.float64)
    if Ct.ndim != 2 or Dt.ndim != 2:
        raise ValueError("exact_gw takes two single graphs (n, n) and (m, m)")
    n, m = Ct.shape[0], Dt.shape[0]
    uniform = p is None and q is None
    pt, qt = check_weights(p, n, Ct, "p"), check_weights(q, m, Dt, "q")
    Cn, Dn, pn, qn = Ct.numpy(), Dt.numpy(), pt.numpy(), qt.numpy()
    rng = np.random.default_rng(seed)
    starts: dict[str, np.ndarray] = {
        "product": np.outer(pn, qn),
        "sorted-degree": sorted_degree_coupling(Ct, Dt, pt, qt).numpy(),
    }
    for r in range(restarts):
        starts[f"random-{r}"] = _random_vertex_coupling(pn, qn, rng)
    best_value, best_T, values = math.inf, starts["product"], {}
    for name, G0 in starts.items():
        T = ot.gromov.gromov_wasserstein(Cn, Dn, pn, qn, loss_fun="square_loss", G0=G0)
        value = gw_objective(Cn, Dn, T)
        values[name] = value
        if value < best_value:
            best_value, best_T = value, T
    method = "conditional-gradient"
    lower = float(gw_bounds(Ct, Dt, pt, qt).lower)
    if brute_force and uniform and n == m and n <= BRUTE_FORCE_MAX_N:
        bf = brute_force_gw(Cn, Dn)
        values["brute-force"] = bf.value
        if bf.value <= best_value:
            best_value, best_T = bf.value, bf.coupling
        if bf.certified:
            method, lower = "brute-force", best_value
    if method != "brute-force":
        tlb = third_lower_bound(Ct, Dt, pt, qt)
        if tlb is not None:
            lower = max(lower, tlb)
    lower = min(lower, best_value)
    gap = 0.0 if best_value <= 0 else (best_value - lower) / best_value
    return ExactGW(
        value=best_value,
        coupling=np.asarray(best_T),
        starts=len(starts),
        lower_bound=lower,
        gap=gap,
        method=method,
        seed=seed,
        start_values=values,
        seconds=time.perf_counter() - t0,
    )


def entropic_gw(
    C: ArrayLike, D: ArrayLike, p: ArrayLike | None = None, q: ArrayLike | None = None, *, epsilon: float
) -> Tensor:
    """Entropic GW (POT ``entropic_gromov_wasserstein2``, square loss) on torch tensors —
    so it runs wherever the inputs live (GPU tensors on the GPU). Returns the GW objective
    at the entropic coupling (no entropy term), comparable with :func:`exact_gw`."""
    import ot

    if epsilon <= 0:
        raise ValueError(f"epsilon={epsilon} must be positive")
    Ct, Dt = check_graph(C, "C"), check_graph(D, "D")
    pt = check_weights(p, Ct.shape[-1], Ct, "p")
    qt = check_weights(q, Dt.shape[-1], Dt, "q")
    return ot.gromov.entropic_gromov_wasserstein2(Ct, Dt, pt, qt, loss_fun="square_loss", epsilon=epsilon)
