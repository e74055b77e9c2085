"""Gromov–Wasserstein mathematics (DESIGN.md §2.3–§2.5), split as POT splits ``ot.gromov``:

* :mod:`fusion.gw.sorting` — the sorting approximation GLD uses (torch only, batched,
  differentiable): node features, closed-form 1-D transport, the paper's sorted distance;
* :mod:`fusion.gw.bounds` — the GW objective and the provable bounds (the degree
  sandwich, Mémoli's TLB certified by LP duality, the spectral bound);
* :mod:`fusion.gw.exact` — the exact reference (POT's conditional gradient from many
  starts, brute force for small graphs, entropic GW) with its certificate.

What ĝ₂ is on real graphs: a provable lower bound of GW and a rank proxy, not an
approximation of its value (on real SmolLM2/Gemma-3 co-activation graphs ĝ₂ is a small
fraction of GW; see README "What ĝ₂ is" and bench/RESULTS.md for the measured numbers).

References: F. Mémoli, "Gromov–Wasserstein distances and the metric approach to object
matching", Found. Comput. Math. 11 (2011) (the third lower bound); N. Boizard et al.,
"Towards cross-tokenizer distillation: the Universal Logit Distillation loss for LLMs"
(2024) (sorted-probability WD); Y. Wang et al., "InfiGFusion: Graph-on-Logits
Distillation via Efficient Gromov-Wasserstein for Model Fusion" (2025) (GLD, the
sorting approximation and its Proposition 1).
"""

from fusion.gw.bounds import (
    GWBounds,
    ThirdLowerBound,
    gw_bounds,
    gw_objective,
    is_symmetric,
    monotone_coupling,
    prop1_bound,
    sorted_degree_coupling,
    spectral_lower_bound,
    third_lower_bound,
    third_lower_bound_lp,
    within_row_variance,
)
from fusion.gw.exact import BRUTE_FORCE_MAX_N, BruteForceGW, ExactGW, brute_force_gw, entropic_gw, exact_gw, is_psd
from fusion.gw.inputs import ArrayLike, check_graph, check_weights, weights_are_uniform
from fusion.gw.sorting import (
    FEATURES,
    SORT_MODES,
    Feature,
    SortMode,
    node_features,
    paper_sorted_distance,
    quantile_coupling,
    sorting_gw,
    wasserstein_1d_pp,
)

# The convention of every GW number the workbench shows (POT's square loss).
CONVENTION = "GW = Σ (C_ik − D_jl)² T_ij T_kl (POT square_loss; no ½, no square root)"

__all__ = [
    "ArrayLike", "BRUTE_FORCE_MAX_N", "BruteForceGW", "CONVENTION", "ExactGW", "FEATURES", "Feature", "GWBounds",
    "SORT_MODES", "SortMode", "ThirdLowerBound", "brute_force_gw", "check_graph", "check_weights", "entropic_gw",
    "exact_gw", "gw_bounds", "gw_objective", "is_psd", "is_symmetric", "monotone_coupling", "node_features",
    "paper_sorted_distance", "prop1_bound", "quantile_coupling", "sorted_degree_coupling", "sorting_gw",
    "spectral_lower_bound", "third_lower_bound", "third_lower_bound_lp", "wasserstein_1d_pp",
    "weights_are_uniform", "within_row_variance",
]
