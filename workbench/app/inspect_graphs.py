"""The graph inspector's computation for one example and two models (no Streamlit).

Every step is a call into the project's own code: the forward pass and top-k are
:func:`workbench.diagnostics.model_topk`, graphs :func:`workbench.diagnostics.response_graph`
(``fusion.graphs.graph_from_topk``), WD :func:`workbench.diagnostics.example_wd`, exact GW
:func:`fusion.gw.exact_gw`, the approximations :func:`fusion.gw.sorting_gw`, the bounds
:func:`fusion.gw.gw_bounds`, the degrees :func:`fusion.gw.node_features`. The result holds
only NumPy arrays and numbers, so Streamlit can cache it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fusion.data import Example


@dataclass
class GraphView:
    """One model's co-activation graph, ready to draw: the matrix, node weights, weighted
    degrees, token labels per node, and the node order by degree (largest first)."""

    name: str
    matrix: np.ndarray
    weights: np.ndarray
    degrees: np.ndarray
    labels: list[str]
    ranking: np.ndarray
    response_tokens: int
    total_nodes: int | None = None  # size of the whole graph when ``matrix`` is a restriction

    @property
    def n(self) -> int:
        """Number of nodes held here."""
        return int(self.matrix.shape[0])

    @property
    def graph_size(self) -> int:
        """Number of nodes of the whole graph."""
        return int(self.total_nodes) if self.total_nodes is not None else self.n

    def top(self, count: int) -> np.ndarray:
        """Indices of the ``count`` nodes of largest degree."""
        return self.ranking[:count]


@dataclass
class Inspection:
    """Both graphs, the exact GW coupling between their nodes and every value compared."""

    pivot: GraphView
    source: GraphView
    coupling: np.ndarray
    values: dict[str, Any]


def example_from_dict(obj: dict[str, Any]) -> Example:
    """An :class:`~fusion.data.Example` from a data-contract dict (``messages`` or ``prompt``)."""
    prompt = obj.get("messages") if obj.get("messages") is not None else obj.get("prompt")
    if prompt is None or not obj.get("response"):
        raise ValueError(f"example {obj.get('id')!r} needs a prompt (or messages) and a response")
    return Example(id=str(obj["id"]), prompt=prompt, response=str(obj["response"]))


def _labels(node_ids: np.ndarray, nodes: str, decode: Any) -> list[str]:
    if nodes == "rank":
        return [f"rank {int(i) + 1}" for i in node_ids]
    # The id keeps labels unique when two ids decode to the same text.
    return [f"{text!r} #{int(i)}" for text, i in zip(decode(node_ids.tolist()), node_ids)]


def graph_view(outputs: Any, example_id: str, options: Any) -> tuple[GraphView, Any, Any]:
    """The :class:`GraphView` of one model's outputs on one example (plus the raw entry and
    graph, for WD and GW)."""
    from fusion.gw import node_features
    from workbench.diagnostics import node_ranking, response_graph

    entry = outputs.by_id[example_id]
    graph = response_graph(entry, options)
    degrees = node_features(graph.matrix, graph.weights, "degree").numpy()
    view = GraphView(
        name=outputs.ref.name,
        matrix=graph.matrix.numpy(),
        weights=graph.weights.numpy(),
        degrees=degrees,
        labels=_labels(graph.node_ids.numpy(), options.nodes, outputs.token_strings),
        ranking=node_ranking(graph),
        response_tokens=len(entry.offsets),
    )
    return view, entry, graph


def inspect_pair(pivot_outputs: Any, source_outputs: Any, example_id: str, options: Any, *,
                 restarts: int = 2, seed: int = 0) -> Inspection:
    """Graphs, exact GW (best of starts, with its coupling), ĝ₁/ĝ₂/paper, bounds and WD
    for one example (DESIGN §2.2–2.6)."""
    from fusion.gw import exact_gw, gw_bounds, sorting_gw
    from workbench.diagnostics import example_wd

    pv, p_entry, pg = graph_view(pivot_outputs, example_id, options)
    sv, s_entry, sg = graph_view(source_outputs, example_id, options)
    uniform = options.weights == "uniform"
    # Uniform weights go in as None so exact_gw may use its brute-force oracle (n = m ≤ 8).
    exact = exact_gw(pg.matrix, sg.matrix, None if uniform else pg.weights, None if uniform else sg.weights,
                     restarts=restarts, seed=seed)
    bounds = gw_bounds(pg.matrix, sg.matrix, pg.weights, sg.weights)
    wd, aligned = example_wd(p_entry, s_entry, "offsets")
    values = {
        "n (pivot nodes)": pv.n,
        "m (source nodes)": sv.n,
        "exact GW": exact.value,
        "exact GW method": exact.method,
        "exact GW gap": exact.gap,
        "exact GW starts": exact.starts,
        "ĝ₂ (sorting, degree)": float(sorting_gw(pg, sg, order=2)),
        "ĝ₁ (sorting, degree)": float(sorting_gw(pg, sg, order=1)),
        "paper (sorted top degrees)": float(sorting_gw(pg, sg, order=1, mode="paper")),
        "lower bound ĝ₂": bounds.lower,
        "upper bound ĝ₂ + 2(V_C+V_D)": bounds.upper,
        "WD (offset alignment)": wd,
        "aligned fraction": aligned,
        "exact GW seconds": exact.seconds,
    }
    return Inspection(pivot=pv, source=sv, coupling=np.asarray(exact.coupling), values=values)


def sorted_degree_curve(view: GraphView) -> tuple[np.ndarray, np.ndarray]:
    """The degree distribution as the quantile function the sorting approximation
    compares: degrees sorted descending against cumulative node weight in (0, 1]."""
    order = np.argsort(-view.degrees, kind="stable")
    return np.cumsum(view.weights[order]), view.degrees[order]


def _export_side(payload: dict[str, Any], side: str, name: str, total: int | None) -> GraphView:
    nodes = sorted((r for r in payload["nodes"] if r["side"] == side), key=lambda r: r["rank"])
    size = len(nodes)
    matrix = np.zeros((size, size))
    for edge in payload["edges"]:
        if edge["side"] == side:
            matrix[int(edge["i_rank"]), int(edge["j_rank"])] = float(edge["value"])
    return GraphView(
        name=name,
        matrix=matrix,
        weights=np.array([float(r["weight"]) for r in nodes]),
        degrees=np.array([float(r["degree"]) for r in nodes]),
        labels=[f"{r['token']!r} #{int(r['token_id'])}" for r in nodes],
        ranking=np.arange(size),
        response_tokens=0,
        total_nodes=total,
    )


def inspection_from_export(payload: dict[str, Any], row: dict[str, Any] | None = None) -> Inspection:
    """An :class:`Inspection` of one pair exported by ``workbench diagnose`` (graphs
    restricted to their top nodes, exact-GW coupling between them); ``row`` is the pair's
    line of the diagnostics ``examples`` table, for the values the export does not carry."""
    for key in ("nodes", "edges", "coupling", "checkpoint", "source", "example_id"):
        if key not in payload:
            raise ValueError(f"graph export lacks {key!r}")
    row = row or {}
    pivot = _export_side(payload, "pivot", f"{payload['checkpoint']} (pivot)", row.get("n"))
    source = _export_side(payload, "source", str(payload["source"]), row.get("m"))
    coupling = np.zeros((pivot.n, source.n))
    for cell in payload["coupling"]:
        coupling[int(cell["pivot_rank"]), int(cell["source_rank"])] = float(cell["mass"])
    names = {"n": "n (pivot nodes)", "m": "m (source nodes)", "gw_exact": "exact GW", "gw_method": "exact GW method",
             "gw_gap": "exact GW gap", "sort_degree_o2": "ĝ₂ (sorting, degree)",
             "sort_degree_o1": "ĝ₁ (sorting, degree)",
             "paper_o1": "paper (sorted top degrees)", "lower": "lower bound ĝ₂",
             "upper": "upper bound ĝ₂ + 2(V_C+V_D)", "wd": "WD (offset alignment)",
             "aligned_fraction": "aligned fraction", "gw_entropic": "entropic GW", "time_exact_s": "exact GW seconds"}
    merged: dict[str, Any] = {**row, **{k: payload[k] for k in ("gw_exact", "sort_degree_o2", "wd") if k in payload}}
    values = {label: merged[key] for key, label in names.items() if key in merged}
    return Inspection(pivot=pivot, source=source, coupling=coupling, values=values)
