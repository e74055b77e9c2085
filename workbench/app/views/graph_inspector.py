"""Graph inspector: one example, two models, k — co-activation heatmaps of the top nodes
with token labels, sorted-degree curves, the exact GW coupling, exact vs approximate values.

Recomputed on the fly (small inputs: a few response tokens, small k). Model outputs are
cached with ``st.cache_resource`` (one forward pass per model, example and k), the
inspection with ``st.cache_data``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from workbench.app import data, fmt, safe
from workbench.app.inspect_graphs import (
    GraphView,
    Inspection,
    example_from_dict,
    inspect_pair,
    inspection_from_export,
    sorted_degree_curve,
)
from workbench.app.readers import checkpoint_table
from workbench.app.root import current_root
from workbench.app.widgets import chart, error, load_or_error, table

#: Model specs always offered (tiny-random ones load in a second; built-ins are the real
#: SmolLM2-135M-Instruct / Gemma-3-270M of the paper's setting).
BASE_MODELS = ["tiny-random-llama", "tiny-random-gemma3", "smollm2-135m-instruct", "gemma3-270m"]
CUSTOM = "custom spec…"


@st.cache_resource(max_entries=8, show_spinner="Running the model on the example…")
def model_outputs(spec: str, template: str | None, example_json: str, k: int, value: str,
                  max_response_tokens: int) -> Any:
    """One model's top-k on one example (``workbench.diagnostics.model_topk``), cached."""
    from workbench.diagnostics import GraphOptions, ModelRef, model_topk

    example = example_from_dict(json.loads(example_json))
    options = GraphOptions(k=k, value=value)
    return model_topk(ModelRef(name=spec, spec=spec, template=template), [example], options,
                      max_response_tokens=max_response_tokens, progress=False)


@st.cache_data(max_entries=32, show_spinner="Computing graphs and GW…")
def inspection(pivot: tuple[str, str | None], source: tuple[str, str | None], example_json: str, k: int,
               value: str, nodes: str, normalize: str, weights: str, max_response_tokens: int,
               restarts: int) -> Inspection:
    """The cached :func:`inspect_pair` for one choice of every parameter."""
    from workbench.diagnostics import GraphOptions

    options = GraphOptions(k=k, value=value, nodes=nodes, normalize=normalize, weights=weights)
    example_id = str(json.loads(example_json)["id"])
    pout = model_outputs(*pivot, example_json, k, value, max_response_tokens)
    sout = model_outputs(*source, example_json, k, value, max_response_tokens)
    return inspect_pair(pout, sout, example_id, options, restarts=restarts)


@st.cache_data(show_spinner=False)
def demo_examples() -> list[dict[str, Any]]:
    """The built-in demo examples (``fusion.demo_data``)."""
    from fusion.demo_data import demo_examples as make

    return make(n=32, seed=0)


@st.cache_data(max_entries=16, show_spinner=False)
def data_file_examples(path: str, stamp: float) -> list[dict[str, Any]]:
    """Examples of a training JSONL (validated by ``fusion.data.load_examples``)."""
    from fusion.data import load_examples

    return [{"id": e.id, "prompt": e.prompt, "response": e.response} for e in load_examples(path)]


def _spec_allowed(spec: str, root: Path) -> bool:
    """Whether a model named in a run's config may be offered: a built-in name, a
    tiny-random spec or a hub id (the offline cache), or a local folder *inside* the root
    reached through no symbolic link. A config cannot make the app load a model from
    anywhere else on the machine."""
    local = Path(spec).expanduser()
    try:
        exists = os.path.lexists(local)
    except (OSError, ValueError):
        return False
    if not exists:
        return True  # not a local path: a name resolved by fusion.models
    return safe.inside(root, local) and safe.is_plain_dir(local)


def _data_file(data_path: object, root: Path, run: Path) -> Path | None:
    """The training data file a run's config names, when it is a plain file inside the
    root (relative paths tried against the run, its parent and the root); else None."""
    if not isinstance(data_path, str) or not data_path:
        return None
    given = Path(data_path)
    for candidate in ([given] if given.is_absolute() else [run / given, run.parent / given, root / given]):
        if safe.inside(root, candidate) and safe.is_plain_file(candidate):
            return Path(os.path.abspath(candidate))
    return None


def run_choices(root: Path) -> tuple[dict[str, tuple[str, str | None]], list[Path], dict[str, str | None]]:
    """Models and data files the runs under ``root`` name: their pivot, sources and
    checkpoints (label -> (spec, chat template)); the training data files found (only
    plain files inside the root: a config pointing elsewhere is not followed); and the
    first run's pivot/source labels as defaults."""
    inv = data.inventory(str(root))
    models: dict[str, tuple[str, str | None]] = {}
    files: list[Path] = []
    defaults: dict[str, str | None] = {"pivot": None, "source": None}
    for run in inv.runs:
        if not safe.present(run / "config.yaml"):
            continue
        try:
            _, cfg = data.config(run / "config.yaml")
        except (ValueError, OSError):
            continue  # the Runs page shows the error for this file
        pivot = found_pivot if isinstance(found_pivot := cfg.get("pivot"), dict) else {}
        template = pivot.get("chat_template") if isinstance(pivot.get("chat_template"), str) else None
        if pivot.get("model") and _spec_allowed(str(pivot["model"]), inv.root):
            models.setdefault(str(pivot["model"]), (str(pivot["model"]), template))
            defaults["pivot"] = defaults["pivot"] or str(pivot["model"])
        sources = found_sources if isinstance(found_sources := cfg.get("sources"), list) else []
        for source in sources:
            if isinstance(source, dict) and source.get("model") and _spec_allowed(str(source["model"]), inv.root):
                chat = source.get("chat_template") if isinstance(source.get("chat_template"), str) else None
                models.setdefault(str(source["model"]), (str(source["model"]), chat))
                defaults["source"] = defaults["source"] or str(source["model"])
        for row in checkpoint_table(run).itertuples():
            if row.complete:
                models[f"{inv.label(run)}/{row.checkpoint}"] = (row.path, template)
        data_cfg = found_data if isinstance(found_data := cfg.get("data"), dict) else {}
        found = _data_file(data_cfg.get("path"), inv.root, run)
        if found is not None and found not in files:
            files.append(found)
    return models, files, defaults


def pick_model(label: str, options: dict[str, tuple[str, str | None]], default: str,
               key: str) -> tuple[str, str | None]:
    """A model selectbox (with a free-text spec) returning (spec, chat template)."""
    names = list(options) + [CUSTOM]
    choice = st.selectbox(label, names, index=names.index(default) if default in names else 0, key=key)
    if choice == CUSTOM:
        spec = st.text_input(f"{label} spec", value="tiny-random-qwen2", key=f"{key}-spec",
                             help="built-in name, tiny-random-<family>[?key=value], local folder or checkpoint")
        return spec, None
    return options[choice]


def pick_example(files: list[Path]) -> dict[str, Any] | None:
    """Choose an example from the demo set, a run's training data, or typed text."""
    sources = ["demo examples"] + [f"data: {f}" for f in files] + ["custom text"]
    where = st.selectbox("Example from", sources, key="gi-example-source")
    if where == "custom text":
        prompt = st.text_area("Prompt", value="What is the capital of France?", key="gi-prompt")
        response = st.text_area("Response", value="The capital of France is Paris.", key="gi-response")
        return {"id": "custom", "prompt": prompt, "response": response} if prompt and response else None
    examples: list[dict[str, Any]] | None
    if where == "demo examples":
        examples = demo_examples()
    else:
        path = files[sources.index(where) - 1]
        if not safe.is_plain_file(path):  # replaced by a link since the scan: not followed
            error(f"{path}: not a plain file inside the root; not read")
            return None
        examples = load_or_error(data_file_examples, str(path), path.lstat().st_mtime)
        if not examples:
            return None
    ids = [e["id"] for e in examples]
    chosen = st.selectbox("Example", ids, key="gi-example")
    return examples[ids.index(chosen)]


@st.cache_data(max_entries=256, show_spinner=False)
def _export(path: str, stamp: float, row_json: str) -> Inspection:
    return inspection_from_export(data.json_object(Path(path)), json.loads(row_json) or None)


def export_choices(root: Path) -> dict[str, tuple[Path, Path]]:
    """Graph exports of every diagnostics folder: label -> (json file, diagnostics folder)."""
    inv = data.inventory(str(root))
    found = {}
    for folder in inv.diagnostics:
        for path in safe.plain_files(folder / "graphs", ".json"):
            found[f"{inv.label(folder)} · {path.stem}"] = (path, folder)
    return found


def exported(root: Path) -> Inspection | None:
    """Pick a pair exported by ``workbench diagnose`` (real logits, precomputed)."""
    choices = export_choices(root)
    label = st.selectbox("Exported pair (diagnostics · checkpoint__source__example)", list(choices),
                         key="gi-export")
    path, folder = choices[label]
    payload = load_or_error(data.json_object, path)
    if payload is None:
        return None
    row: dict[str, Any] = {}
    examples = folder / "examples.parquet"
    if safe.present(examples):
        df = load_or_error(data.table, examples)
        if df is not None and {"checkpoint", "source", "example_id"} <= set(df.columns):
            match = df[(df["checkpoint"].astype(str) == str(payload.get("checkpoint")))
                       & (df["source"].astype(str) == str(payload.get("source")))
                       & (df["example_id"].astype(str) == str(payload.get("example_id")))]
            if len(match):
                row = json.loads(match.iloc[0].to_json())
    return load_or_error(_export, str(path), path.lstat().st_mtime, json.dumps(row))


def recomputed(root: Path) -> Inspection | None:
    """Choose example, models and parameters; recompute everything on the fly."""
    run_models: dict[str, tuple[str, str | None]] = {}
    files: list[Path] = []
    defaults: dict[str, str | None] = {"pivot": None, "source": None}
    if root.is_dir():
        run_models, files, defaults = run_choices(root)
    models = dict(run_models)
    for name in BASE_MODELS:
        models.setdefault(name, (name, None))
    example = pick_example(files)
    pivot = pick_model("Pivot model", models, defaults["pivot"] or "tiny-random-llama", "gi-pivot")
    source = pick_model("Source model", models, defaults["source"] or "tiny-random-gemma3", "gi-source")
    k = st.slider("k (top-k per position)", 2, 32, 8, key="gi-k")
    max_tokens = st.slider("Response tokens used", 2, 64, 16, key="gi-tokens",
                           help="Small inputs keep exact GW interactive (n ≤ tokens × k nodes).")
    with st.expander("Graph options"):
        value = st.selectbox("value", ["prob", "logit", "zscore"], key="gi-value")
        nodes = st.selectbox("nodes", ["vocab", "rank"], key="gi-nodes")
        normalize = st.selectbox("normalize", ["total", "row", "none"], key="gi-normalize")
        weights = st.selectbox("node weights", ["uniform", "mass"], key="gi-weights")
        restarts = st.slider("exact GW random starts", 0, 8, 2, key="gi-restarts")
    if example is None:
        st.info("Type a prompt and a response (or pick an example).")
        return None
    example_json = json.dumps(example, sort_keys=True)
    try:
        return inspection(pivot, source, example_json, k, value, nodes, normalize, weights, max_tokens, restarts)
    except (ValueError, OSError, KeyError) as exc:
        error(f"Could not inspect this example: {exc}")
        return None


def render() -> None:
    """The graph inspector page."""
    st.title("Graph inspector")
    st.caption("Co-activation graph C = ZₖᵀZₖ of each model's response (DESIGN §2.2); "
               "GW = Σ (C_ik − D_jl)² T_ij T_kl, POT square loss (no ½, no square root).")
    root = current_root()
    has_exports = root.is_dir() and bool(export_choices(root))
    modes = (["exported by workbench diagnose"] if has_exports else []) + ["recompute on the fly"]
    left, right = st.columns([1, 2])
    with left:
        mode = st.radio("Graphs", modes, key="gi-mode")
        if not has_exports:
            st.caption(f"No graph export under {fmt.md(root)}; `workbench diagnose --checkpoints RUN --out "
                       "RUN/diagnostics` writes one (real logits, every checkpoint).")
        result = exported(root) if mode.startswith("exported") else recomputed(root)
        top = st.slider("Top nodes shown", 5, 60, 20, key="gi-top")
    if result is None:
        return
    with right:
        show_values(result)
    tabs = st.tabs(["Heatmaps", "Sorted degrees", "GW coupling", "Top nodes"])
    with tabs[0]:
        c1, c2 = st.columns(2)
        with c1:
            st.subheader(f"Pivot · {fmt.md(result.pivot.name)}")
            chart(heatmap(result.pivot, top), width="stretch")
        with c2:
            st.subheader(f"Source · {fmt.md(result.source.name)}")
            chart(heatmap(result.source, top), width="stretch")
    with tabs[1]:
        chart(degree_curves(result), width="stretch")
        st.caption("ĝ_p is the W_p^p distance between these two quantile functions (DESIGN §2.4); "
                   "for an export only the top nodes are known, so the curves stop there.")
    with tabs[2]:
        chart(coupling_chart(result, top), width="stretch")
        st.caption("Exact GW coupling T restricted to the top nodes of each graph (rows: pivot, columns: source).")
    with tabs[3]:
        c1, c2 = st.columns(2)
        with c1:
            table(node_table(result.pivot, top), hide_index=True, key="gi-nodes-pivot")
        with c2:
            table(node_table(result.source, top), hide_index=True, key="gi-nodes-source")


def show_values(result: Inspection) -> None:
    """Exact vs approximate values as metrics plus the full table."""
    v = result.values
    cols = st.columns(4)
    for col, (key, label) in zip(cols, [("exact GW", "exact GW"), ("ĝ₂ (sorting, degree)", "ĝ₂ (sorting)"),
                                        ("upper bound ĝ₂ + 2(V_C+V_D)", "upper bound"),
                                        ("WD (offset alignment)", "WD")]):
        if isinstance(v.get(key), (int, float)):
            col.metric(label, fmt.number(v[key]))
    # Numbers and words share the column, so it holds text: full precision (what AppTest
    # and the CSV download carry), shown in fmt.number notation.
    values = pd.DataFrame({"quantity": list(v), "value": [repr(x) if isinstance(x, float) else str(x)
                                                          for x in v.values()]})
    table(values, {"value": _readable}, hide_index=True, key="gi-values")


def _readable(text: str) -> str:
    try:
        return fmt.number(float(text))
    except ValueError:
        return text


def _restricted(view: GraphView, top: int) -> pd.DataFrame:
    idx = view.top(top)
    labels = [view.labels[i] for i in idx]
    sub = view.matrix[np.ix_(idx, idx)]
    rows, cols = np.meshgrid(np.arange(len(idx)), np.arange(len(idx)), indexing="ij")
    return pd.DataFrame({"row": [labels[i] for i in rows.ravel()], "col": [labels[j] for j in cols.ravel()],
                         "value": sub.ravel()}), labels


def heatmap(view: GraphView, top: int) -> alt.Chart:
    """Heatmap of the co-activation graph restricted to its ``top`` nodes by degree."""
    frame, labels = _restricted(view, top)
    return alt.Chart(frame).mark_rect().encode(
        x=alt.X("col:N", sort=labels, title=None), y=alt.Y("row:N", sort=labels, title=None),
        color=alt.Color("value:Q", scale=alt.Scale(scheme="viridis")), tooltip=["row", "col", "value"],
    ).properties(height=420, title=f"top {len(labels)} of n = {view.graph_size} nodes")


def degree_curves(result: Inspection) -> alt.Chart:
    """Sorted weighted degrees of pivot and source against cumulative node weight."""
    frames = []
    for role, view in (("pivot", result.pivot), ("source", result.source)):
        mass, degree = sorted_degree_curve(view)
        frames.append(pd.DataFrame({"cumulative weight": mass, "degree": degree, "model": f"{role}: {view.name}"}))
    return alt.Chart(pd.concat(frames)).mark_line(interpolate="step-before", point=True).encode(
        x="cumulative weight:Q", y=alt.Y("degree:Q", title="weighted degree s(i)"), color="model:N",
    ).properties(height=360)


def coupling_chart(result: Inspection, top: int) -> alt.Chart:
    """The exact GW coupling between the top nodes of pivot (rows) and source (columns)."""
    rows, cols = result.pivot.top(top), result.source.top(top)
    sub = result.coupling[np.ix_(rows, cols)]
    r_labels = [result.pivot.labels[i] for i in rows]
    c_labels = [result.source.labels[j] for j in cols]
    ri, cj = np.meshgrid(np.arange(len(rows)), np.arange(len(cols)), indexing="ij")
    frame = pd.DataFrame({"pivot node": [r_labels[i] for i in ri.ravel()],
                          "source node": [c_labels[j] for j in cj.ravel()], "mass": sub.ravel()})
    return alt.Chart(frame).mark_rect().encode(
        x=alt.X("source node:N", sort=c_labels), y=alt.Y("pivot node:N", sort=r_labels),
        color=alt.Color("mass:Q", scale=alt.Scale(scheme="blues")), tooltip=["pivot node", "source node", "mass"],
    ).properties(height=460)


def node_table(view: GraphView, top: int) -> pd.DataFrame:
    """The top nodes: token, weighted degree, node weight."""
    idx = view.top(top)
    return pd.DataFrame({"node": [view.labels[i] for i in idx], "degree": view.degrees[idx],
                         "weight": view.weights[idx]})
