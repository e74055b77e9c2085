"""Samples: per benchmark and model — prompt, raw output, extracted answer, gold, score;
filter correct / incorrect and disagreement with a second model."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench.app import data, evals, fmt
from workbench.app.root import current_root
from workbench.app.widgets import empty_state, load_or_error, paginate

NONE = "(none)"


def render() -> None:
    """The Samples page."""
    st.title("Samples")
    root = current_root()
    inv = load_or_error(data.inventory, str(root))
    if inv is None:
        return
    found = [e for e in inv.evals if e.has_samples]
    if not found:
        empty_state("scored samples (samples.jsonl)", root,
                    f"workbench eval --model smollm2-135m-instruct --benchmarks gsm8k --limit 20 --out {root}/evals")
        return
    order = evals.benchmark_order()
    benchmarks = sorted({e.benchmark for e in found}, key=lambda b: (order.index(b) if b in order else 99, b))
    c1, c2, c3 = st.columns(3)
    bench = c1.selectbox("Benchmark", benchmarks, key="sm-bench")
    by_model = {e.model: e for e in found if e.benchmark == bench}
    models = list(by_model)
    model = c2.selectbox("Model", models, key="sm-model")
    others = [NONE] + [m for m in models if m != model]
    other = c3.selectbox("Compare with", others, key="sm-other",
                         help="a second model on the same benchmark, to find items where they disagree")
    samples = load_or_error(data.samples, by_model[model].samples)
    if samples is None:
        return
    outcome = st.radio("Show", ["all", "correct", "incorrect"], horizontal=True, key="sm-outcome")
    table = samples.assign(correct=samples["score"] >= evals.SOLVED)
    if other != NONE:
        other_samples = load_or_error(data.samples, by_model[other].samples)
        if other_samples is not None:
            table = with_other(table, other_samples, other)
            if st.checkbox("Only items where the two models disagree", value=False, key="sm-disagree"):
                table = table[table["disagree"]]
    if outcome != "all":
        table = table[table["correct"] == (outcome == "correct")]
    solved = int((samples["score"] >= evals.SOLVED).sum())
    st.caption(f"{fmt.md(model)} on {fmt.md(bench)}: mean score {fmt.number(samples['score'].mean())} over "
               f"{len(samples)} items ({solved} solved); showing {len(table)}.")
    columns = [c for c in ["doc_id", "score", "correct", "extracted", "gold", "other score", "other extracted",
                           "disagree", "prompt", "output"] if c in table.columns]
    shown = paginate(table[columns], key="sm-table", hide_index=True)
    if shown.empty:
        return
    doc = st.selectbox("Item detail", list(shown["doc_id"]), key="sm-doc")
    detail(table[table["doc_id"] == doc].iloc[0], other)


def with_other(table: pd.DataFrame, other: pd.DataFrame, name: str) -> pd.DataFrame:
    """Join the second model's score, answer and output on ``doc_id``; ``disagree`` marks
    items solved by exactly one of the two."""
    right = other[["doc_id", "score", "extracted", "output"]].rename(
        columns={"score": "other score", "extracted": "other extracted", "output": "other output"})
    merged = table.merge(right, on="doc_id", how="left")
    merged["disagree"] = merged["other score"].notna() & (merged["correct"] != (merged["other score"] >= evals.SOLVED))
    return merged


def _field(value: object) -> str:
    return NONE if value is None or (isinstance(value, float) and value != value) else str(value)


def detail(row: pd.Series, other: str) -> None:
    """Full prompt, raw output (and the other model's), extracted answer and gold — every
    field as plain text (``st.text`` / ``st.text_area``: never parsed as Markdown)."""
    st.text(f"doc_id: {_field(row['doc_id'])}   score: {fmt.number(row['score'])}")
    st.text(f"gold: {_field(row['gold'])}")
    st.text(f"extracted: {_field(row['extracted'])}")
    doc = row["doc_id"]
    st.text_area("Prompt", str(row.get("prompt") or ""), height=160, disabled=True, key=f"sm-prompt-{doc}")
    st.text_area("Raw output", str(row.get("output") or ""), height=160, disabled=True, key=f"sm-out-{doc}")
    if other != NONE and "other output" in row and isinstance(row["other output"], str):
        st.text_area(f"Output of {fmt.md(other)}", row["other output"], height=160, disabled=True,
                     key=f"sm-other-{doc}")
