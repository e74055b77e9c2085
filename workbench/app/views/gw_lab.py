"""GW lab: WD vs exact GW vs the sorting approximations, bound validation, runtime.

Reads ``workbench bounds`` reports (graph families) and ``workbench diagnose`` tables
(real logits, per checkpoint). Both hold the per-pair columns of
:func:`workbench.bounds.evaluate_pair`; the per-group summary (violations, correlations,
relative errors) is :func:`workbench.bounds.summarize` — no statistic is recomputed here.
"""

from __future__ import annotations

from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from workbench.app import data, fmt, safe
from workbench.app.root import current_root
from workbench.app.widgets import chart, empty_state, error, load_or_error, paginate, table
from workbench.bounds import approximation_columns, summarize

CONVENTION = ("GW = Σ (C_ik − D_jl)² T_ij T_kl — POT's square-loss objective (no ½, no square root); "
              "exact GW is the best of several conditional-gradient starts (brute force when n = m ≤ 8).")
#: Columns every table shown here must have (what evaluate_pair writes).
REQUIRED = ("n", "m", "gw_exact", "lower", "upper", "lower_held", "upper_held")
#: The distributions compared per group, when present.
QUANTITIES = ("wd", "gw_exact", "gw_entropic", "sort_degree_o2", "sort_degree_o1", "paper_o1")
BOUND_COLUMNS = ["family", "pairs", "certified_exact", "median_gap", "p90_gap", "lower_violations",
                 "upper_cs_violations", "upper_violations", "upper_violations_at_T_star", "pot_default_above_upper",
                 "prop1_violations_sort", "prop1_violations_paper", "median_ghat2_over_gw"]
#: What the sorting approximation is, measured (README "What ĝ₂ is").
GHAT_NOTE = ("ĝ₂ (GLD's sorting value) is a provable lower bound of GW and a rank proxy, not an approximation of "
             "its value: on real SmolLM2-135M / Gemma-3-270M graphs it is a small fraction of exact GW "
             "(median_ghat2_over_gw), so read it through its rank correlation with GW.")


def diagnostics_tables(folder: Path) -> list[Path]:
    """The per-example table of a ``workbench diagnose`` folder (``examples``; Parquet
    preferred over its CSV twin). Other tables there (summary, export) are not per pair."""
    for name in ("examples.parquet", "examples.csv"):
        if safe.present(folder / name):
            return [folder / name]
    return []


def with_groups(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``group``: the checkpoint (and source, when several) for diagnostics tables,
    the graph family for bound reports. ``family`` is set to it for ``summarize``."""
    df = df.copy()
    if "checkpoint" in df.columns:
        group = df["checkpoint"].astype(str)
        if "source" in df.columns and df["source"].nunique() > 1:
            group = group + " | " + df["source"].astype(str)
        df["group"] = group
    else:
        df["group"] = df["family"].astype(str)
    if "step" in df.columns:
        df = df.sort_values("step", kind="stable")
    df["family"] = df["group"]
    for col in [c for c in df.columns if c.endswith("_held") or c == "pot_default_above_upper"]:
        df[col] = df[col].astype(bool)
    return df


def load_dataset(kind: str, path: Path) -> pd.DataFrame | None:
    """The per-pair table of a bounds report or a diagnostics table (None on error)."""
    if kind == "bounds":
        loaded = load_or_error(data.bounds_report, path)
        return None if loaded is None else loaded[0]
    return load_or_error(data.table, path, REQUIRED)


def render() -> None:
    """The GW lab page."""
    st.title("GW lab")
    st.caption(CONVENTION)
    st.caption(GHAT_NOTE)
    root = current_root()
    inv = load_or_error(data.inventory, str(root))
    if inv is None:
        return
    choices: dict[str, tuple[str, Path]] = {}
    for folder in inv.diagnostics:
        for path in diagnostics_tables(folder):
            choices[f"diagnostics · {inv.label(path)}"] = ("diagnostics", path)
    for folder in inv.bounds_reports:
        choices[f"bounds · {inv.label(folder)}"] = ("bounds", folder)
    if not choices:
        empty_state("bound-validation report or diagnostics table", root,
                    f"workbench bounds --out {root}/bounds\n"
                    f"workbench diagnose --checkpoints {root}/<run> --out {root}/<run>/diagnostics")
        return
    label = st.selectbox("Report", list(choices), key="gwlab-report")
    kind, path = choices[label]
    df = load_dataset(kind, path)
    if df is None:
        return
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        error(f"{path}: missing column(s) {', '.join(missing)}")
        return
    df = with_groups(df)
    groups = list(dict.fromkeys(df["group"]))
    # Keyed by report: another report's groups must not carry over as this one's selection.
    chosen = st.multiselect("Groups (checkpoint or graph family)", groups, default=groups,
                            key=f"gwlab-groups-{label}")
    df = df[df["group"].isin(chosen)]
    if df.empty:
        st.warning("No rows in the chosen groups.")
        return
    summary = summarize(df)
    st.caption(f"{len(df)} pairs in {len(chosen)} group(s) from {fmt.md(path)}")

    trajectory_path = path.parent / "trajectory.parquet" if kind == "diagnostics" else None
    names = ["Distributions", "Approximation vs exact", "Bound validation", "Runtime vs n", "Pairs"]
    if trajectory_path is not None and safe.present(trajectory_path):
        names.append("Trajectory over checkpoints")
    tabs = st.tabs(names)
    with tabs[0]:
        distributions(df)
    with tabs[1]:
        approximation_scatter(df, summary)
    with tabs[2]:
        bound_validation(df, summary)
    with tabs[3]:
        runtime(df)
    with tabs[4]:
        paginate(df.drop(columns=["family"]), key="gwlab-pairs")
    if len(tabs) > 5:
        with tabs[5]:
            trajectory = load_or_error(data.table, trajectory_path, ("step", "source"))
            if trajectory is not None:
                show_trajectory(trajectory)


def distributions(df: pd.DataFrame) -> None:
    """Medians and box plots of WD, exact GW and the approximations per group."""
    present = [q for q in QUANTITIES if q in df.columns]
    long = df[["group", *present]].melt(id_vars=["group"], var_name="quantity", value_name="value")
    medians = long.groupby(["group", "quantity"], sort=False)["value"].median().unstack("quantity")
    st.subheader("Median per group")
    table(medians[present], key="gwlab-medians")
    log = st.checkbox("Log scale", value=True, key="gwlab-log", help="zeros are left out on a log scale")
    if log:
        long = long[long["value"] > 0]
    # One panel per quantity with its own scale: WD, GW and the approximations differ by
    # orders of magnitude, so a shared axis would flatten all but the largest.
    spec = alt.Chart(long).mark_boxplot(extent="min-max").encode(
        x=alt.X("group:N", sort=list(dict.fromkeys(df["group"])), title=None),
        y=alt.Y("value:Q", scale=alt.Scale(type="log") if log else alt.Scale(zero=False), title=None),
        color=alt.Color("group:N", legend=None),
    ).properties(width=200, height=220).facet(
        facet=alt.Facet("quantity:N", sort=present, title=None), columns=3,
    ).resolve_scale(y="independent")
    chart(spec)


def approximation_scatter(df: pd.DataFrame, summary: pd.DataFrame) -> None:
    """Approximation vs exact GW with the y = x line and the correlations of summarize()."""
    variants = [c for c in approximation_columns() if c in df.columns]
    variant = st.selectbox("Approximation", variants, index=variants.index("sort_degree_o2")
                           if "sort_degree_o2" in variants else 0, key="gwlab-variant")
    log = st.checkbox("Log–log axes", value=True, key="gwlab-scatter-log",
                      help="the approximations can be orders of magnitude below GW; zeros are left out")
    shown = df[(df["gw_exact"] > 0) & (df[variant] > 0)] if log else df
    values = pd.concat([shown["gw_exact"], shown[variant]])
    low, top = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    scale = alt.Scale(type="log") if log else alt.Scale()
    points = alt.Chart(shown).mark_circle(size=40).encode(
        x=alt.X("gw_exact:Q", title="exact GW", scale=scale), y=alt.Y(f"{variant}:Q", title=variant, scale=scale),
        color="group:N", tooltip=["group", "n", "m", "gw_exact", variant],
    )
    diagonal = alt.Chart(pd.DataFrame({"x": [low if log else 0.0, top], "y": [low if log else 0.0, top]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x=alt.X("x:Q", scale=scale), y=alt.Y("y:Q", scale=scale))
    chart((points + diagonal).interactive(), width="stretch")
    cols = ["family", f"pearson_{variant}", f"spearman_{variant}", f"median_rel_err_{variant}"]
    correlations = summary[cols].rename(columns={"family": "group", f"pearson_{variant}": "pearson",
                                                 f"spearman_{variant}": "spearman",
                                                 f"median_rel_err_{variant}": "median |approx−GW|/GW"})
    st.subheader(f"Correlation of {fmt.md(variant)} with exact GW")
    table(correlations, hide_index=True, key="gwlab-correlations")


def bound_validation(df: pd.DataFrame, summary: pd.DataFrame) -> None:
    """Held / violated counts of ĝ₂ ≤ GW ≤ ĝ₂ + 2(V_C+V_D) and Prop. 1; error vs bound."""
    checks = {"lower ĝ₂ ≤ GW": "lower_held", "upper GW ≤ ĝ₂ + 2(V_C+V_D)": "upper_held",
              "upper at T*": "upper_held_at_T_star", "Prop. 1 (ĝ₂)": "prop1_held_sort_degree_o2",
              "Prop. 1 (paper)": "prop1_held_paper_o1"}
    counts = pd.DataFrame([
        {"check": name, "held": int(df[col].sum()), "violated": int((~df[col]).sum())}
        for name, col in checks.items() if col in df.columns
    ])
    table(counts, hide_index=True, key="gwlab-held")
    st.caption("ĝ₂ ≤ GW ≤ ĝ₂ + 2(V_C+V_D) is provable: a violation means a solver or data problem. "
               "Proposition 1 holds only for row-stochastic graphs with uniform weights.")
    table(summary[[c for c in BOUND_COLUMNS if c in summary.columns]].rename(columns={"family": "group"}),
          hide_index=True, key="gwlab-violations")
    err = df.assign(bound_width=df["upper"] - df["lower"], error=df["gw_exact"] - df["lower"])
    top = float(err["bound_width"].max()) or 1.0
    points = alt.Chart(err).mark_circle(size=40).encode(
        x=alt.X("bound_width:Q", title="upper − lower (bound width)"),
        y=alt.Y("error:Q", title="GW − ĝ₂ (error of the approximation)"),
        color="group:N", tooltip=["group", "n", "m", "gw_exact", "lower", "upper"],
    )
    line = alt.Chart(pd.DataFrame({"x": [0.0, top], "y": [0.0, top]})).mark_line(
        strokeDash=[4, 4], color="gray").encode(x="x:Q", y="y:Q")
    chart((points + line).interactive(), width="stretch")


def runtime(df: pd.DataFrame) -> None:
    """Seconds per pair of the exact, entropic and sorting computations vs √(n·m), log-log."""
    timers = {"exact GW": "time_exact_s", "entropic GW": "time_entropic_s", "sorting": "time_sorting_s"}
    present = {name: col for name, col in timers.items() if col in df.columns}
    if not present:
        st.info("This table has no timing columns.")
        return
    size = np.sqrt(df["n"].astype(float) * df["m"].astype(float))
    long = pd.concat([pd.DataFrame({"size": size, "seconds": df[col], "method": name, "group": df["group"]})
                      for name, col in present.items()])
    long = long[long["seconds"] > 0]
    spec = alt.Chart(long).mark_point().encode(
        x=alt.X("size:Q", scale=alt.Scale(type="log"), title="√(n·m)"),
        y=alt.Y("seconds:Q", scale=alt.Scale(type="log")),
        color="method:N", shape="group:N", tooltip=["group", "method", "size", "seconds"],
    )
    chart(spec.interactive(), width="stretch")
    table(long.groupby("method")["seconds"].median().rename("median seconds"), key="gwlab-times")


def show_trajectory(trajectory: pd.DataFrame) -> None:
    """Mean WD, exact GW and approximations per checkpoint step (``workbench diagnose``'s
    trajectory table): how fusion moves the pivot's graphs towards each source."""
    if trajectory["step"].dropna().nunique() < 2:
        st.info("These diagnostics cover one model, not a run's checkpoints: "
                "`workbench diagnose --checkpoints RUN_DIR` gives a trajectory.")
        table(trajectory, hide_index=True, key="gwlab-trajectory")
        return
    means = [c for c in trajectory.columns if c.endswith("_mean")]
    long = trajectory[["step", "source", *means]].melt(id_vars=["step", "source"], var_name="quantity",
                                                       value_name="mean")
    spec = alt.Chart(long).mark_line(point=True).encode(
        x="step:Q", y=alt.Y("mean:Q", title=None), color="source:N", tooltip=["step", "source", "quantity", "mean"],
    ).properties(width=260, height=180).facet(facet="quantity:N", columns=3).resolve_scale(y="independent")
    chart(spec)
    table(trajectory, hide_index=True, key="gwlab-trajectory")
