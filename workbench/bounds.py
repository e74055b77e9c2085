"""Bound validation (DESIGN §2.5): for graph pairs, exact GW vs every sorting variant vs
the provable bounds and the Proposition-1 form, with timings.

``evaluate_pair`` measures one pair (all mathematics comes from :mod:`fusion.gw`);
``run_report`` measures families of pairs and writes CSV, JSON and figures.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats
from tqdm import tqdm

from fusion.gw import (
    CONVENTION,
    FEATURES,
    entropic_gw,
    exact_gw,
    gw_bounds,
    gw_objective,
    prop1_bound,
    sorted_degree_coupling,
    sorting_gw,
)
from workbench.graph_families import FAMILIES, GraphPair

# Relative slack for "held": floating-point noise only, scaled to the value compared.
TOLERANCE = 1e-9


def approximation_columns() -> list[str]:
    """Names of the sorting variants reported per pair."""
    cols = [f"sort_{feature}_o{order}" for feature in FEATURES for order in (1, 2)]
    return cols + ["paper_o1"]


def evaluate_pair(pair: GraphPair, *, restarts: int = 8, seed: int = 0, epsilon_rel: float = 0.05) -> dict[str, Any]:
    """Every number of DESIGN §2.5 for one pair: exact GW (best of starts, certificate),
    entropic GW, the sorting variants, the bounds, the Proposition-1 form, timings."""
    C, D = torch.as_tensor(pair.C, dtype=torch.float64), torch.as_tensor(pair.D, dtype=torch.float64)
    p, q = torch.as_tensor(pair.p, dtype=torch.float64), torch.as_tensor(pair.q, dtype=torch.float64)
    uniform = bool(np.allclose(pair.p, pair.p[0]) and np.allclose(pair.q, pair.q[0]))
    n, m = C.shape[0], D.shape[0]
    row: dict[str, Any] = {"family": pair.family, "index": pair.index, "n": n, "m": m,
                           "normalize": pair.normalize, "note": pair.note}

    t0 = time.perf_counter()
    # Uniform weights are passed as None so exact_gw may use its exhaustive oracle.
    exact = exact_gw(C, D, None if uniform else p, None if uniform else q, restarts=restarts, seed=seed)
    row["time_exact_s"] = time.perf_counter() - t0
    row.update(gw_exact=exact.value, gw_method=exact.method, gw_gap=exact.gap,
               gw_lower_certificate=exact.lower_bound, gw_lower_certificate_by=exact.lower_bound_name,
               gw_starts=exact.starts, seed=seed, gw_pot_default=exact.start_values["product"])
    for name in ("tlb", "spectral"):
        row[f"lower_{name}"] = exact.lower_bounds.get(name, float("nan"))

    scale = float(max(C.abs().max(), D.abs().max())) ** 2
    epsilon = max(epsilon_rel * scale, 1e-300)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Sinkhorn non-convergence is reported by the value
        row["gw_entropic"] = float(entropic_gw(C, D, p, q, epsilon=epsilon))
    row["time_entropic_s"] = time.perf_counter() - t0
    row["entropic_epsilon"] = epsilon

    t0 = time.perf_counter()
    for feature in FEATURES:
        for order in (1, 2):
            row[f"sort_{feature}_o{order}"] = float(sorting_gw(C, D, p, q, order=order, feature=feature))
    row["time_sorting_s"] = (time.perf_counter() - t0) / (2 * len(FEATURES))
    row["paper_o1"] = float(sorting_gw(C, D, p, q, order=1, mode="paper"))

    bounds = gw_bounds(C, D, p, q)
    row.update(lower=bounds.lower, upper=bounds.upper, upper_cs=bounds.upper_cs, var_C=bounds.variance_C,
               var_D=bounds.variance_D)
    row["prop1"] = prop1_bound(n, m)
    tol = TOLERANCE * max(scale, abs(exact.value))
    row["lower_held"] = bool(bounds.lower <= exact.value + tol)
    row["upper_held"] = bool(exact.value <= bounds.upper + tol)
    row["upper_cs_held"] = bool(exact.value <= bounds.upper_cs + tol)
    # The upper bound's proof evaluates GW at T*: checking it there needs no solver at all.
    row["gw_at_T_star"] = gw_objective(C, D, sorted_degree_coupling(C, D, p, q))
    row["upper_held_at_T_star"] = bool(row["gw_at_T_star"] <= bounds.upper + tol)
    row["upper_cs_held_at_T_star"] = bool(row["gw_at_T_star"] <= bounds.upper_cs + tol)
    # What ĝ₂ is on these graphs: a lower bound, as a fraction of GW (not an approximation).
    row["ghat2_over_gw"] = bounds.lower / exact.value if exact.value > 0 else float("nan")
    row["pot_default_above_upper"] = bool(row["gw_pot_default"] > bounds.upper + tol)
    row["prop1_held_sort_degree_o2"] = bool(abs(exact.value - row["sort_degree_o2"]) <= row["prop1"] + tol)
    row["prop1_held_paper_o1"] = bool(abs(exact.value - row["paper_o1"]) <= row["prop1"] + tol)
    return row


def generate_pairs(families: Iterable[str], count: int, seed: int, max_n: int) -> list[GraphPair]:
    """All pairs of the chosen families (deterministic in ``seed``)."""
    pairs: list[GraphPair] = []
    for offset, name in enumerate(families):
        if name not in FAMILIES:
            raise ValueError(f"unknown graph family {name!r}; choose from {', '.join(FAMILIES)}")
        pairs.extend(FAMILIES[name](count, seed + 1000 * offset, max_n))
    return pairs


def _violations(g: pd.DataFrame, held: str) -> float:
    """How many rows of ``g`` have ``held`` False (NaN when the column is absent)."""
    return float((~g[held].astype(bool)).sum()) if held in g else float("nan")


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per family: pair counts, bound violations, Prop-1 results, correlations of each
    approximation with exact GW (Pearson, Spearman) and median relative error."""
    rows = []
    for family, g in df.groupby("family", sort=False):
        row: dict[str, Any] = {
            "family": family,
            "pairs": len(g),
            "n_range": f"{int(g[['n', 'm']].min().min())}-{int(g[['n', 'm']].max().max())}",
            "certified_exact": int((g["gw_method"] == "brute-force").sum()),
            "median_gap": float(g["gw_gap"].median()),
            "lower_violations": int((~g["lower_held"]).sum()),
            "upper_violations": int((~g["upper_held"]).sum()),
            # Tables written before the Cauchy–Schwarz bound have no such columns: NaN.
            "upper_cs_violations": _violations(g, "upper_cs_held"),
            "upper_cs_violations_at_T_star": _violations(g, "upper_cs_held_at_T_star"),
            "p90_gap": float(g["gw_gap"].quantile(0.9)),
            "median_ghat2_over_gw": float(g["ghat2_over_gw"].median()) if "ghat2_over_gw" in g else float("nan"),
            "upper_violations_at_T_star": int((~g["upper_held_at_T_star"]).sum()),
            "pot_default_above_upper": int(g["pot_default_above_upper"].sum()),
            "prop1_violations_sort": int((~g["prop1_held_sort_degree_o2"]).sum()),
            "prop1_violations_paper": int((~g["prop1_held_paper_o1"]).sum()),
        }
        for col in approximation_columns():
            x, y = g[col].to_numpy(), g["gw_exact"].to_numpy()
            varying = np.ptp(x) > 0 and np.ptp(y) > 0 and len(g) > 2
            row[f"pearson_{col}"] = float(stats.pearsonr(x, y)[0]) if varying else float("nan")
            row[f"spearman_{col}"] = float(stats.spearmanr(x, y)[0]) if varying else float("nan")
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.abs(x - y) / np.where(y > 0, y, np.nan)
            row[f"median_rel_err_{col}"] = float(np.nanmedian(rel)) if np.isfinite(rel).any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def write_figures(df: pd.DataFrame, out: Path) -> list[Path]:
    """Approximation-vs-exact scatter, error-vs-bound, runtime-vs-n (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for family, g in df.groupby("family", sort=False):
        axes[0].scatter(g["gw_exact"], g["sort_degree_o2"], s=12, label=family)
        axes[1].scatter(g["upper"] - g["lower"], g["gw_exact"] - g["lower"], s=12, label=family)
        axes[2].scatter(np.sqrt(g["n"] * g["m"]), g["time_exact_s"], s=10, marker="o", label=f"{family}: exact")
        axes[2].scatter(np.sqrt(g["n"] * g["m"]), g["time_sorting_s"], s=10, marker="x", label=f"{family}: sorting")
    lim = float(df[["gw_exact", "sort_degree_o2"]].max().max()) or 1.0
    axes[0].plot([0, lim], [0, lim], "k--", lw=0.8)
    axes[0].set(xlabel="exact GW (best of starts)", ylabel="ĝ₂ (degree, sorting)", title="approximation vs exact")
    span = float((df["upper"] - df["lower"]).max()) or 1.0
    axes[1].plot([0, span], [0, span], "k--", lw=0.8)
    axes[1].set(xlabel="upper − lower (bound width)", ylabel="GW − lower (error of ĝ₂)", title="error vs bound")
    axes[2].set(xscale="log", yscale="log", xlabel="√(n·m)", ylabel="seconds", title="runtime vs graph size")
    for ax in axes:
        ax.legend(fontsize=6)
    fig.suptitle("GW square loss, POT convention Σ(C_ik − D_jl)² T_ij T_kl (no ½, no root)")
    fig.tight_layout()
    path = out / "bounds.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    paths.append(path)
    return paths


def run_report(
    out: Path,
    *,
    families: Iterable[str] = tuple(FAMILIES),
    pairs_per_family: int = 40,
    seed: int = 0,
    restarts: int = 8,
    max_n: int = 40,
    extra_pairs: Iterable[GraphPair] = (),
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure every pair, write ``pairs.csv``, ``summary.csv``, ``summary.json`` and
    ``bounds.png`` into ``out``; returns (per-pair table, summary table)."""
    out.mkdir(parents=True, exist_ok=True)
    pairs = generate_pairs(families, pairs_per_family, seed, max_n) + list(extra_pairs)
    rows = [evaluate_pair(pair, restarts=restarts, seed=seed)
            for pair in tqdm(pairs, desc="graph pairs", disable=not progress)]
    df = pd.DataFrame(rows)
    summary = summarize(df)
    df.to_csv(out / "pairs.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    meta = {
        "convention": CONVENTION,
        "what_ghat2_is": ("a provable lower bound of GW and a rank proxy, not an approximation of its value: "
                          "see median_ghat2_over_gw and the Spearman columns per family"),
        "seed": seed, "restarts": restarts, "pairs_per_family": pairs_per_family, "max_n": max_n,
        "summary": json.loads(summary.to_json(orient="records")),
    }
    (out / "summary.json").write_text(json.dumps(meta, indent=2))
    write_figures(df, out)
    return df, summary
