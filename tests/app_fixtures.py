"""Helpers for the app tests; the session fixture ``app_root`` (in ``conftest.py``) builds from
them a runs root produced by the project's own commands:

``workbench bounds`` (two small families), ``workbench fuse`` with configs/tiny.yaml (data and
teacher cache redirected into a temp folder; 4 steps, a checkpoint every 2),
``workbench eval --predictions`` twice (gold answers / half wrong answers, rendered by
each benchmark's own ``gold_output`` / ``wrong_output`` from the real data), ``workbench
eval --run`` on the tiny run's checkpoints, ``workbench diagnose --checkpoints`` on it.
"""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app.py"
DATA_DIR = Path(os.environ.get("WORKBENCH_DATA_DIR", REPO.parent / "shared" / "benchmarks"))
PREDICTION_BENCHMARKS = ("gsm8k", "arc", "mmlu")
PREDICTION_ITEMS = 6


def run_cli(*args: object) -> None:
    """Run one ``workbench`` sub-command in-process; fail the test on a non-zero exit."""
    from workbench.cli import main

    argv = [str(a) for a in args]
    assert main(argv) == 0, f"workbench {' '.join(argv)} failed"


def write_predictions(folder: Path) -> tuple[Path, Path]:
    """``gold.jsonl`` (every answer right) and ``mixed.jsonl`` (every odd item wrong)."""
    from evaluations import registry

    rng = random.Random(0)
    gold, mixed = folder / "gold.jsonl", folder / "mixed.jsonl"
    with gold.open("w") as g, mixed.open("w") as m:
        for name in PREDICTION_BENCHMARKS:
            bench = registry.get(name)
            for i, doc in enumerate(bench.docs(DATA_DIR, limit=PREDICTION_ITEMS)):
                right = bench.gold_output(doc)
                g.write(json.dumps({"benchmark": name, "doc_id": doc["doc_id"], "output": right}) + "\n")
                output = right if i % 2 == 0 else bench.wrong_output(doc, rng)
                m.write(json.dumps({"benchmark": name, "doc_id": doc["doc_id"], "output": output}) + "\n")
    return gold, mixed


# -- Serving the app and driving headless Chromium (shared by test_app*.py) ------------------

import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from contextlib import contextmanager  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 120.0) -> None:
    """Poll Streamlit's health endpoint until it answers ``ok``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"workbench app exited with {server.returncode}: {server.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the app did not come up at {url} within {timeout:.0f}s")


@contextmanager
def serve(root: Path):
    """``workbench app --root <root>`` serving on a free localhost port; yields its URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "app", "--root", str(root), "--port", str(port), "--headless"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )
    url = f"http://localhost:{port}"
    try:
        wait_healthy(url, server)
        yield url
    finally:
        # `workbench app` execs Streamlit, so SIGTERM reaches the server itself.
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            pytest.fail("the app server did not stop on SIGTERM")


def settle(page, timeout: float = 180.0) -> None:  # a Playwright page
    """Wait until the script run has finished and the page stopped changing: no "Running"
    status widget and the same main text over one second."""
    deadline = time.monotonic() + timeout
    before = None
    while time.monotonic() < deadline:
        running = page.locator("[data-testid='stStatusWidget']").count() > 0
        text = page.locator("[data-testid='stMain']").inner_text()
        if not running and text == before:
            page.wait_for_timeout(500)  # charts draw just after their data arrives
            return
        before = text
        page.wait_for_timeout(1000)
    raise AssertionError(f"the page did not settle within {timeout:.0f}s")


def tree_snapshot(*folders: Path) -> dict[str, tuple]:
    """Every entry under ``folders`` (files, folders, links, FIFOs; links not followed):
    kind, modification time and size — so any file created, changed or removed shows."""
    out = {}
    for folder in folders:
        for current, dirnames, filenames in os.walk(folder, followlinks=False):
            for name in [*dirnames, *filenames]:
                path = Path(current) / name
                info = path.lstat()
                out[str(path)] = (info.st_mode, info.st_mtime_ns, info.st_size)
    return out


# -- A hostile runs root (markdown, symlinks, WAL db, huge metrics) ---------------------------

#: Written only outside the root; must never reach the page.
SECRET = "SECRET-7f3a9c-outside-the-root"


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection made to it (the page
    must make none: any image, link prefetch or script fetch from data would land here)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hits: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.hits.append(conn.recv(200) or b"(connected)")
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    self.hits.append(b"(connected)")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def lure(port: int, tag: str) -> str:
    """Content that fetches http://127.0.0.1:<port>/<tag>-… if rendered as Markdown or HTML
    (an image, an image after a code-span break-out, an <img>, a script), plus other
    Markdown that must show literally."""
    url = f"http://127.0.0.1:{port}/{tag}"
    return (f"![{tag}]({url}-md.png) `</code>![{tag}]({url}-code.png)` <img src=\"{url}-html.png\"> "
            f"<script>fetch('{url}-js')</script> **bold-{tag}** [link-{tag}]({url}-link) $x^2$")


def name_lure(port: int, tag: str) -> str:
    """A file or folder name (no '/') that fetches from the listener if rendered as
    Markdown (``http:\\\\host\\p`` is ``http://host/p`` to a browser; Markdown turns each
    ``\\\\`` into one backslash) or as HTML."""
    return f"{tag} ![{tag}](http:\\\\\\\\127.0.0.1:{port}\\{tag}.png) <img src=http:\\\\127.0.0.1:{port}\\{tag}-h.png>"


def _results(bench: str, metric: str, value: float, n: int, *, metric_key: str | None = None) -> dict:
    """A results.json in the layout ``workbench eval`` writes (lm-eval style)."""
    key = metric_key or metric
    return {"results": {bench: {f"{key},none": value, f"{key}_stderr,none": 0.1, "alias": bench}},
            "n-samples": {bench: {"original": n, "effective": n}}, "metric": metric}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def write_big_metrics(path: Path, steps: int = 600_000, spike_step: int = 300_001) -> dict:
    """A ``metrics.jsonl`` of ``steps`` logging lines (about 100 bytes each: 600k lines ≈
    60 MB) with a smooth loss, one spike (loss 50 at ``spike_step``) and GLD values around
    1e-8. Returns what a correct chart must keep."""
    rng = random.Random(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for start in range(1, steps + 1, 20_000):
            lines = []
            for s in range(start, min(start + 20_000, steps + 1)):
                loss = 50.0 if s == spike_step else 2.0 + 0.5 * math.sin(s / 9000) + 0.05 * rng.random()
                lines.append(f'{{"step":{s},"loss":{loss:.5f},"ce":{1.5 + 0.1 * rng.random():.5f},'
                             f'"gld/gemma":{1e-8 * (1 + rng.random()):.3g},"lr":{5e-5 * (1 - s / steps):.3g},'
                             f'"tokens":2048,"step_time_s":0.25}}\n')
            f.write("".join(lines))
    return {"steps": steps, "spike_step": spike_step, "spike": 50.0}


def _wal_db(path: Path) -> None:
    """A WAL-mode SQLite file with the run store's tables (what ``workbench eval`` indexes)."""
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    for table in ("runs", "checkpoints", "eval_results", "samples"):
        conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, note TEXT)")
    conn.execute("INSERT INTO runs (note) VALUES (?)", ("one run",))
    conn.commit()
    conn.close()


def build_hostile_root(base: Path, port: int) -> dict[str, Path]:
    """A runs root built as an attacker would, next to an ``outside`` folder holding
    :data:`SECRET`. Returns the paths the tests need (``root``, ``outside``, ...)."""
    import sqlite3

    root, outside = base / "root", base / "outside"
    root.mkdir(parents=True)
    # -- outside the root: secrets a link may point to
    (outside / "secret-run").mkdir(parents=True)
    (outside / "config.yaml").write_text(f"pivot:\n  model: tiny-random-llama\nsecret: {SECRET}\n")
    _write_jsonl(outside / "secret-run" / "metrics.jsonl", [{"step": 1, "loss": 1.0, SECRET: 1.0}])
    (outside / "secret-run" / "config.yaml").write_text(f"secret: {SECRET}\n")
    _write_jsonl(outside / "secret.jsonl", [{"id": SECRET, "prompt": SECRET, "response": SECRET}])
    secret_model = outside / "secret-model" / "gsm8k"
    secret_model.mkdir(parents=True)
    (secret_model / "results.json").write_text(json.dumps(_results("gsm8k", "exact_match", 1.0, 1)))
    _write_jsonl(secret_model / "samples.jsonl", [{"doc_id": SECRET, "output": SECRET, "extracted": SECRET,
                                                   "gold": SECRET, "score": 1.0}])
    (outside / "step-9").mkdir()
    (outside / "step-9" / "config.json").write_text("{}")

    # -- a run whose name, metric names and files are hostile
    run = root / ("a-run " + name_lure(port, "run"))
    run.mkdir()
    _write_jsonl(run / "metrics.jsonl", [
        {"step": s, "loss": 2.0 - 0.1 * s, "ce": 1.5, "gld/gemma": 1e-8 * s, "lr": 5e-5,
         f"wd/{name_lure(port, 'key')}": 0.01, "tokens": 1000, "step_time_s": 0.5} for s in range(1, 6)])
    (run / "config.yaml").symlink_to(outside / "config.yaml")        # file link out of the root
    (run / "checkpoints").symlink_to(outside, target_is_directory=True)  # folder link out of the root
    os.mkfifo(run / "eval_queue.jsonl")                               # would block a plain open()

    # -- a run with a linked metrics file, a malformed config quoting a lure, a linked checkpoint file
    other = root / "b-run"
    (other / "checkpoints" / "step-1").mkdir(parents=True)
    (other / "metrics.jsonl").symlink_to(outside / "secret-run" / "metrics.jsonl")
    (other / "config.yaml").write_text(f"data:\n  path: {outside / 'secret.jsonl'}\nbroken: [{lure(port, 'yaml')}\n")
    (other / "checkpoints" / "step-1" / "config.json").symlink_to(outside / "step-9" / "config.json")
    (root / "linked-run").symlink_to(outside / "secret-run", target_is_directory=True)  # a whole run, linked in

    # -- evaluations: a model folder named as a lure, with lure samples (the reported gold break-out)
    evals = root / "evals"
    model = evals / ("a-model " + name_lure(port, "model"))
    (model / "gsm8k").mkdir(parents=True)
    (model / "gsm8k" / "results.json").write_text(json.dumps(_results("gsm8k", "exact_match", 0.5, 4)))
    _write_jsonl(model / "gsm8k" / "samples.jsonl", [
        {"doc_id": "d0", "prompt": lure(port, "prompt"), "output": lure(port, "output"),
         "extracted": lure(port, "extracted"), "gold": f"`</code>![gold](http://127.0.0.1:{port}/gold.png)",
         "score": 1.0},
        {"doc_id": f"d1 ![id](http://127.0.0.1:{port}/docid.png)", "prompt": "p", "output": "o",
         "extracted": None, "gold": "3", "score": 0.0},
        {"doc_id": "d2", "prompt": "p", "output": "o", "extracted": "5", "gold": "5", "score": 1.0},
        {"doc_id": "d3", "prompt": "p", "output": "o", "extracted": "x", "gold": "4", "score": 0.0},
    ])
    # a benchmark whose name (inside results.json) is a lure: shown in headers and captions
    (model / "lure-bench").mkdir()
    (model / "lure-bench" / "results.json").write_text(json.dumps(_results(lure(port, "bench"), "acc", 1.0, 1)))
    # a plain model: numeric answers with one missing extraction (pandas would make it NaN)
    plain = evals / "plain-model"
    (plain / "gsm8k").mkdir(parents=True)
    (plain / "gsm8k" / "results.json").write_text(json.dumps(_results("gsm8k", "exact_match", 0.25, 4)))
    _write_jsonl(plain / "gsm8k" / "samples.jsonl", [
        {"doc_id": "d0", "prompt": "p0", "output": "no number here", "extracted": None, "gold": 12, "score": 0.0},
        {"doc_id": "d2", "prompt": "p2", "output": "5", "extracted": 5, "gold": 5, "score": 1.0},
        {"doc_id": "d3", "prompt": "p3", "output": "7", "extracted": 7, "gold": 4, "score": 0.0},
        {"doc_id": "d4", "prompt": "p4", "output": "0.00000001", "extracted": 1e-8, "gold": 1e-8, "score": 0.0},
    ])
    (plain / "arc").mkdir()
    (plain / "arc" / "results.json").write_text(json.dumps(_results("arc", "acc", 1.0, 1)))
    (plain / "arc" / "samples.jsonl").symlink_to(secret_model / "samples.jsonl")  # linked samples
    # a results.json whose error message quotes a lure (a metric key that is not there)
    bad = evals / "bad-model" / "gsm8k"
    bad.mkdir(parents=True)
    (bad / "results.json").write_text(json.dumps(_results("gsm8k", lure(port, "metric"), 1.0, 1,
                                                          metric_key="exact_match")))
    (evals / "linked-model").symlink_to(outside / "secret-model", target_is_directory=True)
    (evals / "alias-model").symlink_to(plain, target_is_directory=True)  # a link inside the root: not followed either

    # -- run-store indexes: WAL mode (opening it mode=ro would create -wal/-shm), not SQLite, another schema
    _wal_db(root / "workbench.db")
    (root / "broken").mkdir()
    (root / "broken" / "workbench.db").write_bytes(b"this is not a database " * 100)
    (root / "foreign").mkdir()
    conn = sqlite3.connect(root / "foreign" / "workbench.db")
    conn.execute("CREATE TABLE something_else (x)")
    conn.commit()
    conn.close()
    return {"root": root, "outside": outside, "run": run, "model": model, "plain": plain}
