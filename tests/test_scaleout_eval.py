"""Data-parallel ``workbench eval --model`` on CPU through lm-eval's own multi-process
support: under ``accelerate launch`` (2 gloo ranks) lm-eval shards each chunk's documents
by rank, pads the short rank and gathers the samples to rank 0, which runs the ordinary
runner (resume, lock, writes). Every per-item row of ``samples.jsonl`` and every
``results.json`` number equals the 1-process run's, for a fresh benchmark and for a
resumed one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _eval_common import DATA_DIR, NLTK_DIR
from _launch import REPO, cpu_env, launch

MODEL = "smollm2-135m-instruct"
#: 5 documents in chunks of 3: uneven splits (2 + 1, 1 + 1) of every chunk across 2 ranks.
ARGS = ["eval", "--model", MODEL, "--benchmarks", "arc,gsm8k", "--limit", "5", "--limit-mode", "first",
        "--max-gen-toks", "8", "--batch-size", "2", "--chunk-size", "3", "--no-index", "--data-dir", str(DATA_DIR)]

pytestmark = pytest.mark.slow


def _rows(folder: Path) -> dict[str, dict]:
    rows = [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines() if x.strip()]
    return {r["doc_id"]: r for r in rows}


def _results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())["results"]


def test_two_ranks_give_the_per_item_results_of_one_process(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run([sys.executable, "-m", "workbench.cli", *ARGS, "--out", str(one)], cwd=REPO, check=True,
                   env=cpu_env(NLTK_DATA=str(NLTK_DIR)), capture_output=True, timeout=300)
    # The 2-rank run starts from the 1-process outputs with arc gone and gsm8k cut after
    # 2 items: arc is generated from scratch on 2 ranks, gsm8k resumed (3 items) on 2 ranks.
    shutil.copytree(one, two)
    shutil.rmtree(two / MODEL / "arc")
    gsm = two / MODEL / "gsm8k"
    (gsm / "results.json").unlink()
    lines = (gsm / "samples.jsonl").read_text().splitlines(keepends=True)
    (gsm / "samples.jsonl").write_text("".join(lines[:2]))
    launch([*ARGS, "--out", str(two)])
    resumed = json.loads((gsm / ".resume.json").read_text())
    assert (resumed["reused"], resumed["generated"]) == (2, 3)
    assert json.loads((two / MODEL / "arc" / ".resume.json").read_text())["generated"] == 5
    for name in ("arc", "gsm8k"):
        a, b = _rows(one / MODEL / name), _rows(two / MODEL / name)
        assert len(a) == 5 and sorted(a) == sorted(b)
        for doc_id in a:
            assert b[doc_id] == a[doc_id], (name, doc_id)  # prompt, output, extraction, score, keys
        assert _results(two / MODEL / name) == _results(one / MODEL / name)
    outputs = [r["output"] for name in ("arc", "gsm8k") for r in _rows(one / MODEL / name).values()]
    assert len(set(outputs)) >= 4 and all(o.strip() for o in outputs)  # real, varied generations
