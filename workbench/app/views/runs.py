"""Runs: fusion runs and their checkpoints, configs, loss curves per term, throughput."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from workbench.app import data, evals, fmt, readers, safe
from workbench.app.discover import Inventory
from workbench.app.root import current_root
from workbench.app.widgets import chart, empty_state, error, load_or_error, paginate, table

#: Above this many points a line is drawn without a marker per point.
POINT_MARKS = 200


#: Rows per table of the run store (workbench/store.py); the app never writes to it.
INDEX_COUNTS = ("SELECT (SELECT COUNT(*) FROM runs) AS runs, (SELECT COUNT(*) FROM checkpoints) AS checkpoints, "
                "(SELECT COUNT(*) FROM eval_results) AS eval_results, (SELECT COUNT(*) FROM samples) AS samples")


def overview(inv: Inventory) -> pd.DataFrame:
    """One row per run: steps logged, last losses, checkpoints, evaluated checkpoints.
    A run whose metrics file is malformed shows the error in its ``problem`` column."""
    rows = []
    for run in inv.runs:
        row: dict[str, object] = {"run": inv.label(run)}
        ckpts = readers.checkpoint_table(run)
        row["checkpoints"] = len(ckpts)
        row["evaluated"] = len({e.model for e in inv.evals if _inside(e.model_dir, run)})
        row["problem"] = ""
        if safe.present(run / "metrics.jsonl"):
            try:
                m = data.metrics(run / "metrics.jsonl")
            except (ValueError, OSError) as exc:
                row["problem"] = str(exc)
            else:
                if not m.empty:
                    last = m.iloc[-1]
                    row["last step"] = int(last["step"])
                    for col in readers.loss_columns(m):
                        row[col] = float(readers.numeric(m[col].iloc[-1:]).iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


def _inside(path: Path, folder: Path) -> bool:
    return safe.inside(folder, path)


def render() -> None:
    """The Runs page."""
    st.title("Runs")
    root = current_root()
    inv = load_or_error(data.inventory, str(root))
    if inv is None:
        return
    if not inv.runs:
        empty_state("fusion runs", root, f"workbench fuse --config configs/tiny.yaml --output-dir {root}/tiny")
        return
    runs = overview(inv)
    table(runs, hide_index=True, key="runs-overview")
    if inv.links:
        st.caption(f"{len(inv.links)} symbolic link(s) under the root not followed (the app reads only plain "
                   "files and folders inside it): " + fmt.md(", ".join(inv.label(p) for p in inv.links[:10]))
                   + (" …" if len(inv.links) > 10 else ""))
    for number, db in enumerate(inv.databases):
        with st.expander(f"Run store index {fmt.md(inv.label(db))} (opened read-only, immutable)"):
            counts = load_or_error(readers.query_readonly, db, INDEX_COUNTS)
            if counts is not None:
                table(counts, hide_index=True, key=f"runs-index-{number}")
            wal = db.with_name(db.name + "-wal")
            if safe.is_plain_file(wal) and wal.lstat().st_size > 0:
                st.caption("A write-ahead log (-wal) lies beside this index: its latest writes are not "
                           "counted until a writer checkpoints it (the app never writes to the index).")
    labels = list(runs["run"])
    label = st.selectbox("Run", labels, key="runs-run")
    run = inv.runs[labels.index(label)]
    tabs = st.tabs(["Training curves", "Throughput", "Config", "Checkpoints", "Evaluations"])
    metrics = None
    with tabs[0]:
        if safe.present(run / "metrics.jsonl"):
            metrics = load_or_error(data.metrics, run / "metrics.jsonl")
            if metrics is not None:
                curves(metrics, run / "metrics.jsonl")
        else:
            st.info("This run has logged no metrics yet (`metrics.jsonl` appears after the first logging step).")
    with tabs[1]:
        if metrics is not None:
            throughput(metrics)
    with tabs[2]:
        if safe.present(run / "config.yaml"):
            loaded = load_or_error(data.config, run / "config.yaml")
            if loaded is not None:
                st.code(loaded[0], language="yaml")
        else:
            st.info("No config.yaml in this run.")
    with tabs[3]:
        ckpts = readers.checkpoint_table(run)
        if ckpts.empty:
            st.info("No checkpoints saved yet (`training.save_steps` in the config sets how often).")
        else:
            table(ckpts, hide_index=True, key="runs-checkpoints")
        queue = run / "eval_queue.jsonl"
        if safe.present(queue):
            rows = load_or_error(readers.read_jsonl, queue)
            if rows is not None:
                st.caption(f"Evaluation queue (consumed by workbench eval --run {fmt.md(run)}): "
                           f"{len(rows)} checkpoint(s)")
                table(pd.DataFrame(rows), hide_index=True, key="runs-queue")
    with tabs[4]:
        checkpoint_evals(inv, run)


def curves(metrics: pd.DataFrame, path: Path) -> None:
    """One small chart per loss term (their scales differ by orders of magnitude), then
    the logged values, paginated. Each curve is downsampled to at most
    ``readers.MAX_POINTS`` points (min/max per bucket, last point kept), so a 600k-step
    run draws as fast as a short one."""
    terms = readers.loss_columns(metrics)
    if metrics.empty or not terms:
        st.info("metrics.jsonl holds no loss terms yet.")
        return
    chosen = st.multiselect("Loss terms", terms, default=terms, key="runs-terms")
    log = st.checkbox("Log scale", value=False, key="runs-log")
    long = data.metrics_chart(path, chosen)
    if log:
        long = long[long["value"] > 0]
    if len(metrics) > readers.MAX_POINTS:
        st.caption(f"{len(metrics)} logged steps; each curve is drawn from at most {readers.MAX_POINTS} of "
                   "them (the lowest, highest, first and last of each stretch of steps).")
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    few = long.groupby("term").size().max() <= POINT_MARKS if len(long) else True
    spec = alt.Chart(long).mark_line(point=bool(few)).encode(
        x="step:Q", y=alt.Y("value:Q", scale=scale, title=None), color=alt.Color("term:N", legend=None),
        tooltip=["step", "term", "value"],
    ).properties(width=250, height=190).facet(
        facet=alt.Facet("term:N", sort=chosen, title=None), columns=3).resolve_scale(y="independent")
    chart(spec)
    st.subheader("Logged values")
    paginate(metrics, key="runs-metrics", hide_index=True)


def throughput(metrics: pd.DataFrame) -> None:
    """Tokens per second and seconds per step."""
    tps = readers.throughput(metrics)
    if tps.empty:
        st.info("This run did not log `tokens` and `step_time_s`.")
        return
    c1, c2 = st.columns(2)
    c1.metric("Median tokens / s", fmt.number(tps["tokens_per_s"].median()))
    c2.metric("Median seconds / step", fmt.number(readers.numeric(metrics["step_time_s"]).median()))
    line(readers.chart_frame(tps, ["tokens_per_s"]), "tokens / s")
    if "lr" in metrics.columns:
        line(readers.chart_frame(metrics, ["lr"]), "learning rate")


def line(long: pd.DataFrame, title: str) -> None:
    """One downsampled series (``readers.chart_frame`` rows) as a line chart."""
    spec = alt.Chart(long).mark_line().encode(x="step:Q", y=alt.Y("value:Q", title=title, scale=alt.Scale(zero=False)),
                                              tooltip=["step", "value"]).properties(height=240)
    chart(spec, width="stretch")


def checkpoint_evals(inv: Inventory, run: Path) -> None:
    """Benchmark scores of this run's checkpoints against the training step."""
    found = [e for e in inv.evals if _inside(e.model_dir, run)]
    if not found:
        st.info("No checkpoint of this run is evaluated yet. Evaluate them with workbench eval --run "
                f"{fmt.md(run)} (add --watch to follow a run that is still training).")
        return
    rows, errors = evals.headline_rows(found, data.json_object)
    for message in errors:
        error(f"Skipped a results file: {message}")
    if rows.empty:
        return
    rows["checkpoint"] = rows["model_dir"].map(lambda d: Path(d).name)
    rows["step"] = rows["checkpoint"].str.extract(r"(\d+)$", expand=False).astype(float)
    rows["score (%)"] = 100 * rows["value"]
    spec = alt.Chart(rows).mark_line(point=True).encode(
        x="step:Q", y="score (%):Q", color="benchmark:N", tooltip=["checkpoint", "benchmark", "score (%)", "n"])
    chart(spec, width="stretch")
    scores = rows.pivot_table(index=["step", "checkpoint"], columns="benchmark", values="score (%)").reset_index()
    table(scores, {c: fmt.percent for c in scores.columns if c not in ("step", "checkpoint")}, hide_index=True,
          key="runs-evals")
