"""The app on a hostile runs root, in AppTest and in headless Chromium.

The root (``app_fixtures.build_hostile_root``) is what an attacker would hand over: sample
fields, file and folder names, metric names and error messages carrying Markdown/HTML that
fetches from a TCP listener the test runs on 127.0.0.1 (images, ``</code>`` break-outs,
``<img>``, ``<script>``); file and folder symlinks out of the root to a secret; a FIFO where
a file is expected; a WAL-mode ``workbench.db`` (``mode=ro`` would create ``-wal``/``-shm``
in the root), a file that is not SQLite and a SQLite file of another schema. Checked: the
listener receives nothing, the secret never reaches the page, the root (and the folder the
links point to) is byte-for-byte unchanged, every page has its own URL, numbers read
``1e-08`` and a missing extraction "—"/"(none)", never ``NaN``. A second root holds a 600k-step
(≈60 MB) ``metrics.jsonl``: the Runs page must render in seconds with every curve
downsampled to at most ``readers.MAX_POINTS`` points (counted in the websocket messages the
browser received) and the spike and last step kept.
"""

from __future__ import annotations

import html
import io
import math
import os
import re
import string
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from app_fixtures import (
    APP,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    SECRET,
    Listener,
    build_hostile_root,
    serve,
    settle,
    tree_snapshot,
    write_big_metrics,
)
from streamlit.testing.v1 import AppTest

from workbench.app import discover, fmt, readers, safe

pytestmark = pytest.mark.slow

#: The 60 MB Runs page must be drawn within this many seconds (2 shared CPU cores).
BIG_PAGE_BUDGET_S = 60.0


# -- Fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, listener: Listener) -> dict[str, Path]:
    return build_hostile_root(tmp_path_factory.mktemp("hostile"), listener.port)


@pytest.fixture(scope="module")
def big_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("big") / "root"
    expected = write_big_metrics(root / "long-run" / "metrics.jsonl")
    (root / "long-run" / "config.yaml").write_text("pivot:\n  model: tiny-random-llama\n")
    return root, expected


def unescape(markdown: str) -> str:
    """The text the browser shows for ``fmt.md`` output (character references decoded)."""
    return html.unescape(markdown).replace(fmt.WORD_JOINER, "")


# -- Pure pieces ------------------------------------------------------------------------------

@pytest.mark.parametrize("value, shown", [
    (1e-8, "1e-08"), (0.00000001234, "1.23e-08"), (2.34567, "2.35"), (0.00123, "0.00123"), (0.5, "0.5"),
    (12345.678, "12346"), (1.5e7, "1.5e+07"), (4.0, "4"), (7, "7"), (np.int64(3), "3"), (0.0, "0"),
    (math.nan, "—"), (None, "—"), (-2.5e-5, "-2.5e-05"), (math.inf, "∞"), ("text", "text"), (True, "True"),
])
def test_numbers_are_readable(value: object, shown: str) -> None:
    assert fmt.number(value) == shown


def test_markdown_escape_is_literal() -> None:
    text = "a ![x](http://h/p.png) `</code>` <img src=x> **b** $m$ :red[c] \\ [l](u)\nline"
    escaped = fmt.md(text)
    assert unescape(escaped) == text.replace("\n", " ")
    # No ASCII punctuation is left but the references' own: no Markdown/HTML construct, no
    # "http://" or "www." for GFM to auto-link.
    assert not set(re.sub(r"&#\d+;", "", escaped)) & set(string.punctuation)


def test_downsample_keeps_spikes_first_and_last() -> None:
    n = 600_000
    x = np.arange(1, n + 1, dtype=float)
    y = np.sin(x / 9000)
    y[123_456], y[400_000] = 50.0, -50.0
    idx = readers.downsample(x, y, 2000)
    assert len(idx) <= 2000
    assert idx[0] == 0 and idx[-1] == n - 1
    assert {123_456, 400_000} <= set(idx.tolist())
    assert np.all(np.diff(idx) > 0)
    assert len(readers.downsample(x[:500], y[:500], 2000)) == 500


def test_open_plain_follows_no_link_and_never_blocks(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f.txt").write_text("ok")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real" / "f.txt")
    (tmp_path / "dirlink").symlink_to(tmp_path / "real", target_is_directory=True)
    os.mkfifo(tmp_path / "fifo")
    assert safe.read_text(tmp_path / "real" / "f.txt") == "ok"
    for bad, why in ((tmp_path / "link.txt", "symbolic link"), (tmp_path / "dirlink" / "f.txt", "symbolic link"),
                     (tmp_path / "fifo", "not a regular file"), (tmp_path / "nope", "no such file")):
        start = time.monotonic()
        with pytest.raises(safe.NotPlainFile, match=why):
            safe.read_text(bad)
        assert time.monotonic() - start < 2  # a FIFO is refused, not waited on
    assert not safe.is_plain_file(tmp_path / "link.txt") and not safe.is_plain_dir(tmp_path / "dirlink")


def test_metrics_torn_tail_is_skipped_a_bad_middle_line_is_not(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 2, "loss": 1.0}\n{"step": 1, "loss": 2.0}\n{"step": 3, "lo')
    assert list(readers.read_metrics(path)["step"]) == [1, 2]
    path.write_text('{"step": 1}\n{"step": 2\n{"step": 3}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:2: invalid JSON"):
        readers.read_metrics(path)
    path.write_text('{"step": "one"}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:1: 'step' is 'one'"):
        readers.read_metrics(path)


def test_metrics_fast_path_matches_the_line_reader(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    # The last line is complete, with no \n.
    path.write_text('{"step": 3, "loss": 1, "note": "é\u2028x"}\n\n{"step": 1, "loss": 2.5}\r\n'
                    '{"step": 2, "gld/gemma": 1e-08, "loss": NaN}\n{"step": 4, "loss": 0.5}')
    data = path.read_bytes()
    fast = readers._metrics_arrow(data)
    assert fast is not None
    by_line = readers._metrics_by_line(path, data)
    pd.testing.assert_frame_equal(fast.sort_values("step").reset_index(drop=True),
                                  by_line.sort_values("step").reset_index(drop=True), check_dtype=False)
    assert list(readers.read_metrics(path)["step"]) == [1, 2, 3, 4]
    path.write_bytes(b'{"step": 1, "\xff": 1}\n{"step": 2}\n')  # Arrow would take it; json.loads does not
    with pytest.raises(ValueError, match="metrics.jsonl:1: not UTF-8"):
        readers.read_metrics(path)


# -- Discovery and readers on the hostile root ------------------------------------------------

def test_discovery_follows_no_symlink(hostile: dict[str, Path]) -> None:
    root = hostile["root"]
    inv = discover.scan(root)
    assert [inv.label(r) for r in inv.runs] == [hostile["run"].name, "b-run"]  # linked-run is not a run here
    models = {e.model for e in inv.evals}
    assert models == {f"evals/{hostile['model'].name}", "evals/plain-model", "evals/bad-model"}
    assert not [e for e in inv.evals if "secret" in str(e.results) or "alias" in e.model]
    arc = [e for e in inv.evals if e.model == "evals/plain-model" and e.benchmark == "arc"]
    assert arc and not arc[0].has_samples  # its samples.jsonl is a link
    assert {inv.label(p) for p in inv.links} >= {"linked-run", "evals/linked-model", "evals/alias-model",
                                                 f"{hostile['run'].name}/config.yaml",
                                                 f"{hostile['run'].name}/checkpoints"}
    assert readers.checkpoint_table(hostile["run"]).empty  # checkpoints/ is a link out of the root
    step = readers.checkpoint_table(root / "b-run")
    assert list(step["checkpoint"]) == ["step-1"] and not step["complete"].any()  # holds a linked config.json
    # The root itself may be a link (the user's own choice): it is resolved once.
    (root.parent / "root-link").symlink_to(root, target_is_directory=True)
    assert [r.name for r in discover.scan(root.parent / "root-link").runs] == [r.name for r in inv.runs]
    with pytest.raises(ValueError, match="symbolic link"):
        readers.read_yaml_text(hostile["run"] / "config.yaml")


def test_run_store_is_opened_immutable(hostile: dict[str, Path]) -> None:
    root = hostile["root"]
    before = tree_snapshot(root)
    counts = readers.query_readonly(root / "workbench.db", "SELECT COUNT(*) AS runs FROM runs")
    assert counts["runs"].tolist() == [1]
    assert tree_snapshot(root) == before
    assert not [p for p in root.rglob("*") if p.name.endswith(("-wal", "-shm", "-journal"))]
    with pytest.raises(ValueError, match="broken/workbench.db: not a SQLite database"):
        readers.query_readonly(root / "broken" / "workbench.db", "SELECT 1")
    with pytest.raises(ValueError, match="foreign/workbench.db: not a workbench run store.*no such table: runs"):
        readers.query_readonly(root / "foreign" / "workbench.db", "SELECT COUNT(*) FROM runs")


# -- AppTest: no data reaches Markdown unescaped --------------------------------------------------

#: Markdown that would render an image, raw HTML or a link from data.
UNESCAPED = re.compile(r"!\[|<img|<script|</code>|http://127")


def markdown_texts(at: AppTest) -> list[str]:
    """Every string the page hands to Streamlit's Markdown renderer: bodies of markdown,
    captions, alerts and headings, and the labels of widgets, expanders and tabs."""
    texts = [e.value for kind in ("markdown", "caption", "error", "info", "warning", "success", "title", "header",
                                  "subheader") for e in at.get(kind)]
    for kind in ("selectbox", "multiselect", "text_area", "text_input", "checkbox", "radio", "number_input",
                 "slider", "metric", "expander", "tab"):
        texts += [e.label for e in at.get(kind) if getattr(e, "label", None)]
    return texts


def visible_texts(at: AppTest) -> list[str]:
    """Markdown texts plus code, plain text, text areas, options and table cells."""
    texts = markdown_texts(at) + [e.value for kind in ("code", "text", "text_area") for e in at.get(kind)]
    for box in [*at.selectbox, *at.multiselect]:
        texts += [str(o) for o in box.options]
    for frame in at.dataframe:
        texts += [frame.value.to_csv()]
    return texts


def open_page(root: Path, page: str, state: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.session_state["runs_root"] = str(root)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    if page != "runs":
        at.switch_page(f"workbench/app/pages/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _no_leak(at: AppTest) -> None:
    for text in markdown_texts(at):
        assert not UNESCAPED.search(text), f"data reached Markdown unescaped: {text!r}"
    assert not [t for t in visible_texts(at) if SECRET in t], "the secret outside the root reached the page"


@pytest.mark.parametrize("page, state", [
    ("runs", None),
    ("runs", {"runs-run": "b-run"}),
    ("leaderboard", None),
    ("samples", None),
    ("samples", {"sm-model": "evals/plain-model"}),
    ("gw_lab", None),
])
def test_hostile_pages_in_apptest(hostile: dict[str, Path], page: str, state: dict | None) -> None:
    at = open_page(hostile["root"], page, state)
    _no_leak(at)
    errors = [unescape(e.value) for e in at.error]
    if page == "runs" and not state:
        assert any("config.yaml: 'config.yaml' is a symbolic link" in e for e in errors), errors
        assert any("eval_queue.jsonl: not a regular file" in e for e in errors), errors
        assert any("broken/workbench.db: not a SQLite database" in e for e in errors), errors
        assert any("foreign/workbench.db: not a workbench run store" in e for e in errors), errors
        overview = at.dataframe[0].value.set_index("run")
        assert overview.loc["b-run", "problem"].endswith("'metrics.jsonl' is a symbolic link (or not a folder); "
                                                         "the app follows no symbolic links below the runs root")
        shown = displayed(at.dataframe[0])
        assert "5e-08" in shown["gld/gemma"].tolist()  # 5e-8, not 0.00000005
    if state == {"runs-run": "b-run"}:
        assert any("config.yaml: not valid YAML" in e and "![yaml]" in e for e in errors), errors
    if page == "leaderboard":
        assert any("bad-model/gsm8k/results.json" in e and "![metric]" in e for e in errors), errors
    if page == "samples" and state:
        # Numeric answers with one missing: "—" in the data itself (Streamlit would draw a
        # null as "None" whatever the display value), never NaN.
        assert at.dataframe[0].value["extracted"].tolist() == ["—", "5", "7", "1e-08"]
        assert displayed(at.dataframe[0])["extracted"].tolist() == ["—", "5", "7", "1e-08"]
        assert [t.value for t in at.text if t.value.startswith("extracted")] == ["extracted: (none)"]


def displayed(element) -> pd.DataFrame:  # an AppTest Dataframe
    """The display values the browser shows for a table (the Styler's formatted text)."""
    import pyarrow as pa

    data = element.proto.arrow_data.styler.display_values
    assert data, "this table has no display values (not formatted)"
    return pa.ipc.open_stream(io.BytesIO(data)).read_all().to_pandas()


# -- Headless Chromium -----------------------------------------------------------------------

#: (url path, heading, what renders once the page is done): every page by its own URL;
#: "/" opens /runs. (The graph inspector recomputes with the tiny-random models.)
DEEP_LINKS = [("runs", "Runs", "stVegaLiteChart"), ("leaderboard", "Leaderboard", "stDataFrame"),
              ("samples", "Samples", "stTextArea"), ("graph-inspector", "Graph inspector", "stMetric"),
              ("gw-lab", "GW lab", "stCode"), ("", "Runs", "stVegaLiteChart")]


def _choose(page, label: str, option: str) -> None:  # a Playwright page
    """Pick ``option`` in the selectbox labelled ``label``."""
    box = page.locator("[data-testid='stSelectbox']").filter(has_text=label).first
    box.click()
    page.get_by_role("option", name=option, exact=True).first.click()
    settle(page)


def _messages(ws_frames: list[bytes]):
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    for payload in ws_frames:
        msg = ForwardMsg()
        try:
            msg.ParseFromString(payload)
        except Exception:  # not a ForwardMsg (should not happen)
            continue
        yield msg


def _chart_rows(ws_frames: list[bytes]) -> list[pd.DataFrame]:
    """The data of every Vega-Lite chart the browser received."""
    import pyarrow as pa

    out = []
    for msg in _messages(ws_frames):
        if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
            continue
        element = msg.delta.new_element
        if element.WhichOneof("type") != "vega_lite_chart":
            continue
        chart = element.vega_lite_chart
        blobs = [d.data.data for d in chart.datasets] + ([chart.data.data] if chart.data.data else [])
        out += [pa.ipc.open_stream(io.BytesIO(b)).read_all().to_pandas() for b in blobs if b]
    return out


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "Debian chromium is missing: `make browser` installs it"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_hostile_root_in_chromium(hostile: dict[str, Path], listener: Listener, browser) -> None:
    root, outside = hostile["root"], hostile["outside"]
    before = tree_snapshot(root, outside)
    ARTIFACTS.mkdir(exist_ok=True)
    port = str(listener.port)
    with serve(root) as url:
        page = browser.new_page(viewport={"width": 1500, "height": 1800})
        frames: list[bytes] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda b: frames.append(b)
                                                   if isinstance(b, bytes) else None))
        for path, title, ready in DEEP_LINKS:
            page.goto(f"{url}/{path}", wait_until="domcontentloaded")
            page.get_by_role("heading", name=title).first.wait_for(timeout=90_000)
            page.locator(f"[data-testid='{ready}']").first.wait_for(timeout=180_000)
            settle(page)
            if not path:
                assert page.url.rstrip("/").endswith("/runs"), page.url
            assert page.get_by_text("Page not found").count() == 0, f"/{path} is not a page"
            assert page.locator("[data-testid='stException']").count() == 0, f"exception on /{path}"
            page.screenshot(path=str(ARTIFACTS / f"hostile-{path or 'root'}.png"), full_page=True)
            html = page.content()
            assert SECRET not in html, f"the secret outside the root is on /{path}"
            assert not page.locator(f"img[src*='{port}'], script[src*='{port}']").count(), f"lure rendered on /{path}"
            # text_content, not inner_text: hidden tabs and the tables' cells count too.
            text = page.locator("[data-testid='stMain']").text_content()
            assert "NaN" not in text and "0.00000001" not in text, f"unreadable number on /{path}"
            if path == "samples":
                # The reported case: the gold answer is shown as the text it is.
                assert f"gold: `</code>![gold](http://127.0.0.1:{port}/gold.png)" in text
                _choose(page, "Model", "evals/plain-model")
                text = page.locator("[data-testid='stMain']").text_content()
                assert "extracted: (none)" in text and "NaN" not in text
                page.screenshot(path=str(ARTIFACTS / "hostile-samples-plain.png"), full_page=True)
                # A widget label made of data (the other model's name) reads as the name.
                _choose(page, "Compare with", f"evals/{hostile['model'].name}")
                assert f"Output of evals/{hostile['model'].name}" in page.locator("[data-testid='stMain']").inner_text()
            if path == "runs":
                assert "is a symbolic link" in text  # config.yaml: refused, said so
        assert not [m for m in _messages(frames) if m.WhichOneof("type") == "page_not_found"]
        page.wait_for_timeout(1000)  # let any late fetch arrive
        page.close()
    assert listener.hits == [], f"the page fetched from the attacker's server: {listener.hits}"
    after = tree_snapshot(root, outside)
    assert after == before, f"the app changed the root: {set(after) ^ set(before) or 'mtimes/sizes'}"


def test_huge_metrics_render_in_seconds_downsampled(big_root: tuple[Path, dict], browser) -> None:
    root, expected = big_root
    size_mb = (root / "long-run" / "metrics.jsonl").stat().st_size / 2**20
    assert size_mb > 55
    with serve(root) as url:
        page = browser.new_page(viewport={"width": 1500, "height": 1400})
        frames: list[bytes] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda b: frames.append(b)
                                                   if isinstance(b, bytes) else None))
        page.add_init_script("""window.__longTasks = [];
            new PerformanceObserver(l => l.getEntries().forEach(e => window.__longTasks.push(e.duration)))
              .observe({type: 'longtask', buffered: true});""")
        # Warm up on a page that does not read the metrics (the browser loads and compiles
        # the app's JavaScript once), so the timing below is the metrics page's own.
        warm = time.monotonic()
        page.goto(f"{url}/gw-lab", wait_until="domcontentloaded")
        page.get_by_role("heading", name="GW lab").first.wait_for(timeout=90_000)
        settle(page)
        warm = time.monotonic() - warm
        start = time.monotonic()
        page.goto(f"{url}/runs", wait_until="domcontentloaded")
        page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=BIG_PAGE_BUDGET_S * 1000)
        settle(page)
        elapsed = time.monotonic() - start
        # Responsive afterwards: a round trip through the page's main thread is immediate.
        t0 = time.monotonic()
        page.evaluate("() => 1")
        roundtrip = time.monotonic() - t0
        longest = max(page.evaluate("() => window.__longTasks") or [0])
        page.screenshot(path=str(ARTIFACTS / "hostile-huge-metrics.png"), full_page=True)
        page.close()
    received_mb = sum(len(f) for f in frames) / 2**20
    charts = _chart_rows(frames)
    curves = [c for c in charts if {"step", "term", "value"} <= set(c.columns)]
    assert curves, "no loss-curve chart reached the browser"
    per_term = curves[0].groupby("term")
    print(f"\n{size_mb:.1f} MB metrics.jsonl ({expected['steps']} steps): /runs drawn in {elapsed:.1f}s, "
          f"{received_mb:.2f} MB over the websocket, {per_term.size().max()} points per curve at most, "
          f"longest main-thread task {longest:.0f} ms, round trip after {roundtrip * 1000:.0f} ms "
          f"(an empty page took {warm:.1f}s, both including the 1.5 s settle wait)")
    assert elapsed < BIG_PAGE_BUDGET_S
    assert per_term.size().max() <= readers.MAX_POINTS
    assert all(len(c) <= 4 * readers.MAX_POINTS for c in charts)  # loss terms x points (throughput: one series)
    loss = curves[0][curves[0]["term"] == "loss"]
    assert loss["value"].max() == expected["spike"]  # the spike survives downsampling
    assert loss["step"].max() == expected["steps"]  # so does the last step
    assert received_mb < 10
    assert roundtrip < 2 and longest < 5000
