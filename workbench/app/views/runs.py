"""Runs: fusion runs and their checkpoints, configs, loss curves per term, throughput."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from workbench.app import data, evals, readers
from workbench.app.discover import Inventory
from workbench.app.root import current_root
from workbench.app.widgets import empty_state, load_or_error, paginate


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
        if (run / "metrics.jsonl").is_file():
            try:
                m = data.metrics(run / "metrics.jsonl")
            except (ValueError, OSError) as exc:
                row["problem"] = str(exc)
            else:
                if not m.empty:
                    last = m.iloc[-1]
                    row["last step"] = int(last["step"])
                    for col in readers.loss_columns(m):
                        row[col] = float(last[col])
        rows.append(row)
    return pd.DataFrame(rows)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


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
    table = overview(inv)
    st.dataframe(table, hide_index=True, key="runs-overview")
    for db in inv.databases:
        with st.expander(f"Run store index `{inv.label(db)}` (opened read-only)"):
            counts = load_or_error(readers.query_readonly, db, INDEX_COUNTS)
            if counts is not None:
                st.dataframe(counts, hide_index=True, key=f"runs-index-{inv.label(db)}")
    labels = list(table["run"])
    label = st.selectbox("Run", labels, key="runs-run")
    run = inv.runs[labels.index(label)]
    tabs = st.tabs(["Training curves", "Throughput", "Config", "Checkpoints", "Evaluations"])
    metrics = None
    with tabs[0]:
        if (run / "metrics.jsonl").is_file():
            metrics = load_or_error(data.metrics, run / "metrics.jsonl")
            if metrics is not None:
                curves(metrics)
        else:
            st.info("This run has logged no metrics yet (`metrics.jsonl` appears after the first logging step).")
    with tabs[1]:
        if metrics is not None:
            throughput(metrics)
    with tabs[2]:
        if (run / "config.yaml").is_file():
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
            st.dataframe(ckpts, hide_index=True, key="runs-checkpoints")
        queue = run / "eval_queue.jsonl"
        if queue.is_file():
            rows = load_or_error(readers.read_jsonl, queue)
            if rows is not None:
                st.caption(f"Evaluation queue (consumed by `workbench eval --run {run}`): {len(rows)} checkpoint(s)")
                st.dataframe(pd.DataFrame(rows), hide_index=True, key="runs-queue")
    with tabs[4]:
        checkpoint_evals(inv, run)


def curves(metrics: pd.DataFrame) -> None:
    """One small chart per loss term (their scales differ by orders of magnitude), then
    the logged values, paginated."""
    terms = readers.loss_columns(metrics)
    if metrics.empty or not terms:
        st.info("metrics.jsonl holds no loss terms yet.")
        return
    chosen = st.multiselect("Loss terms", terms, default=terms, key="runs-terms")
    log = st.checkbox("Log scale", value=False, key="runs-log")
    long = metrics[["step", *chosen]].melt(id_vars=["step"], var_name="term", value_name="value").dropna()
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    chart = alt.Chart(long).mark_line(point=True).encode(
        x="step:Q", y=alt.Y("value:Q", scale=scale, title=None), color=alt.Color("term:N", legend=None),
        tooltip=["step", "term", "value"],
    ).properties(width=250, height=190).facet(
        facet=alt.Facet("term:N", sort=chosen, title=None), columns=3).resolve_scale(y="independent")
    st.altair_chart(chart)
    st.subheader("Logged values")
    paginate(metrics, key="runs-metrics", hide_index=True)


def throughput(metrics: pd.DataFrame) -> None:
    """Tokens per second and seconds per step."""
    tps = readers.throughput(metrics)
    if tps.empty:
        st.info("This run did not log `tokens` and `step_time_s`.")
        return
    c1, c2 = st.columns(2)
    c1.metric("Median tokens / s", f"{tps['tokens_per_s'].median():.1f}")
    c2.metric("Median seconds / step", f"{metrics['step_time_s'].median():.3f}")
    st.line_chart(tps, x="step", y="tokens_per_s")
    if "lr" in metrics.columns:
        st.line_chart(metrics, x="step", y="lr")


def checkpoint_evals(inv: Inventory, run: Path) -> None:
    """Benchmark scores of this run's checkpoints against the training step."""
    found = [e for e in inv.evals if _inside(e.model_dir, run)]
    if not found:
        st.info(f"No checkpoint of this run is evaluated yet. Evaluate them with `workbench eval --run {run}` "
                "(add `--watch` to follow a run that is still training).")
        return
    rows, errors = evals.headline_rows(found, data.json_object)
    for message in errors:
        st.error(f"Skipped a results file: {message}")
    if rows.empty:
        return
    rows["checkpoint"] = rows["model_dir"].map(lambda d: Path(d).name)
    rows["step"] = rows["checkpoint"].str.extract(r"(\d+)$", expand=False).astype(float)
    rows["score (%)"] = 100 * rows["value"]
    chart = alt.Chart(rows).mark_line(point=True).encode(
        x="step:Q", y="score (%):Q", color="benchmark:N", tooltip=["checkpoint", "benchmark", "score (%)", "n"])
    st.altair_chart(chart, width="stretch")
    table = rows.pivot_table(index=["step", "checkpoint"], columns="benchmark", values="score (%)").reset_index()
    st.dataframe(table, hide_index=True, key="runs-evals")
