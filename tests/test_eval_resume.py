"""Kill-and-resume: a SIGKILLed ``workbench eval`` resumes without regenerating finished
items or duplicating them, and ends with the same results.json as an uninterrupted run.
Also: ``--run DIR --watch`` evaluates checkpoints listed in the trainer's queue file."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _eval_common import DATA_DIR, offline_env

from evaluations.results import read_samples

pytestmark = pytest.mark.slow
MODEL = "tiny-random-llama"
BENCHES = "gsm8k,arc"
# Enough items (and tokens) that the kill, sent right after the 2nd durable write, lands
# mid-benchmark even on a quiet machine where a tiny model answers in ~50 ms.
LIMIT = 16
GEN_TOKS = "32"


def eval_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "workbench.cli", "eval", "--model", MODEL, "--benchmarks", BENCHES,
            "--data-dir", str(DATA_DIR), "--limit", str(LIMIT), "--max-gen-toks", GEN_TOKS, "--batch-size", "2",
            "--chunk-size", "1", "--out", str(out), "--no-index", *extra]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full")
    proc = subprocess.run(eval_cmd(out), capture_output=True, text=True, env=offline_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / MODEL


def test_kill_and_resume_matches_uninterrupted(uninterrupted, tmp_path):
    out = tmp_path / "killed"
    samples = out / MODEL / "gsm8k" / "samples.jsonl"
    proc = subprocess.Popen(eval_cmd(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=offline_env())
    deadline = time.time() + 300
    while time.time() < deadline and (not samples.exists() or len(samples.read_text().splitlines()) < 2):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = read_samples(samples)
    assert 2 <= len(done_before) < LIMIT, "the kill must land mid-benchmark"
    assert not (out / MODEL / "gsm8k" / "results.json").exists(), "results.json is written last"
    with samples.open("a") as fh:  # a torn line, as if killed mid-write
        fh.write('{"benchmark": "gsm8k", "doc_id": "9')

    resumed = subprocess.run(eval_cmd(out), capture_output=True, text=True, env=offline_env(), timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    lines = [json.loads(x) for x in samples.read_text().splitlines()]
    ids = [row["doc_id"] for row in lines]
    assert len(ids) == len(set(ids)) == LIMIT, "no duplicates, nothing missing"
    assert [s.output for s in done_before] == [row["output"] for row in lines[: len(done_before)]], \
        "finished items were kept, not regenerated"
    for bench in BENCHES.split(","):
        got = json.loads((out / MODEL / bench / "results.json").read_text())
        want = json.loads((uninterrupted / bench / "results.json").read_text())
        assert got == want, bench
        ref = {s.doc_id: s.output for s in read_samples(uninterrupted / bench / "samples.jsonl")}
        assert {s.doc_id: s.output for s in read_samples(out / MODEL / bench / "samples.jsonl")} == ref


def test_run_watch_evaluates_queued_checkpoints(uninterrupted, tmp_path):
    """A run folder with two checkpoints (queue file + folder scan) -> evals/<ckpt>/..."""
    from fusion.models import resolve_model

    model_dir = Path(resolve_model(MODEL))
    run = tmp_path / "runs" / "demo"
    from fusion.checkpoints import write_complete_marker

    for step in (2, 4):
        shutil.copytree(model_dir, run / "checkpoints" / f"step-{step}")
        write_complete_marker(run / "checkpoints" / f"step-{step}", step)  # what the trainer writes last
    (run / "eval_queue.jsonl").write_text(json.dumps({"checkpoint": str(run / "checkpoints" / "step-2"),
                                                      "step": 2}) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "eval", "--run", str(run), "--watch", "--idle-exit", "1",
         "--poll-seconds", "0.5", "--benchmarks", "arc", "--data-dir", str(DATA_DIR), "--limit", "2",
         "--max-gen-toks", GEN_TOKS, "--batch-size", "2"],
        capture_output=True, text=True, env=offline_env(), timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for step in (2, 4):
        results = json.loads((run / "evals" / f"step-{step}" / "arc" / "results.json").read_text())
        assert results["n-samples"]["arc"]["effective"] == 2
    # Same weights as the reference run -> same outputs on the same items.
    ref = [s.output for s in read_samples(uninterrupted / "arc" / "samples.jsonl")][:2]
    assert [s.output for s in read_samples(run / "evals" / "step-2" / "arc" / "samples.jsonl")] == ref
    import sqlite3

    rows = sqlite3.connect(run.parent / "workbench.db").execute(
        "SELECT run_id, checkpoint, benchmark, n FROM eval_results ORDER BY checkpoint").fetchall()
    assert rows == [("demo", "step-2", "arc", 2), ("demo", "step-4", "arc", 2)]
