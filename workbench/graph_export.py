"""Graph export for the app: which tokens are the hubs of each co-activation graph, the
graph restricted to them, and where exact GW sends each pivot token in the source graph.

Three long tables per diagnosed pair (all plain columns, so pandas/SQLite read them):

* ``nodes``: per side (pivot/source), the top-N nodes by weighted degree — rank, token id,
  token string, degree, node weight; pivot rows also name the source token receiving the
  largest share of that node's mass under the exact-GW coupling (``mapped_to``).
* ``edges``: the graph matrix restricted to each side's top-N nodes (i_rank, j_rank, value).
* ``coupling``: the exact-GW coupling restricted to top pivot x top source nodes.

The same tables are written per pair as one JSON object (records) for the app.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fusion.graphs import CoactivationGraph
from fusion.gw import exact_gw, gw_objective
from workbench.diagnostics import DiagnosedPair, ModelOutputs, node_ranking, oriented_pair

KEY_COLUMNS = ("checkpoint", "source", "example_id")


def exact_coupling(diagnosed: DiagnosedPair, *, restarts: int, seed: int) -> np.ndarray:
    """The coupling (pivot nodes x source nodes) of the exact-GW value in
    ``diagnosed.row``: ``exact_gw`` is deterministic in (graphs, orientation, restarts,
    seed), so the same call returns the same T.
    The value at T is checked against the row, so the export can never show a coupling
    other than the one whose GW the table reports."""
    pair = oriented_pair(diagnosed.pair, diagnosed.swapped)
    uniform = bool(np.allclose(pair.p, pair.p[0]) and np.allclose(pair.q, pair.q[0]))
    result = exact_gw(pair.C, pair.D, None if uniform else pair.p, None if uniform else pair.q,
                      restarts=restarts, seed=seed)
    reported = float(diagnosed.row["gw_exact"])
    value = gw_objective(pair.C, pair.D, result.coupling)
    if not np.isclose(value, reported, rtol=1e-6, atol=1e-12 * max(1.0, abs(reported))):
        raise RuntimeError(f"exact GW is not reproducible: {value!r} vs reported {reported!r}")
    coupling = np.asarray(result.coupling)
    return coupling.T if diagnosed.swapped else coupling


def _side_nodes(graph: CoactivationGraph, order: np.ndarray, decode, side: str) -> pd.DataFrame:
    from fusion.gw import node_features

    degree = node_features(graph.matrix, graph.weights, "degree").numpy()
    ids = graph.node_ids.numpy()
    return pd.DataFrame({
        "side": side,
        "rank": np.arange(len(order)),
        "node": order,
        "token_id": ids[order].astype(np.int64),
        "token": decode(ids[order].tolist()),
        "degree": degree[order],
        "weight": graph.weights.numpy()[order],
    })


def _side_edges(graph: CoactivationGraph, order: np.ndarray, side: str) -> pd.DataFrame:
    sub = graph.matrix.numpy()[np.ix_(order, order)]
    i, j = np.meshgrid(np.arange(len(order)), np.arange(len(order)), indexing="ij")
    return pd.DataFrame({"side": side, "i_rank": i.ravel(), "j_rank": j.ravel(), "value": sub.ravel()})


def export_pair(
    diagnosed: DiagnosedPair,
    pivot: ModelOutputs,
    source: ModelOutputs,
    *,
    top_n: int,
    restarts: int,
    seed: int,
) -> dict[str, pd.DataFrame]:
    """The three export tables of one diagnosed pair (see the module docstring)."""
    if top_n < 1:
        raise ValueError(f"top_n={top_n} must be positive")
    coupling = exact_coupling(diagnosed, restarts=restarts, seed=seed)
    p_order = node_ranking(diagnosed.pivot_graph)[:top_n]
    s_order = node_ranking(diagnosed.source_graph)[:top_n]
    nodes_p = _side_nodes(diagnosed.pivot_graph, p_order, pivot.token_strings, "pivot")
    nodes_s = _side_nodes(diagnosed.source_graph, s_order, source.token_strings, "source")
    # Where each top pivot token's mass goes in the *whole* source graph.
    rows = coupling[p_order]
    best = rows.argmax(axis=1)
    source_ids = diagnosed.source_graph.node_ids.numpy()
    nodes_p["mapped_to"] = source.token_strings(source_ids[best].tolist())
    nodes_p["mapped_to_id"] = source_ids[best].astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        nodes_p["mapped_share"] = np.where(rows.sum(1) > 0, rows.max(1) / rows.sum(1), 0.0)
    nodes_s["mapped_to"], nodes_s["mapped_to_id"], nodes_s["mapped_share"] = "", -1, np.nan
    block = coupling[np.ix_(p_order, s_order)]
    i, j = np.meshgrid(np.arange(len(p_order)), np.arange(len(s_order)), indexing="ij")
    tables = {
        "nodes": pd.concat([nodes_p, nodes_s], ignore_index=True),
        "edges": pd.concat([_side_edges(diagnosed.pivot_graph, p_order, "pivot"),
                            _side_edges(diagnosed.source_graph, s_order, "source")], ignore_index=True),
        "coupling": pd.DataFrame({"pivot_rank": i.ravel(), "source_rank": j.ravel(), "mass": block.ravel()}),
    }
    for df in tables.values():
        for col in reversed(KEY_COLUMNS):
            df.insert(0, col, diagnosed.row[col])
    return tables


def export_file_name(row: dict[str, Any]) -> str:
    """Stable file name of one pair's JSON export (characters safe on every filesystem)."""
    raw = f"{row['checkpoint']}__{row['source']}__{row['example_id']}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in raw) + ".json"


def write_pair_json(tables: dict[str, pd.DataFrame], row: dict[str, Any], folder: Path) -> Path:
    """One JSON object per pair: the keys, the GW numbers, and the three tables as records."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        **{k: row[k] for k in KEY_COLUMNS},
        "gw_exact": row["gw_exact"],
        "sort_degree_o2": row["sort_degree_o2"],
        "wd": row["wd"],
        "convention": "GW = sum (C_ik - D_jl)^2 T_ij T_kl (POT square loss; no 1/2, no root)",
        **{name: json.loads(df.drop(columns=list(KEY_COLUMNS)).to_json(orient="records")) for name,
           df in tables.items()},
    }
    path = folder / export_file_name(row)
    path.write_text(json.dumps(payload, ensure_ascii=False))
    return path
