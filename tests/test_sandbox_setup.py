"""The sandbox's own preconditions: missing pieces are clear errors, never a fallback;
and a real ``workbench eval`` leaves nothing of a hostile prediction behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evaluations.engines.evalplus_engine import check_solutions, sandbox_description
from evaluations.sandbox import bwrap, seccomp
from evaluations.sandbox.errors import SandboxUnavailable
from _sandbox_common import DATA, DATA_DIR, IMPORTS, MARKER, Listeners, attacks, hostile, marked_processes

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not DATA.is_file(), reason=f"benchmark data not at {DATA}")


@pytest.fixture
def no_bwrap(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(bwrap, "SYSTEM_DIRS", ())
    bwrap.bwrap_version.cache_clear()
    yield
    bwrap.bwrap_version.cache_clear()


def test_missing_bwrap_stops_code_scoring_with_a_clear_error(no_bwrap):
    with pytest.raises(SandboxUnavailable, match=r"bubblewrap \(bwrap\) not found.*make sandbox"):
        check_solutions("humaneval", DATA, [("HumanEval/0", "def has_close_elements(a, b): pass")],
                        progress=False)


def test_missing_bwrap_is_one_line_from_the_cli(no_bwrap, tmp_path, capsys):
    from workbench.cli import main

    predictions = tmp_path / "preds.jsonl"
    predictions.write_text(json.dumps({"benchmark": "humaneval", "doc_id": "HumanEval/0",
                                       "output": "def has_close_elements(a, b): pass"}) + "\n")
    code = main(["eval", "--predictions", str(predictions), "--data-dir", str(DATA_DIR),
                 "--out", str(tmp_path / "evals"), "--no-index"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "bubblewrap (bwrap) not found" in err[0], err
    assert not list((tmp_path / "evals").rglob("results.json"))  # nothing scored


def test_missing_libseccomp_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(seccomp.ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(seccomp.ctypes, "CDLL", lambda *a, **k: (_ for _ in ()).throw(OSError("gone")))
    seccomp.filter_program.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="libseccomp not found.*apt-get install -y libseccomp2"):
            seccomp.filter_program()
    finally:
        seccomp.filter_program.cache_clear()


def test_description_names_the_isolation():
    text = sandbox_description()
    assert text.startswith("bubblewrap ") and "seccomp" in text and "pid+net" in text


def test_workbench_eval_leaves_no_process_and_little_output(tmp_path):
    """The issue's scenario end to end: a prediction that starts a setsid daemon through
    ``_posixsubprocess.fork_exec``, floods stdout/stderr and forges records; after
    ``workbench eval`` exits, no process of it is alive and its output stayed small."""
    bait = {"listeners": Listeners(tmp_path, "e2e"), "secret": tmp_path / "s", "shm_bait": tmp_path / "b"}
    try:
        every = attacks(bait)
    finally:
        bait["listeners"].close()
    labels = ["_posixsubprocess.fork_exec setsid daemon", "setsid double-fork daemon (posix.fork)",
              "flood stdout and stderr", "forge records on every fd"]
    predictions = tmp_path / "preds.jsonl"
    lines = [{"benchmark": "humaneval", "doc_id": f"HumanEval/{i}",
              "output": "```python\n" + hostile(every[label], IMPORTS).replace(
                  "has_close_elements", ["has_close_elements", "separate_paren_groups",
                                         "truncate_number", "below_zero"][i]) + "```"}
             for i, label in enumerate(labels)]
    predictions.write_text("".join(json.dumps(line) + "\n" for line in lines))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "eval", "--predictions", str(predictions),
         "--data-dir", str(DATA_DIR), "--out", str(tmp_path / "evals"), "--no-index"],
        cwd=REPO, env=env, capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.stdout) + len(result.stderr) < 20_000
    results = json.loads(next((tmp_path / "evals").rglob("results.json")).read_text())
    assert MARKER not in result.stdout.decode() + result.stderr.decode()
    assert "pass@1_plus" in json.dumps(results)
    samples = [json.loads(line) for line in next((tmp_path / "evals").rglob("samples.jsonl")).open()]
    assert [s["score"] for s in samples] == [0.0] * len(labels)
    assert marked_processes() == []
