"""The Streamlit app on a runs root produced by the project's own commands (see
``app_fixtures.py``). With ``streamlit.testing.v1.AppTest``: every page runs without an
exception and shows the numbers of the files it reads; malformed files stay local errors;
empty roots say which command produces the data; the app never writes into the root.
End to end: ``workbench app`` (``streamlit run app.py --server.headless true``) on a free
localhost port, headless Debian Chromium driven by Playwright, every page, screenshots in
test-artifacts/. (``app_root`` is a session fixture in ``conftest.py``: built once.)"""

from __future__ import annotations

import html
import json
import math
import random
import shutil
import statistics
from pathlib import Path

import pandas as pd
import pytest
from app_fixtures import (
    APP,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DATA_DIR,
    PREDICTION_BENCHMARKS,
    PREDICTION_ITEMS,
    run_cli,
    serve,
    settle,
)
from streamlit.testing.v1 import AppTest

from workbench.app import discover, fmt

pytestmark = pytest.mark.slow
PAGES = ("runs", "leaderboard", "samples", "graph_inspector", "gw_lab")


def open_page(root: Path, page: str, state: dict | None = None) -> AppTest:
    """Run the app on ``root`` and switch to ``page``; fail on any exception."""
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.session_state["runs_root"] = str(root)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    if page != "runs":
        at.switch_page(f"workbench/app/pages/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


#: Columns that identify each table of the app (st.dataframe keeps no key without selection).
TABLES = {
    "runs-overview": ("run", "checkpoints", "evaluated"),
    "runs-checkpoints": ("checkpoint", "size_mb"),
    "runs-metrics": ("step", "loss", "lr"),
    "runs-evals": ("step", "checkpoint", "gsm8k"),
    "lb-table": ("model", "average", "benchmarks"),
    "lb-paired": ("benchmark", "only_a_correct", "p_value"),
    "lb-items": ("doc_id", "score A", "disagree"),
    "sm-table": ("doc_id", "score", "correct"),
    "gwlab-medians": ("gw_exact", "sort_degree_o2"),
    "gwlab-held": ("check", "held", "violated"),
    "gwlab-correlations": ("group", "pearson", "spearman"),
    "gi-values": ("quantity", "value"),
    "gwlab-trajectory": ("step", "source", "gw_exact_mean"),
    "gi-nodes-pivot": ("node", "degree", "weight"),
}


def frame(at: AppTest, name: str) -> pd.DataFrame:
    """The first DataFrame shown whose columns identify table ``name`` (see TABLES)."""
    for element in at.dataframe:
        value = element.value
        if set(TABLES[name]) <= set(value.columns):
            return value
    raise AssertionError(f"no table {name!r} among {[list(e.value.columns) for e in at.dataframe]}")


def rerun_with(at: AppTest, **widgets: object) -> AppTest:
    """Set widget values by key and rerun; fail on any exception."""
    for key, value in widgets.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plain(markdown: str) -> str:
    """What the browser shows for text escaped by ``fmt.md`` (character references decoded)."""
    return html.unescape(markdown).replace(fmt.WORD_JOINER, "")


def errors(at: AppTest) -> list[str]:
    """The error messages of the page as the browser shows them."""
    return [plain(e.value) for e in at.error]


# -- Runs -------------------------------------------------------------------------------------

def test_runs_page_shows_losses_checkpoints_and_config(app_root: Path) -> None:
    at = open_page(app_root, "runs")
    last = read_jsonl(app_root / "tiny" / "metrics.jsonl")[-1]
    overview = frame(at, "runs-overview").set_index("run")
    assert overview.loc["tiny", "last step"] == last["step"] == 4
    for term in ("loss", "ce", "wd/gemma", "gld/gemma"):
        assert overview.loc["tiny", term] == pytest.approx(last[term])
    assert overview.loc["tiny", "evaluated"] == 2  # step-2 and step-4 went through `workbench eval --run`
    assert list(frame(at, "runs-checkpoints")["checkpoint"]) == ["step-2", "step-4"]
    assert any("tiny-random-llama" in c.value for c in at.code)  # the config is shown
    scores = frame(at, "runs-evals").set_index("checkpoint")
    for checkpoint in ("step-2", "step-4"):
        doc = json.loads((app_root / "tiny" / "evals" / checkpoint / "gsm8k" / "results.json").read_text())
        assert scores.loc[checkpoint, "gsm8k"] == pytest.approx(100 * doc["results"]["gsm8k"]["exact_match,none"])
    logged = frame(at, "runs-metrics")
    assert list(logged["step"]) == [r["step"] for r in read_jsonl(app_root / "tiny" / "metrics.jsonl")]
    tokens_per_s = [r["tokens"] / r["step_time_s"] for r in read_jsonl(app_root / "tiny" / "metrics.jsonl")]
    # logging_steps = 1: a step per line; shown with three significant digits
    assert at.metric[0].value == fmt.number(statistics.median(tokens_per_s))
    assert float(at.metric[0].value) == pytest.approx(statistics.median(tokens_per_s), rel=5e-3)


# -- Leaderboard ------------------------------------------------------------------------------

def _results(app_root: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """(model label, benchmark) -> (value, stderr) read straight from every results.json."""
    out = {}
    for path in app_root.rglob("results.json"):
        doc = json.loads(path.read_text())
        bench = doc["benchmark"]  # results also holds per-subtask rows (lm-eval's group layout)
        values = doc["results"][bench]
        stderr = values[f"{doc['metric']}_stderr,none"]
        model = str(path.parent.parent.relative_to(app_root))
        out[(model, bench)] = (values[f"{doc['metric']},none"], stderr if isinstance(stderr, float) else math.nan)
    return out


def test_leaderboard_shows_every_result_with_stderr_and_average(app_root: Path) -> None:
    at = open_page(app_root, "leaderboard")
    table = frame(at, "lb-table").set_index("model")
    expected = _results(app_root)
    assert set(table.index) == {m for m, _ in expected} == {
        "evals/predictions-gold", "evals/predictions-mixed", "tiny/evals/step-2", "tiny/evals/step-4"}
    for (model, bench), (value, stderr) in expected.items():
        assert table.loc[model, bench] == pytest.approx(100 * value)
        if not math.isnan(stderr):
            assert table.loc[model, f"{bench} ±"] == pytest.approx(100 * stderr)
    mixed = [100 * v for (m, _), (v, _) in expected.items() if m == "evals/predictions-mixed"]
    assert table.loc["evals/predictions-mixed", "average"] == pytest.approx(sum(mixed) / len(mixed))
    assert table.loc["evals/predictions-gold", "average"] == pytest.approx(100.0)
    assert at.get("download_button"), "CSV export button missing"
    # Filters: a model substring and a benchmark subset.
    rerun_with(at, **{"lb-filter": "step-", "lb-benchmarks": ["gsm8k"]})
    filtered = frame(at, "lb-table")
    assert set(filtered["model"]) == {"tiny/evals/step-2", "tiny/evals/step-4"}
    assert {"gsm8k", "average"} <= set(filtered.columns) and "arc" not in filtered.columns


def test_leaderboard_paired_comparison_matches_workbench_compare(app_root: Path, tmp_path: Path) -> None:
    at = open_page(app_root, "leaderboard", {"lb-a": "evals/predictions-gold", "lb-b": "evals/predictions-mixed"})
    paired = frame(at, "lb-paired").set_index("benchmark")
    report = tmp_path / "compare.json"
    run_cli("compare", app_root / "evals" / "predictions-gold", app_root / "evals" / "predictions-mixed",
            "--bootstrap", 2000, "--seed", 0, "--json", report)
    for row in json.loads(report.read_text())["benchmarks"]:
        shown = paired.loc[row["benchmark"]]
        for key in ("n", "mean_a", "mean_b", "diff", "ci_low", "ci_high", "only_a_correct", "only_b_correct",
                    "p_value"):
            assert shown[key] == pytest.approx(row[key]), key
    # Per-item differences: the discordant items of the chosen benchmark, nothing else.
    rerun_with(at, **{"lb-item-bench": "gsm8k"})
    items = frame(at, "lb-items")
    gold = {r["doc_id"]: r["score"] for r in read_jsonl(app_root / "evals/predictions-gold/gsm8k/samples.jsonl")}
    mixed = {r["doc_id"]: r["score"] for r in read_jsonl(app_root / "evals/predictions-mixed/gsm8k/samples.jsonl")}
    assert set(items["doc_id"]) == {d for d in gold if (gold[d] >= 0.5) != (mixed[d] >= 0.5)}
    assert len(items) == paired.loc["gsm8k", "only_a_correct"] + paired.loc["gsm8k", "only_b_correct"]


def test_leaderboard_attribution_matches_workbench_attribute(app_root: Path, tmp_path: Path) -> None:
    """Pivot = the mixed predictions (odd items wrong), source = a third model (items 0, 1, 3
    right), fused = gold: a known transfer pattern, shown exactly as ``workbench attribute``."""
    from evaluations import registry

    root = tmp_path / "root"
    for name in ("predictions-gold", "predictions-mixed"):
        shutil.copytree(app_root / "evals" / name, root / "evals" / name)
    third = tmp_path / "third.jsonl"
    with third.open("w") as f:
        for name in PREDICTION_BENCHMARKS:
            bench = registry.get(name)
            for i, doc in enumerate(bench.docs(DATA_DIR, limit=PREDICTION_ITEMS)):
                right = i in (0, 1, 3)
                output = bench.gold_output(doc) if right else bench.wrong_output(doc, random.Random(i))
                f.write(json.dumps({"benchmark": name, "doc_id": doc["doc_id"], "output": output}) + "\n")
    run_cli("eval", "--predictions", third, "--out", root / "evals", "--data-dir", DATA_DIR)
    at = open_page(root, "leaderboard", {"at-fused": "evals/predictions-gold", "at-pivot": "evals/predictions-mixed",
                                         "at-sources": ["evals/predictions-third"]})
    shown = next(e.value for e in at.dataframe if {"transfer_rate", "forgetting_rate"} <= set(e.value.columns))
    shown = shown.set_index("benchmark")
    report = tmp_path / "attribute.json"
    run_cli("attribute", root / "evals" / "predictions-gold", "--pivot", root / "evals" / "predictions-mixed",
            "--sources", root / "evals" / "predictions-third", "--bootstrap", 2000, "--seed", 0, "--json", report)
    rows = json.loads(report.read_text())["rows"]
    assert set(shown.index) == {r["benchmark"] for r in rows} >= set(PREDICTION_BENCHMARKS)
    for row in rows:
        got = shown.loc[row["benchmark"]]
        for key in ("n", "transferred", "source_only", "forgotten", "pivot_solved", "transfer_rate",
                    "forgetting_rate", "net_gain", "ci_low", "ci_high", "p_value"):
            assert got[key] == pytest.approx(row[key], nan_ok=True), key
    gsm8k = shown.loc["gsm8k"]
    # pivot solves items 0, 2, 4; the source adds 1 and 3 (only it solves them); gold solves all
    assert (gsm8k["n"], gsm8k["source_only"], gsm8k["transferred"], gsm8k["forgotten"]) == (6, 2, 2, 0)
    rerun_with(at, **{"at-category": "transferred"})
    items = next(e.value for e in at.dataframe if "category" in e.value.columns)
    assert len(items) == sum(r["transferred"] for r in rows if r["benchmark"] in PREDICTION_BENCHMARKS)


def evals_rows(root: Path) -> pd.DataFrame:
    """The app's own headline rows of ``root`` (model name -> its evaluation folder)."""
    from workbench.app import data, evals

    return evals.headline_rows(data.inventory(str(root)).evals, data.json_object)[0]


# -- Samples ----------------------------------------------------------------------------------

def test_samples_page_filters_correct_incorrect_and_disagreement(app_root: Path) -> None:
    state = {"sm-bench": "arc", "sm-model": "evals/predictions-mixed"}
    at = open_page(app_root, "samples", state)
    rows = read_jsonl(app_root / "evals/predictions-mixed/arc/samples.jsonl")
    shown = frame(at, "sm-table")
    assert list(shown["doc_id"]) == [r["doc_id"] for r in rows]
    # A missing extraction stays missing (shown as "—"), never "NaN" or "None".
    assert list(shown["extracted"]) == ["—" if r["extracted"] is None else str(r["extracted"]) for r in rows]
    rerun_with(at, **{"sm-outcome": "incorrect"})
    assert set(frame(at, "sm-table")["doc_id"]) == {r["doc_id"] for r in rows if r["score"] < 0.5}
    rerun_with(at, **{"sm-outcome": "all", "sm-other": "evals/predictions-gold", "sm-disagree": True})
    gold = {r["doc_id"]: r["score"] for r in read_jsonl(app_root / "evals/predictions-gold/arc/samples.jsonl")}
    assert set(frame(at, "sm-table")["doc_id"]) == {r["doc_id"] for r in rows
                                                     if (r["score"] >= 0.5) != (gold[r["doc_id"]] >= 0.5)}
    assert any(t.value == rows[1]["output"] for t in at.text_area)  # raw output of the chosen item


# -- GW lab -----------------------------------------------------------------------------------

def test_gw_lab_on_the_bounds_report(app_root: Path) -> None:
    at = open_page(app_root, "gw_lab", {"gwlab-report": "bounds · bounds"})
    pairs = pd.read_csv(app_root / "bounds" / "pairs.csv")
    assert len(at.get("vega_lite_chart")) == 4  # distributions, scatter, error vs bound, runtime
    medians = frame(at, "gwlab-medians")
    for family, g in pairs.groupby("family"):
        assert medians.loc[family, "gw_exact"] == pytest.approx(g["gw_exact"].median())
        assert medians.loc[family, "sort_degree_o2"] == pytest.approx(g["sort_degree_o2"].median())
    held = frame(at, "gwlab-held").set_index("check")
    assert held.loc["lower ĝ₂ ≤ GW", "held"] == int(pairs["lower_held"].sum())
    assert held.loc["upper GW ≤ ĝ₂ + 2(V_C+V_D)", "violated"] == int((~pairs["upper_held"]).sum())
    summary = pd.read_csv(app_root / "bounds" / "summary.csv").set_index("family")
    corr = frame(at, "gwlab-correlations").set_index("group")
    for family in summary.index:
        assert corr.loc[family, "spearman"] == pytest.approx(summary.loc[family, "spearman_sort_degree_o2"],
                                                             nan_ok=True)


def test_gw_lab_on_diagnostics_per_checkpoint(app_root: Path) -> None:
    at = open_page(app_root, "gw_lab", {"gwlab-report": "bounds · bounds"})
    rerun_with(at, **{"gwlab-report": "diagnostics · tiny/diagnostics/examples.parquet"})  # switch reports
    table = pd.read_parquet(app_root / "tiny" / "diagnostics" / "examples.parquet")
    medians = frame(at, "gwlab-medians")
    assert list(medians.index) == ["step-0", "step-2", "step-4"]
    for checkpoint, g in table.groupby("checkpoint"):
        assert medians.loc[checkpoint, "wd"] == pytest.approx(g["wd"].median())
        assert medians.loc[checkpoint, "gw_exact"] == pytest.approx(g["gw_exact"].median())
    trajectory = frame(at, "gwlab-trajectory")
    assert list(trajectory["step"]) == [0, 2, 4]
    for step, g in table.groupby("step"):
        shown = trajectory.set_index("step").loc[step, "gw_exact_mean"]
        assert shown == pytest.approx(g["gw_exact"].mean())


# -- Graph inspector --------------------------------------------------------------------------

def _values(at: AppTest) -> dict[str, str]:
    return dict(zip(frame(at, "gi-values")["quantity"], frame(at, "gi-values")["value"]))


def test_graph_inspector_shows_the_diagnose_export(app_root: Path) -> None:
    at = open_page(app_root, "graph_inspector")
    values = _values(at)
    chosen = [v for v in (app_root / "tiny" / "diagnostics" / "graphs").glob("*.json")
              if at.selectbox(key="gi-export").value.endswith(v.stem)][0]
    export = json.loads(chosen.read_text())
    assert float(values["exact GW"]) == pytest.approx(export["gw_exact"], rel=1e-5)
    assert float(values["WD (offset alignment)"]) == pytest.approx(export["wd"], rel=1e-5)
    pivot_nodes = frame(at, "gi-nodes-pivot")
    assert len(pivot_nodes) == sum(1 for r in export["nodes"] if r["side"] == "pivot")
    assert len(at.get("vega_lite_chart")) == 4  # two heatmaps, degree curves, coupling


def test_graph_inspector_recomputes_identical_models_to_zero(app_root: Path) -> None:
    state = {"gi-mode": "recompute on the fly", "gi-pivot": "tiny-random-llama", "gi-source": "tiny-random-llama",
             "gi-k": 4, "gi-tokens": 6}
    at = open_page(app_root, "graph_inspector", state)
    values = _values(at)
    # Same model, same example: identical graphs, so every distance is 0.
    for key in ("exact GW", "ĝ₂ (sorting, degree)", "paper (sorted top degrees)", "WD (offset alignment)"):
        assert float(values[key]) == pytest.approx(0.0, abs=1e-12), key
    assert int(values["n (pivot nodes)"]) == int(values["m (source nodes)"]) <= 6 * 4


def test_graph_inspector_recomputes_against_a_checkpoint_within_bounds(app_root: Path) -> None:
    state = {"gi-mode": "recompute on the fly", "gi-pivot": "tiny-random-llama", "gi-source": "tiny/step-4",
             "gi-k": 4, "gi-tokens": 6}
    at = open_page(app_root, "graph_inspector", state)
    v = {k: float(x) for k, x in _values(at).items() if k != "exact GW method"}
    tol = 1e-9 * max(v["upper bound ĝ₂ + 2(V_C+V_D)"], 1e-30)
    assert v["lower bound ĝ₂"] - tol <= v["exact GW"] <= v["upper bound ĝ₂ + 2(V_C+V_D)"] + tol
    assert v["lower bound ĝ₂"] == pytest.approx(v["ĝ₂ (sorting, degree)"])
    assert v["n (pivot nodes)"] <= 6 * 4 and v["m (source nodes)"] <= 6 * 4
    assert v["WD (offset alignment)"] > 0  # a trained checkpoint differs from the random pivot


# -- Robustness -------------------------------------------------------------------------------

def test_malformed_files_show_one_error_each_and_the_rest_works(app_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(app_root / "evals", root / "evals")
    shutil.copytree(app_root / "bounds", root / "bounds")
    run = root / "broken-run"
    run.mkdir()
    shutil.copy(app_root / "tiny" / "config.yaml", run / "config.yaml")
    lines = (app_root / "tiny" / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("\n".join([lines[0], "{truncated", *lines[1:]]) + "\n")
    broken = root / "evals" / "predictions-mixed" / "gsm8k" / "results.json"
    broken.write_text(broken.read_text()[:40])

    at = open_page(root, "leaderboard")
    assert [e for e in errors(at) if str(broken) in e], "no error naming the broken results.json"
    table = frame(at, "lb-table").set_index("model")
    assert table.loc["evals/predictions-mixed", "arc"] == pytest.approx(50.0)
    assert math.isnan(table.loc["evals/predictions-mixed", "gsm8k"])
    assert table.loc["evals/predictions-gold", "gsm8k"] == pytest.approx(100.0)

    at = open_page(root, "runs")
    assert frame(at, "runs-overview").set_index("run").loc["broken-run", "problem"].endswith(
        "metrics.jsonl:2: invalid JSON (Expecting property name enclosed in double quotes)")
    assert [e for e in errors(at) if "metrics.jsonl:2" in e]

    (root / "bounds" / "pairs.csv").write_text("family,n\nx,1\n")
    at = open_page(root, "gw_lab")
    assert [e for e in errors(at) if "pairs.csv: missing column(s)" in e]


@pytest.mark.parametrize("page, command", [("runs", "workbench fuse"), ("leaderboard", "workbench eval"),
                                           ("samples", "workbench eval"), ("gw_lab", "workbench bounds")])
def test_empty_root_says_which_command_produces_the_data(tmp_path: Path, page: str, command: str) -> None:
    at = open_page(tmp_path, page)
    assert at.info and any(command in c.value for c in at.code)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(modification time, size) of every file under ``root``."""
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def test_the_app_never_writes_into_the_root(app_root: Path) -> None:
    before = snapshot(app_root)
    for page in PAGES:
        open_page(app_root, page)
    assert snapshot(app_root) == before


def test_discovery_finds_every_kind_of_output(app_root: Path) -> None:
    inv = discover.scan(app_root)
    assert [inv.label(r) for r in inv.runs] == ["tiny"]
    assert [inv.label(b) for b in inv.bounds_reports] == ["bounds"]
    assert [inv.label(d) for d in inv.diagnostics] == ["tiny/diagnostics"]
    assert [inv.label(d) for d in inv.databases] == ["workbench.db"]
    assert len(inv.evals) == len(list(app_root.rglob("results.json"))) == 3 * 2 + 2


def test_workbench_app_rejects_a_missing_root(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from workbench.cli import main

    assert main(["app", "--root", str(tmp_path / "nope"), "--headless"]) == 2
    assert "is not a folder" in capsys.readouterr().err



def test_large_tables_paginate() -> None:
    def page() -> None:
        import pandas as pd

        from workbench.app.widgets import paginate

        paginate(pd.DataFrame({"i": range(60)}), key="t", page_size=25)

    at = AppTest.from_function(page).run()
    assert list(at.dataframe[0].value["i"]) == list(range(25))
    at.number_input(key="t-page").set_value(3).run()
    assert list(at.dataframe[0].value["i"]) == list(range(50, 60))
    assert at.caption[0].value == "rows 51–60 of 60"


# -- End to end in Chromium ------------------------------------------------------------------

#: (url path, page title, a selector that only renders once the page has its data)
BROWSER_PAGES = [
    ("runs", "Runs", "[data-testid='stDataFrame']"),
    ("", "Runs", "[data-testid='stDataFrame']"),  # / opens /runs
    ("leaderboard", "Leaderboard", "[data-testid='stDataFrame']"),
    ("samples", "Samples", "[data-testid='stDataFrame']"),
    ("graph-inspector", "Graph inspector", "[data-testid='stMetric']"),
    ("gw-lab", "GW lab", "[data-testid='stVegaLiteChart']"),
]


@pytest.fixture(scope="module")
def server_url(app_root: Path):
    """``workbench app --root <fixture root>`` serving on a free localhost port."""
    with serve(app_root) as url:
        yield url


def test_every_page_renders_in_chromium(server_url: str, app_root: Path) -> None:
    from playwright.sync_api import sync_playwright

    before = snapshot(app_root)
    assert CHROMIUM.is_file(), "Debian chromium is missing: `make browser` installs it"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1800})
            for path, title, ready in BROWSER_PAGES:
                page.goto(f"{server_url}/{path}", wait_until="domcontentloaded")
                page.get_by_role("heading", name=title).first.wait_for(timeout=90_000)
                page.locator(ready).first.wait_for(timeout=180_000)
                settle(page)
                assert page.get_by_text("Page not found").count() == 0, f"/{path} is not a page"
                if not path:
                    assert page.url.rstrip("/").endswith("/runs"), page.url
                shot = ARTIFACTS / f"app-{path or 'root'}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert page.locator("[data-testid='stException']").count() == 0, f"exception on {path}"
                assert shot.stat().st_size > 10_000
            # The sidebar navigation lists every page.
            nav = page.locator("[data-testid='stSidebarNav']").inner_text()
            assert all(title in nav for _, title, _ in BROWSER_PAGES)
        finally:
            browser.close()
    assert snapshot(app_root) == before, "the served app wrote into the runs root"
