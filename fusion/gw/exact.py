"""The exact GW reference (DESIGN §2.3): POT's conditional gradient from several starts,
the exhaustive permutation oracle for small graphs, entropic GW — and the certificate
that says how far the best value found can be from the optimum.

The only module of the GW mathematics that runs POT's GW solvers.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from fusion.gw.bounds import (
    gw_bounds,
    gw_objective,
    is_symmetric,
    monotone_coupling,
    sorted_degree_coupling,
    spectral_lower_bound,
    third_lower_bound_lp,
)
from fusion.gw.inputs import ArrayLike, check_graph, check_weights, to_tensor, weights_are_uniform
from fusion.gw.pot import import_pot

BRUTE_FORCE_MAX_N = 8
# Graphs this small (n·m) get SMALL_GRAPH_RESTART_FACTOR times the random restarts: each
# conditional-gradient run costs microseconds there, and POT alone often ends >1 % above
# the optimum on them.
SMALL_GRAPH_NM = 1024
SMALL_GRAPH_RESTART_FACTOR = 4


def is_psd(C: ArrayLike, tol: float = 1e-10) -> bool:
    """Whether a symmetric matrix is positive semi-definite (up to ``tol`` × its scale)."""
    A = np.asarray(to_tensor(C, "C").detach().cpu(), dtype=np.float64)
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


@dataclass
class ExactGW:
    """Best-of-starts conditional-gradient GW with a certificate of how exact it is.

    ``value`` is the best objective found (an upper estimate of the true GW), ``coupling``
    its T. ``lower_bound`` is the best certified lower bound: the brute-force optimum
    when ``method="brute-force"``, otherwise the largest of ĝ₂, Mémoli's TLB (LP-dual
    certified) and the spectral bound — ``lower_bounds`` holds each, ``lower_bound_name``
    the winner — and ``gap`` the relative gap ``(value − lower_bound) / value``
    (0 = provably optimal).
    """

    value: float
    coupling: np.ndarray
    starts: int
    lower_bound: float
    gap: float
    method: str
    seed: int
    start_values: dict[str, float] = field(default_factory=dict)
    lower_bounds: dict[str, float] = field(default_factory=dict)
    lower_bound_name: str = ""
    seconds: float = 0.0


def _random_vertex_coupling(p: np.ndarray, q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random vertex of Π(p, q): the monotone coupling of randomly ordered supports
    (exact marginals by construction, so POT accepts it as a start)."""
    x = torch.as_tensor(rng.permutation(len(p)).astype(np.float64))
    y = torch.as_tensor(rng.permutation(len(q)).astype(np.float64))
    return monotone_coupling(x, y, torch.as_tensor(p), torch.as_tensor(q)).numpy()


def _spectral_couplings(C: np.ndarray, D: np.ndarray, p: np.ndarray, q: np.ndarray) -> dict[str, np.ndarray]:
    """Starts from spectral alignment: the monotone coupling of the nodes' coordinates in
    the leading eigenvector of ``P^½CP^½`` and ``Q^½DQ^½`` (both sign choices for D),
    for symmetric graphs; nodes with similar roles in the dominant co-activation pattern
    start matched."""
    if not (is_symmetric(C) and is_symmetric(D)):
        return {}

    def leading(A: np.ndarray, w: np.ndarray) -> np.ndarray:
        u = np.sqrt(w)
        _, vecs = np.linalg.eigh(u[:, None] * A * u[None, :])
        vec = vecs[:, -1]
        return vec if vec.sum() >= 0 else -vec

    x, y = leading(C, p), leading(D, q)
    pt, qt = torch.as_tensor(p), torch.as_tensor(q)
    return {f"spectral{sign}": monotone_coupling(torch.as_tensor(x), torch.as_tensor(s * y), pt, qt).numpy()
            for sign, s in (("+", 1.0), ("-", -1.0))}


# Entropic starts: ε relative to the squared largest entry. Small ε follows the landscape
# closely (on real co-activation graphs it found the best coupling ~1 % below the others).
ENTROPIC_START_EPSILONS = (1e-2, 1e-3)


def _entropic_couplings(C: np.ndarray, D: np.ndarray, p: np.ndarray, q: np.ndarray) -> dict[str, np.ndarray]:
    """Starts from entropic GW couplings (POT) at the ε of ``ENTROPIC_START_EPSILONS``;
    a run whose coupling is not finite (Sinkhorn underflow at small ε) is skipped."""
    import warnings

    ot = import_pot()

    scale = max(float(np.abs(C).max()), float(np.abs(D).max())) ** 2
    out: dict[str, np.ndarray] = {}
    if scale <= 0:
        return out
    for eps in ENTROPIC_START_EPSILONS:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # non-convergence shows as a poor start, nothing worse
            T = ot.gromov.entropic_gromov_wasserstein(C, D, p, q, "square_loss", epsilon=eps * scale, max_iter=200)
        if np.isfinite(T).all() and T.sum() > 0:
            # Sinkhorn leaves marginal errors of ~1e-7; POT's solver checks G0's marginals
            # (rtol 1e-7), so a few proportional-fitting sweeps make them exact first.
            for _ in range(50):
                T = T * (p / np.maximum(T.sum(1), 1e-300))[:, None]
                T = T * (q / np.maximum(T.sum(0), 1e-300))[None, :]
            if np.abs(T.sum(1) - p).max() <= 1e-10 and np.abs(T.sum(0) - q).max() <= 1e-10:
                out[f"entropic-{eps:g}"] = T
    return out


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
    coupling ``p qᵀ``, the sorted-degree coupling T*, the TLB's optimal coupling, the
    spectral alignments, and either entropic GW couplings (n·m > 1024) or 4× the
    ``restarts`` random vertex couplings (seeded; small graphs) — keeping the best objective.

    POT alone is a local method (it can end far above the optimum), so for n = m ≤ 8 with
    uniform weights (omitted or given explicitly) the exhaustive permutation optimum is
    taken too (``brute_force``), certified optimal when both graphs are PSD
    (co-activation graphs ``ZₖᵀZₖ`` are). Otherwise the certificate is the largest of the
    lower bounds of :mod:`fusion.gw.bounds`.
    """
    ot = import_pot()

    t0 = time.perf_counter()
    Ct, Dt = check_graph(C, "C").to(torch.float64), check_graph(D, "D").to(torch.float64)
    if Ct.ndim != 2 or Dt.ndim != 2:
        raise ValueError("exact_gw takes two single graphs (n, n) and (m, m)")
    n, m = Ct.shape[0], Dt.shape[0]
    if restarts < 0:
        raise ValueError(f"restarts={restarts} must be >= 0")
    pt, qt = check_weights(p, n, Ct, "p"), check_weights(q, m, Dt, "q")
    uniform = weights_are_uniform(pt) and weights_are_uniform(qt)
    Cn, Dn, pn, qn = Ct.numpy(), Dt.numpy(), pt.numpy(), qt.numpy()
    rng = np.random.default_rng(seed)

    lower_bounds: dict[str, float] = {"degree": float(gw_bounds(Ct, Dt, pt, qt).lower)}
    tlb = third_lower_bound_lp(Ct, Dt, pt, qt)
    spectral = spectral_lower_bound(Ct, Dt, pt, qt)
    if tlb is not None:
        lower_bounds["tlb"] = tlb.value
    if spectral is not None:
        lower_bounds["spectral"] = spectral

    starts: dict[str, np.ndarray] = {
        "product": np.outer(pn, qn),
        "sorted-degree": sorted_degree_coupling(Ct, Dt, pt, qt).numpy(),
    }
    if tlb is not None:
        starts["tlb"] = tlb.coupling
    starts.update(_spectral_couplings(Cn, Dn, pn, qn))
    if n * m > SMALL_GRAPH_NM:  # small graphs get more random restarts instead (cheaper)
        starts.update(_entropic_couplings(Cn, Dn, pn, qn))
    count = restarts * (SMALL_GRAPH_RESTART_FACTOR if n * m <= SMALL_GRAPH_NM else 1)
    for r in range(count):
        starts[f"random-{r}"] = _random_vertex_coupling(pn, qn, rng)
    best_value, best_T, values = math.inf, starts["product"], {}
    for name, G0 in starts.items():
        T = ot.gromov.gromov_wasserstein(Cn, Dn, pn, qn, loss_fun="square_loss", G0=G0)
        value = gw_objective(Cn, Dn, T)
        values[name] = value
        if value < best_value:
            best_value, best_T = value, T
    method = "conditional-gradient"
    if brute_force and uniform and n == m and n <= BRUTE_FORCE_MAX_N:
        bf = brute_force_gw(Cn, Dn)
        values["brute-force"] = bf.value
        if bf.value <= best_value:
            best_value, best_T = bf.value, bf.coupling
        if bf.certified:
            method = "brute-force"
            lower_bounds["brute-force"] = bf.value
    name = max(lower_bounds, key=lambda key: lower_bounds[key])
    lower = min(lower_bounds[name], best_value)
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
        lower_bounds=lower_bounds,
        lower_bound_name=name,
        seconds=time.perf_counter() - t0,
    )


def entropic_gw(
    C: ArrayLike, D: ArrayLike, p: ArrayLike | None = None, q: ArrayLike | None = None, *, epsilon: float
) -> Tensor:
    """Entropic GW (POT ``entropic_gromov_wasserstein2``, square loss) on torch tensors —
    so it runs wherever the inputs live (GPU tensors on the GPU). Returns the GW objective
    at the entropic coupling (no entropy term), comparable with :func:`exact_gw`."""
    ot = import_pot()

    if epsilon <= 0:
        raise ValueError(f"epsilon={epsilon} must be positive")
    Ct, Dt = check_graph(C, "C"), check_graph(D, "D")
    pt = check_weights(p, Ct.shape[-1], Ct, "p")
    qt = check_weights(q, Dt.shape[-1], Dt, "q")
    return ot.gromov.entropic_gromov_wasserstein2(Ct, Dt, pt, qt, loss_fun="square_loss", epsilon=epsilon)
