"""Data-parallel evaluation on CPU through lm-eval's own multi-process support: under
``accelerate launch`` (2 gloo ranks) lm-eval shards the documents by rank, pads the
uneven share and gathers the samples to rank 0; every per-item result (prompt, greedy
output, extracted answer, score) equals the 1-process run's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _eval_common import DATA_DIR
from _launch import REPO, cpu_env, launch

SCRIPT = str(REPO / "tests" / "_eval_ranks_script.py")
#: 5 documents: an uneven split (3 + 2), so lm-eval's padding of the short rank is exercised.
ARGS = ["smollm2-135m-instruct", "arc,gsm8k", "5", "2"]

pytestmark = pytest.mark.slow


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_two_ranks_give_the_per_item_results_of_one_process(tmp_path: Path) -> None:
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    subprocess.run([sys.executable, SCRIPT, *ARGS, str(one), str(DATA_DIR)], cwd=REPO, check=True,
                   env=cpu_env(NLTK_DATA=str(DATA_DIR.parent / "nltk_data")), capture_output=True, timeout=300)
    launch([*ARGS, str(two), str(DATA_DIR)], script=SCRIPT)
    a, b = _read(one), _read(two)
    assert (a["processes"], b["processes"]) == (1, 2)  # the launch really ran data-parallel
    for name in ("arc", "gsm8k"):
        assert [r["doc_id"] for r in b["rows"][name]] == [r["doc_id"] for r in a["rows"][name]]
        assert len(a["rows"][name]) == 5
        assert b["rows"][name] == a["rows"][name], name
    outputs = [r["output"] for rows in a["rows"].values() for r in rows]
    assert len(set(outputs)) >= 4 and all(o.strip() for o in outputs)  # real, varied generations
