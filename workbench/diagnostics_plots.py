"""Figures of the diagnostics report (matplotlib, Agg backend): distributions per
checkpoint, approximation vs exact scatter per variant, runtime vs graph size, trajectory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workbench.bounds import approximation_columns

CONVENTION = "GW square loss, POT convention Σ(C_ik − D_jl)² T_ij T_kl (no ½, no root)"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    """Lay out, write ``path`` (PNG, 110 dpi) and free the figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def _checkpoint_order(df: pd.DataFrame) -> list[str]:
    """Checkpoints in training order (step, then name)."""
    firsts = df.drop_duplicates("checkpoint")[["checkpoint", "step"]]
    return firsts.sort_values(["step", "checkpoint"], na_position="first")["checkpoint"].tolist()


def distributions_figure(df: pd.DataFrame, out: Path) -> Path:
    """Violins per checkpoint (and source) of WD, exact GW and ĝ₂ (degree)."""
    plt = _plt()
    metrics = [("wd", "WD (offsets alignment)"), ("gw_exact", "exact GW (best of starts)"),
               ("sort_degree_o2", "ĝ₂ degree (sorting)")]
    checkpoints = _checkpoint_order(df)
    sources = list(dict.fromkeys(df["source"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4.2))
    for ax, (col, title) in zip(axes, metrics):
        data, labels = [], []
        for src in sources:
            for ck in checkpoints:
                values = df.loc[(df["checkpoint"] == ck) & (df["source"] == src), col].dropna().to_numpy()
                if len(values):
                    data.append(values)
                    labels.append(ck if len(sources) == 1 else f"{ck}\n{src}")
        if data:
            ax.violinplot(data, showmedians=True)
            ax.set_xticks(range(1, len(labels) + 1), labels, rotation=30, fontsize=7)
        ax.set_title(title)
    fig.suptitle(CONVENTION, fontsize=9)
    return _save(fig, out / "distributions.png")


def scatter_figure(df: pd.DataFrame, correlations: pd.DataFrame, out: Path) -> Path:
    """Each sorting variant against exact GW, with its Pearson / Spearman in the title."""
    plt = _plt()
    cols = approximation_columns()
    ncols = 4
    nrows = int(np.ceil(len(cols) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3.4 * nrows))
    pooled = correlations.set_index("variant") if len(correlations) else None
    for ax, col in zip(axes.ravel(), cols):
        for ck, g in df.groupby("checkpoint", sort=False):
            ax.scatter(g["gw_exact"], g[col], s=8, label=str(ck))
        title = col
        if pooled is not None and col in pooled.index:
            r = pooled.loc[col]
            title += f"\nPearson {r['pearson']:.2f} · Spearman {r['spearman']:.2f}"
        ax.set(title=title, xlabel="exact GW", ylabel="approximation")
        ax.title.set_fontsize(8)
        ax.ticklabel_format(style="sci", scilimits=(-3, 3))
    for ax in axes.ravel()[len(cols):]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=6)
    fig.suptitle(CONVENTION, fontsize=9)
    return _save(fig, out / "scatter.png")


def runtime_figure(df: pd.DataFrame, out: Path) -> Path:
    """Seconds per pair against √(n·m), log-log: exact (best of starts), entropic, sorting."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    size = np.sqrt(df["n"] * df["m"])
    for col, label, marker in (("time_exact_s", "exact GW (all starts)", "o"),
                               ("time_entropic_s", "entropic GW", "s"),
                               ("time_sorting_s", "sorting ĝ (one variant)", "x")):
        ax.scatter(size, df[col].clip(lower=1e-7), s=10, marker=marker, label=label)
    ax.set(xscale="log", yscale="log", xlabel="√(n·m) (graph size)", ylabel="seconds", title="runtime vs graph size")
    ax.legend(fontsize=7)
    return _save(fig, out / "runtime.png")


def trajectory_figure(trajectory: pd.DataFrame, out: Path) -> Path:
    """Mean WD, exact GW and ĝ₂ per checkpoint step (paper Figure 5), relative to step 0."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for ax, col in zip(axes, ("wd_mean", "gw_exact_mean", "sort_degree_o2_mean")):
        for (run, src), g in trajectory.groupby(["run", "source"], sort=False):
            g = g.sort_values("step")
            ax.plot(g["step"], g[col], marker="o", label=f"{run} / {src}")
        ax.set(xlabel="training step", title=col.replace("_mean", " (mean over examples)"))
        ax.legend(fontsize=7)
    return _save(fig, out / "trajectory.png")
