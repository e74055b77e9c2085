"""Diagnostics on logits of tiny-random models with the real SmolLM2 / Gemma-3 tokenizers:
identical models give GW = WD = 0, swapping pivot and source leaves GW unchanged, WD
equals a brute-force recomputation from character sets, the provable bounds hold, every
output file is readable by pandas and matches the run-store rows, the CLI fails clearly.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fusion.gw import gw_objective
from workbench.bounds import approximation_columns
from workbench.diagnostics import GraphOptions, ModelRef, diagnose_pair, model_topk
from workbench.real_graphs import demo_as_examples

PIVOT, SOURCE = "tiny-random-llama", "tiny-random-gemma3"
# Small graphs (k = 3, short responses) keep exact GW fast while still n != m, n > 8.
OPTIONS = GraphOptions(k=3)
MAX_RESPONSE = 12


@pytest.fixture(scope="module")
def examples():
    return demo_as_examples(3)


@pytest.fixture(scope="module")
def outputs(examples):
    kw = dict(max_response_tokens=MAX_RESPONSE, progress=False)
    return {
        "pivot": model_topk(ModelRef("pivot", PIVOT), examples, OPTIONS, **kw),
        "pivot-again": model_topk(ModelRef("pivot-again", PIVOT), examples, OPTIONS, **kw),
        "source": model_topk(ModelRef("source", SOURCE), examples, OPTIONS, **kw),
    }


def test_identical_models_give_zero_gw_and_wd(outputs, examples) -> None:
    for i, ex in enumerate(examples):
        row = diagnose_pair(outputs["pivot"], outputs["pivot-again"], ex.id, i, OPTIONS, restarts=1).row
        assert row["wd"] == 0.0 and row["wd_index"] == 0.0
        assert row["aligned_fraction"] == 1.0
        assert row["n"] == row["m"] > OPTIONS.k
        scale = row["upper"] + 1e-300
        assert row["gw_exact"] <= 1e-9 * scale
        for col in approximation_columns():
            assert row[col] == pytest.approx(0.0, abs=1e-15), col


def test_swapping_pivot_and_source_leaves_gw_unchanged(outputs, examples) -> None:
    for i, ex in enumerate(examples[:2]):
        a = diagnose_pair(outputs["pivot"], outputs["source"], ex.id, i, OPTIONS, restarts=2).row
        b = diagnose_pair(outputs["source"], outputs["pivot"], ex.id, i, OPTIONS, restarts=2).row
        assert (a["n"], a["m"]) == (b["m"], b["n"])
        assert b["gw_exact"] == pytest.approx(a["gw_exact"], rel=1e-6)
        for col in ("lower", "upper", "sort_degree_o2", "sort_degree_o1", "sort_diag_o2"):
            assert b[col] == pytest.approx(a[col], rel=1e-9), col
        assert a["gw_exact"] > 0


def _brute_force_wd(p_probs: np.ndarray, p_offsets, s_probs: np.ndarray, s_offsets) -> float:
    """DESIGN §2.6 from scratch: partners share a character; mean over partners of
    Σ |p↓ − q↓|; mean over pivot positions that have a partner."""
    per_position = []
    for i, (a, b) in enumerate(p_offsets):
        chars = set(range(a, b))
        partners = [j for j, (c, d) in enumerate(s_offsets) if chars & set(range(c, d))]
        if not partners:
            continue
        dists = [np.abs(np.sort(p_probs[i])[::-1] - np.sort(s_probs[j])[::-1]).sum() for j in partners]
        per_position.append(np.mean(dists))
    return float(np.mean(per_position)) if per_position else 0.0


def test_wd_equals_brute_force_character_alignment(outputs, examples) -> None:
    for i, ex in enumerate(examples):
        row = diagnose_pair(outputs["pivot"], outputs["source"], ex.id, i, OPTIONS, restarts=0).row
        p, s = outputs["pivot"].by_id[ex.id], outputs["source"].by_id[ex.id]
        want = _brute_force_wd(p.probs.double().numpy(), p.offsets, s.probs.double().numpy(), s.offsets)
        assert row["wd"] == pytest.approx(want, rel=1e-5)
        assert row["wd"] > 0


def test_bounds_hold_and_coupling_is_the_reported_one(outputs, examples) -> None:
    from workbench.graph_export import export_pair

    for i, ex in enumerate(examples):
        diagnosed = diagnose_pair(outputs["pivot"], outputs["source"], ex.id, i, OPTIONS, restarts=2)
        row = diagnosed.row
        assert row["lower_held"] and row["upper_held"]
        assert row["lower"] <= row["gw_exact"] * (1 + 1e-9) <= row["upper"] * (1 + 1e-9)
        tables = export_pair(diagnosed, outputs["pivot"], outputs["source"], top_n=5, restarts=2, seed=0)
        nodes = tables["nodes"]
        pivot_nodes = nodes[nodes["side"] == "pivot"]
        # Top nodes really are the largest degrees, in order.
        degrees = np.sort(diagnosed.pivot_graph.matrix.numpy() @ diagnosed.pivot_graph.weights.numpy())[::-1]
        np.testing.assert_allclose(pivot_nodes["degree"].to_numpy(), degrees[:5], rtol=1e-12)
        # The exported block of the coupling never exceeds the node weights (marginals).
        block = tables["coupling"].pivot_table(index="pivot_rank", columns="source_rank", values="mass").to_numpy()
        assert (block.sum(axis=1) <= pivot_nodes["weight"].to_numpy() + 1e-12).all()
        edges = tables["edges"][tables["edges"]["side"] == "pivot"]
        C = diagnosed.pivot_graph.matrix.numpy()
        order = pivot_nodes["node"].to_numpy()
        np.testing.assert_allclose(edges["value"].to_numpy(), C[np.ix_(order, order)].ravel())
        assert row["gw_exact"] == pytest.approx(gw_objective(diagnosed.pair.C, diagnosed.pair.D,
                                                             _full_coupling(diagnosed)), rel=1e-6)


def _full_coupling(diagnosed):
    from workbench.graph_export import exact_coupling

    return exact_coupling(diagnosed, restarts=2, seed=0)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    from workbench.cli import main

    tmp = tmp_path_factory.mktemp("diagnose")
    data = tmp / "data.jsonl"
    data.write_text("".join(json.dumps({"id": e.id, "prompt" if isinstance(e.prompt, str) else "messages": e.prompt,
                                        "response": e.response}) + "\n" for e in demo_as_examples(2)))
    out = tmp / "root" / "diag"
    code = main(["diagnose", "--pivot", PIVOT, "--source", f"gemma={SOURCE}", "--data", str(data), "--k", "3",
                 "--max-response-tokens", str(MAX_RESPONSE), "--restarts", "1", "--export", "1", "--top-n", "4",
                 "--out", str(out)])
    assert code == 0
    return out


def test_every_output_file_is_readable_and_matches_the_store(cli_run) -> None:
    from workbench.diagnostics_store import pair_rows
    from workbench.store import Store

    out = cli_run
    meta = json.loads((out / "diagnostics.json").read_text())
    for name in meta["tables"]:
        df = pd.read_parquet(out / name) if name.endswith(".parquet") else pd.read_csv(out / name)
        assert len(df) > 0, name
    for stem in ("examples", "summary", "correlations", "trajectory", "graph_nodes", "graph_coupling"):
        pq, csv = pd.read_parquet(out / f"{stem}.parquet"), pd.read_csv(out / f"{stem}.csv")
        assert list(pq.columns) == list(csv.columns) and len(pq) == len(csv), stem
        numeric = pq.select_dtypes("number").columns
        np.testing.assert_allclose(pq[numeric].to_numpy(float), csv[numeric].to_numpy(float), rtol=1e-9)
    examples = pd.read_parquet(out / "examples.parquet")
    assert len(examples) == 2 and set(examples["source"]) == {"gemma"}
    assert examples["lower_held"].all() and examples["upper_held"].all()
    # One graph JSON per exported pair; its tables equal the long tables.
    assert len(meta["graph_files"]) == 1
    payload = json.loads((out / meta["graph_files"][0]).read_text())
    nodes = pd.DataFrame(payload["nodes"])
    assert len(nodes) == 8 and set(nodes["side"]) == {"pivot", "source"}
    long_nodes = pd.read_parquet(out / "graph_nodes.parquet")
    np.testing.assert_allclose(nodes["degree"].to_numpy(), long_nodes["degree"].to_numpy())
    assert payload["gw_exact"] == pytest.approx(examples.loc[0, "gw_exact"])
    for png in meta["figures"]:
        assert (out / png).stat().st_size > 0
    # The run store (default root: the parent of --out) holds the same rows.
    with Store(out.parent) as store:
        rows = pair_rows(store, out)
    assert len(rows) == len(examples)
    merged = rows.merge(examples, on=["checkpoint", "source", "example_id"], suffixes=("_db", ""))
    assert len(merged) == len(examples)
    for col in ("gw_exact", "wd", "sort_degree_o2", "lower", "upper", "n", "m"):
        np.testing.assert_allclose(merged[f"{col}_db"].to_numpy(float), merged[col].to_numpy(float), rtol=1e-12)
    # Files are the source of truth: an index rebuilt from them holds the same rows.
    from workbench.store import rebuild

    with rebuild(out.parent, tmp_db := out.parent / "rebuilt.db") as rebuilt:
        assert len(pair_rows(rebuilt, out)) == len(examples)
    tmp_db.unlink()


def test_bounds_real_family_joins_the_report(outputs, tmp_path) -> None:
    from workbench.bounds import run_report
    from workbench.real_graphs import real_graph_pairs

    pairs = real_graph_pairs(demo_as_examples(2), ModelRef("p", PIVOT), ModelRef("s", SOURCE), OPTIONS, progress=False)
    assert [p.family for p in pairs] == ["real", "real"]
    assert all(p.C.shape[0] > OPTIONS.k and np.allclose(p.C, p.C.T) for p in pairs)
    df, summary = run_report(tmp_path, families=(), restarts=1, extra_pairs=pairs, progress=False)
    assert summary["family"].tolist() == ["real"]
    assert int(summary["lower_violations"].iloc[0]) == 0 and int(summary["upper_violations"].iloc[0]) == 0


def test_cli_errors_are_one_clear_line(tmp_path, capsys) -> None:
    from workbench.cli import main

    code = main(["diagnose", "--pivot", PIVOT, "--source", SOURCE, "--data", str(tmp_path / "missing.jsonl"),
                 "--out", str(tmp_path / "o")])
    assert code == 2 and "missing.jsonl" in capsys.readouterr().err
    (tmp_path / "run").mkdir()
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"id": "a", "prompt": "Hi", "response": "Hello."}) + "\n")
    code = main(["diagnose", "--checkpoints", str(tmp_path / "run"), "--pivot", PIVOT, "--source", SOURCE,
                 "--data", str(data), "--out", str(tmp_path / "o")])
    assert code == 2 and "checkpoints" in capsys.readouterr().err
    code = main(["diagnose", "--data", str(tmp_path / "x.jsonl"), "--out", str(tmp_path / "o")])
    assert code == 2 and "--pivot" in capsys.readouterr().err
