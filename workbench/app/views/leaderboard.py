"""Leaderboard: models/checkpoints × the 11 benchmarks (with stderr), average, filters, CSV
export, and a paired comparison (McNemar exact, bootstrap CI) of two rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from workbench.app import data, evals, fmt, safe
from workbench.app.root import current_root
from workbench.app.widgets import empty_state, error, load_or_error, paginate
from workbench.app.widgets import table as show_table


@st.cache_data(max_entries=64, show_spinner="Paired comparison…")
def _compare(samples_a: tuple[tuple[str, str], ...], samples_b: tuple[tuple[str, str], ...],
             stamp: tuple) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    return evals.compare_models(dict(samples_a), dict(samples_b))


def _samples_of(rows: pd.DataFrame, model: str) -> tuple[tuple[str, str], ...]:
    """(benchmark, samples.jsonl) of one model, for the benchmarks that have one."""
    sub = rows[(rows["model"] == model) & rows["samples"].notna()]
    return tuple(sorted(zip(sub["benchmark"], sub["samples"])))


def _stamp(*samples: tuple[tuple[str, str], ...]) -> tuple:
    # Changes whenever a samples file of either model changes, so the cache stays right.
    paths = sorted({p for group in samples for _, p in group if safe.present(p)})
    return tuple((p, safe.lstat_stamp(p)) for p in paths)


def render() -> None:
    """The Leaderboard page."""
    st.title("Leaderboard")
    root = current_root()
    inv = load_or_error(data.inventory, str(root))
    if inv is None:
        return
    if not inv.evals:
        empty_state("evaluation results", root,
                    f"workbench eval --model smollm2-135m-instruct --benchmarks all --limit 20 --out {root}/evals\n"
                    f"workbench eval --run {root}/<run>      # every checkpoint of a fusion run")
        return
    rows, errors = evals.headline_rows(inv.evals, data.json_object)
    for message in errors:
        error(f"Skipped a results file: {message}")
    if rows.empty:
        return
    st.caption("Scores in percent; ± is the standard error of the mean over items; an empty (None) cell is a "
               "benchmark not evaluated yet; the average covers the benchmarks each model has among those shown.")
    # The paper's 11 benchmarks always (empty columns say what is still to evaluate).
    all_benchmarks = evals.benchmark_order() + sorted(set(rows["benchmark"]) - set(evals.benchmark_order()))
    c1, c2, c3 = st.columns([2, 3, 1])
    text = c1.text_input("Filter models", key="lb-filter", placeholder="substring, e.g. step- or tiny")
    chosen = c2.multiselect("Benchmarks", all_benchmarks, default=all_benchmarks, key="lb-benchmarks")
    show_se = c3.checkbox("stderr", value=True, key="lb-stderr")
    complete = c3.checkbox("complete only", value=False, key="lb-complete",
                           help="only models evaluated on every chosen benchmark")
    table = evals.leaderboard(rows, chosen, with_stderr=show_se)
    if text:
        table = table[table["model"].str.contains(text, case=False, regex=False)]
    if complete:
        table = table[table["benchmarks"] == len(chosen)]
    table = table.sort_values("average", ascending=False, na_position="last").reset_index(drop=True)
    event = show_table(table, {c: fmt.percent for c in table.columns if c not in ("model", "benchmarks")},
                       hide_index=True, key="lb-table", on_select="rerun", selection_mode="multi-row")
    st.download_button("Download CSV", table.to_csv(index=False).encode("utf-8"), file_name="leaderboard.csv",
                       mime="text/csv", key="lb-csv")

    st.header("Paired comparison")
    models = list(table["model"])
    if len(models) < 2:
        st.info("Two evaluated models are needed for a paired comparison.")
        return
    selected = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    if len(selected) == 2:
        default_a, default_b = models[selected[0]], models[selected[1]]
    else:
        st.caption("Select two rows in the table above, or pick them here.")
        default_a, default_b = models[0], models[1]
    c1, c2 = st.columns(2)
    model_a = c1.selectbox("Model A", models, index=models.index(default_a), key="lb-a")
    model_b = c2.selectbox("Model B", models, index=models.index(default_b), key="lb-b")
    if model_a == model_b:
        st.info("Pick two different models.")
    else:
        paired(rows, model_a, model_b)
    attribution_panel(rows, models)


@st.cache_data(max_entries=32, show_spinner="Fusion attribution…")
def _attribute(samples: tuple[tuple[str, tuple[tuple[str, str], ...]], ...], sources: tuple[str, ...],
               stamp: tuple) -> tuple[pd.DataFrame, pd.DataFrame]:
    return evals.attribution({role: dict(group) for role, group in samples}, list(sources))


def attribution_panel(rows: pd.DataFrame, models: list[str]) -> None:
    """Which of pivot / sources / fused model is right per item: transfer and forgetting
    rates, net gain with CI and McNemar p (``workbench attribute``), and the items."""
    st.header("Fusion attribution")
    if len(models) < 3:
        st.info("A fused model, its pivot and at least one source, all evaluated, are needed here.")
        return
    c1, c2, c3 = st.columns(3)
    fused = c1.selectbox("Fused model", models, index=0, key="at-fused")
    pivot = c2.selectbox("Pivot", [m for m in models if m != fused], key="at-pivot")
    sources = c3.multiselect("Sources", [m for m in models if m not in (fused, pivot)], key="at-sources")
    if not sources:
        st.caption("Pick the source model(s) to attribute the fused model's answers.")
        return
    roles = {"pivot": pivot, "fused": fused, **{f"source {i + 1}": m for i, m in enumerate(sources)}}
    samples = tuple((role, _samples_of(rows, model)) for role, model in roles.items())
    result = load_or_error(_attribute, samples, tuple(r for r in roles if r.startswith("source")),
                           _stamp(*(group for _, group in samples)))
    if result is None:
        return
    table, items = result
    percent: dict[str, Callable[[Any], str]] = {c: fmt.percent_fraction for c in table.columns
               if c.startswith("acc") or c.endswith("_rate") or c in ("net_gain", "ci_low", "ci_high")}
    show_table(table, percent, hide_index=True, key="at-table",
               column_config={"p_value": st.column_config.Column("McNemar p")})
    st.caption("Per benchmark and subtask, over the items every model was scored on (solved = score ≥ 0.5): "
               "transfer = share of the items only a source solved that the fused model now solves; "
               "forgetting = share of the pivot's solved items the fused model lost; net gain = fused − pivot with "
               "its paired-bootstrap 95% CI (2000 resamples) and McNemar's exact p. Sources: "
               + ", ".join(f"source {i + 1} = {m}" for i, m in enumerate(sources)) + ".")
    category = st.selectbox("Items", ["transferred", "forgotten", "not transferred", "new", "kept", "unsolved"],
                            key="at-category")
    paginate(items[items["category"] == category], key="at-items", hide_index=True)


def _signed(value: object) -> str:
    text = fmt.number(value)
    return text if text.startswith(("-", fmt.MISSING)) or text == "0" else "+" + text


def paired(rows: pd.DataFrame, model_a: str, model_b: str) -> None:
    """McNemar / bootstrap table for A vs B and the per-item differences of one benchmark."""
    samples_a, samples_b = _samples_of(rows, model_a), _samples_of(rows, model_b)
    result = load_or_error(_compare, samples_a, samples_b, _stamp(samples_a, samples_b))
    if result is None:
        return
    table, missing = result
    show_table(table, {"diff": _signed, "ci_low": _signed, "ci_high": _signed}, hide_index=True, key="lb-paired",
               column_config={"p_value": st.column_config.Column("McNemar p"), "diff": st.column_config.Column("B − A"),
                              "ci_low": st.column_config.Column("95% CI low"),
                              "ci_high": st.column_config.Column("95% CI high")})
    st.caption("B − A with its paired-bootstrap 95% CI (2000 resamples, seed 0); McNemar's exact test on "
               "the discordant items (solved = score ≥ 0.5); see `workbench compare`.")
    for side, names in missing.items():
        if names:
            st.caption(f"Not compared ({side.replace('_', ' ')}): {fmt.md(', '.join(names))}")
    bench = st.selectbox("Per-item differences on", list(table["benchmark"]), key="lb-item-bench")
    frame_a = load_or_error(data.samples, Path(dict(samples_a)[bench]))
    frame_b = load_or_error(data.samples, Path(dict(samples_b)[bench]))
    if frame_a is None or frame_b is None:
        return
    items = evals.per_item(frame_a, frame_b)
    only_diff = st.checkbox("Only items where A and B disagree", value=True, key="lb-only-diff")
    if only_diff:
        items = items[items["disagree"]]
    paginate(items, key="lb-items", hide_index=True)
