"""The diagnostics report: run :func:`workbench.diagnostics.run_diagnostics`, then write
the per-example table, aggregates, figures and graph export into one output folder.

Files (every table as parquet AND csv, so pandas reads each one):

* ``examples``  — one row per (checkpoint, source, example): WD, every §2.5 number.
* ``summary``   — per (checkpoint|source) group: ``workbench.bounds.summarize`` (bound
  violations, Prop-1 results, Pearson/Spearman/relative error per variant) plus the
  worst-case bound excess.
* ``correlations`` — long form, per group and pooled ("all"): variant, Pearson, Spearman,
  median relative error.
* ``trajectory`` — per checkpoint step and source: mean / median WD, exact GW, ĝ₂.
* ``graph_nodes``, ``graph_edges``, ``graph_coupling`` + ``graphs/*.json`` — the export.
* figures ``distributions.png``, ``scatter.png``, ``runtime.png``, ``bounds.png``,
  ``trajectory.png``; ``diagnostics.json`` — options, convention, file list.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fusion.data import Example
from workbench.bounds import approximation_columns, summarize, write_figures
from workbench.diagnostics import DiagnosedPair, GraphOptions, ModelOutputs, ModelRef, run_diagnostics
from workbench.diagnostics_plots import distributions_figure, runtime_figure, scatter_figure, trajectory_figure
from workbench.graph_export import export_pair, write_pair_json

CONVENTION = "GW = sum (C_ik - D_jl)^2 T_ij T_kl (POT square_loss; no 1/2, no square root)"
TABLES = ("examples", "summary", "correlations", "trajectory", "graph_nodes", "graph_edges", "graph_coupling")
TRAJECTORY_METRICS = ("wd", "wd_index", "gw_exact", "gw_entropic", "sort_degree_o2", "sort_degree_o1", "paper_o1")


def markdown_table(df: pd.DataFrame, floatfmt: str = ".4g", max_rows: int | None = None) -> str:
    """A pipe table of ``df`` for the markdown reports (no tabulate dependency); floats in
    ``floatfmt``; past ``max_rows`` rows a line says how many more the CSV holds."""
    if df.empty:
        return "(none)"
    shown = df if max_rows is None else df.head(max_rows)

    def cell(v: object) -> str:
        return format(v, floatfmt) if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(map(str, shown.columns)) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    more = f"\n\n({len(df) - len(shown)} more rows in the CSV)" if len(shown) < len(df) else ""
    return "\n".join(lines) + more


def write_table(df: pd.DataFrame, out: Path, name: str) -> list[Path]:
    """Write ``df`` as ``name.parquet`` and ``name.csv``."""
    paths = [out / f"{name}.parquet", out / f"{name}.csv"]
    df.to_parquet(paths[0], index=False)
    df.to_csv(paths[1], index=False)
    return paths


def bound_excess(df: pd.DataFrame) -> pd.DataFrame:
    """Per group: worst case of each bound (positive = violated by that much)."""
    rows = []
    for family, g in df.groupby("family", sort=False):
        rows.append({
            "family": family,
            "worst_lower_excess": float((g["lower"] - g["gw_exact"]).max()),
            "worst_upper_excess": float((g["gw_exact"] - g["upper"]).max()),
            "worst_prop1_excess_sort": float(((g["gw_exact"] - g["sort_degree_o2"]).abs() - g["prop1"]).max()),
            "median_upper_over_gw": float((g["upper"] / g["gw_exact"].where(g["gw_exact"] > 0)).median()),
            "median_prop1_over_gw": float((g["prop1"] / g["gw_exact"].where(g["gw_exact"] > 0)).median()),
        })
    return pd.DataFrame(rows)


def spearman_given_size(x: np.ndarray, y: np.ndarray, size: np.ndarray) -> float:
    """Partial Spearman correlation of x and y controlling for ``log size``: the Pearson
    correlation of the rank residuals after a linear fit on the ranks of size. Graph size
    drives both GW and its approximations (entries of total-normalised graphs scale like
    1/n²), so the plain correlation alone can flatter an approximation."""
    from scipy import stats

    if len(x) < 4 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    rx, ry, rz = (stats.rankdata(v) for v in (x, y, np.log(size)))
    design = np.c_[np.ones_like(rz), rz]

    def residual(r: np.ndarray) -> np.ndarray:
        return r - design @ np.linalg.lstsq(design, r, rcond=None)[0]

    ex, ey = residual(rx), residual(ry)
    if np.ptp(ex) == 0 or np.ptp(ey) == 0:
        return float("nan")
    return float(stats.pearsonr(ex, ey)[0])


#: Quantities compared with exact GW besides the sorting variants.
OTHER_MEASURES = ("gw_entropic", "wd", "wd_index")


def correlation_table(summary: pd.DataFrame, df: pd.DataFrame | None = None) -> pd.DataFrame:
    """Long form of the per-variant columns of ``summarize``: one row per (group, variant);
    with the per-pair table ``df``, also entropic GW and WD against exact GW, and every
    row's Spearman correlation given graph size (:func:`spearman_given_size`)."""
    from scipy import stats

    rows = []
    for _, s in summary.iterrows():
        g = None
        if df is not None:
            g = df if s["family"] == "all" else df[df["family"] == s["family"]]
        for col in approximation_columns() + (list(OTHER_MEASURES) if g is not None else []):
            row = {"family": s["family"], "pairs": s["pairs"], "variant": col}
            if col in OTHER_MEASURES:
                assert g is not None  # OTHER_MEASURES are listed only when g is
                x, y = g[col].to_numpy(float), g["gw_exact"].to_numpy(float)
                varying = len(g) > 2 and np.ptp(x) > 0 and np.ptp(y) > 0
                row.update(pearson=float(stats.pearsonr(x, y)[0]) if varying else float("nan"),
                           spearman=float(stats.spearmanr(x, y)[0]) if varying else float("nan"),
                           median_rel_err=float("nan"))
            else:
                row.update(pearson=s[f"pearson_{col}"], spearman=s[f"spearman_{col}"],
                           median_rel_err=s[f"median_rel_err_{col}"])
            if g is not None:
                row["spearman_given_size"] = spearman_given_size(
                    g[col].to_numpy(float), g["gw_exact"].to_numpy(float), (g["n"] * g["m"]).to_numpy(float))
            rows.append(row)
    return pd.DataFrame(rows)


def aggregate_tables(df: pd.DataFrame, run_label: str) -> dict[str, pd.DataFrame]:
    """Summary, correlations and trajectory of a per-pair table (rebuildable from
    ``examples.parquet`` alone)."""
    summary = summarize(df).merge(bound_excess(df), on="family")
    pooled = summarize(df.assign(family="all"))
    correlations = pd.concat([correlation_table(pooled, df), correlation_table(summary, df)], ignore_index=True)
    return {"summary": summary, "correlations": correlations, "trajectory": trajectory_table(df, run_label)}


def write_aggregates(df: pd.DataFrame, out: Path, run_label: str) -> tuple[dict[str, pd.DataFrame], list[Path]]:
    """Write the aggregate tables and every figure of ``df`` into ``out``."""
    tables = aggregate_tables(df, run_label)
    for name, table in tables.items():
        write_table(table, out, name)
    correlations = tables["correlations"]
    figures = [distributions_figure(df, out), scatter_figure(df, correlations[correlations["family"] == "all"], out),
               runtime_figure(df, out), *write_figures(df, out)]
    if df["step"].nunique() > 1:
        figures.append(trajectory_figure(tables["trajectory"], out))
    return tables, figures


def trajectory_table(df: pd.DataFrame, run: str) -> pd.DataFrame:
    """Mean and median of each metric per (checkpoint, step, source)."""
    grouped = df.groupby(["checkpoint", "step", "source"], sort=False, dropna=False)
    agg = grouped[list(TRAJECTORY_METRICS)].agg(["mean", "median"])
    agg.columns = [f"{a}_{b}" for a, b in agg.columns]
    agg = agg.reset_index()
    agg.insert(0, "run", run)
    agg["examples"] = grouped.size().to_numpy()
    return agg.sort_values(["source", "step"]).reset_index(drop=True)


class _Exporter:
    """Collects the graph export of the first ``limit`` examples of each (checkpoint, source)."""

    def __init__(self, out: Path, *, limit: int, top_n: int, restarts: int, seed: int) -> None:
        self.out, self.limit, self.top_n, self.restarts, self.seed = out, limit, top_n, restarts, seed
        self.tables: dict[str, list[pd.DataFrame]] = {"nodes": [], "edges": [], "coupling": []}
        self.files: list[str] = []

    def __call__(self, diagnosed: DiagnosedPair, pivot: ModelOutputs, source: ModelOutputs) -> None:
        if diagnosed.pair.index >= self.limit:
            return
        tables = export_pair(diagnosed, pivot, source, top_n=self.top_n, restarts=self.restarts, seed=self.seed)
        for name, df in tables.items():
            self.tables[name].append(df)
        path = write_pair_json(tables, diagnosed.row, self.out / "graphs")
        self.files.append(str(path.relative_to(self.out)))
        diagnosed.row["graph_file"] = self.files[-1]

    def frames(self) -> dict[str, pd.DataFrame]:
        return {f"graph_{k}": (pd.concat(v, ignore_index=True) if v else pd.DataFrame()) for k,
                v in self.tables.items()}


def diagnose_to_folder(
    examples: Sequence[Example],
    pivots: Sequence[ModelRef],
    sources: Sequence[ModelRef],
    out: Path,
    options: GraphOptions = GraphOptions(),
    *,
    restarts: int = 4,
    seed: int = 0,
    export_examples: int = 10,
    top_n: int = 20,
    run_label: str = "",
    max_prompt_tokens: int = 256,
    max_response_tokens: int = 256,
    progress: bool = True,
    store_root: Path | None = None,
) -> dict[str, pd.DataFrame]:
    """Run the diagnostics and write every output file into ``out``; returns the tables.
    With ``store_root`` the folder is then indexed in that root's run store."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    exporter = _Exporter(out, limit=export_examples, top_n=top_n, restarts=restarts, seed=seed)
    rows = run_diagnostics(examples, pivots, sources, options, restarts=restarts, seed=seed,
                           max_prompt_tokens=max_prompt_tokens, max_response_tokens=max_response_tokens,
                           progress=progress, on_pair=exporter)
    df = pd.DataFrame(rows)
    if "graph_file" not in df:
        df["graph_file"] = None
    label = run_label or (pivots[0].name if pivots else "")
    aggregates, figures = write_aggregates(df, out, label)
    tables = {"examples": df, **aggregates, **exporter.frames()}
    files: list[str] = []
    for name in TABLES:
        if name in aggregates:
            files += [f"{name}.parquet", f"{name}.csv"]
        else:
            files += [p.name for p in write_table(tables[name], out, name)]
    meta: dict[str, Any] = {
        "convention": CONVENTION,
        "options": asdict(options),
        "restarts": restarts,
        "seed": seed,
        "run": run_label,
        "pivots": [asdict(p) for p in pivots],
        "sources": [asdict(s) for s in sources],
        "examples": len(examples),
        "rows": len(df),
        "seconds": round(time.time() - started, 1),
        "tables": files,
        "figures": [p.name for p in figures],
        "graph_files": exporter.files,
    }
    (out / "diagnostics.json").write_text(json.dumps(meta, indent=2, default=_json_default))
    if store_root is not None:
        from workbench.diagnostics_store import index_diagnostics
        from workbench.store import Store

        with Store(store_root) as store:
            index_diagnostics(store, out, run_id=run_label or None)
    return tables


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    return str(obj)
