"""Content-aware evaluation outputs with a real tiny model: an
exclusive lock per output folder (a second evaluation waits and then reuses every item,
or refuses after --lock-timeout), and model identity by path and weights, not name."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _bad_inputs import DATA_DIR, REPO, offline_env, run_cli

from evaluations.output_lock import output_lock

pytestmark = pytest.mark.slow
EVAL = ["--benchmarks", "gsm8k", "--data-dir", str(DATA_DIR), "--limit", "4", "--max-gen-toks", "4",
        "--batch-size", "2", "--no-index"]


def _eval(model: str, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "workbench.cli", "eval", "--model", model, "--out", str(out),
                             *EVAL, *extra], cwd=REPO, env=offline_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_second_eval_into_the_same_out_waits_then_reuses(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_lock(out):  # an evaluation is writing here
        code, err = run_cli(["eval", "--model", "tiny-random-llama", "--out", str(out), *EVAL, "--lock-timeout", "0.5"])
        assert code == 2 and f"{out / '.eval.lock'}: another evaluation is still writing" in err
    first, second = _eval("tiny-random-llama", out), _eval("tiny-random-llama", out)
    outs = [p.communicate(timeout=600) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, [o[1][-2000:] for o in outs]
    folder = out / "tiny-random-llama" / "gsm8k"
    lines = (folder / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 4 and len({json.loads(x)["doc_id"] for x in lines}) == 4  # each item once
    assert json.loads((folder / ".resume.json").read_text()) == {"reused": 4, "rescored": 0, "generated": 0}
    assert any("waiting for it" in o[1] for o in outs)


def test_two_model_folders_with_one_name_never_share_results(tmp_path: Path) -> None:
    from fusion.models import resolve_model

    a, b = tmp_path / "a" / "model", tmp_path / "b" / "model"
    shutil.copytree(resolve_model("tiny-random-llama"), a)
    shutil.copytree(resolve_model("tiny-random-llama?seed=7"), b)
    out = tmp_path / "out"
    for folder in (a, b, a):
        code, err = run_cli(["eval", "--model", str(folder), "--out", str(out), *EVAL])
        assert code == 0, err[-2000:]
    labels = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert len(labels) == 2 and labels[0] == "model" and labels[1].startswith("model-")
    identities = {json.loads((out / x / ".model.json").read_text())["path"]: x for x in labels}
    assert identities == {str(a.resolve()): "model", str(b.resolve()): labels[1]}
    # The third run (a again) found its own folder: everything reused, nothing regenerated.
    assert json.loads((out / "model" / "gsm8k" / ".resume.json").read_text())["generated"] == 0
    assert json.loads((out / labels[1] / "gsm8k" / ".resume.json").read_text())["generated"] == 4


def test_another_model_into_the_same_out_does_not_wait(tmp_path: Path) -> None:
    """Only choosing a model's folder holds the whole ``out``; then the model's own folder
    is held, so a different model evaluates while the first one's folder is locked, and
    the same model still waits (or refuses after --lock-timeout)."""
    out = tmp_path / "out"
    code, err = run_cli(["eval", "--model", "tiny-random-llama", "--out", str(out), *EVAL])
    assert code == 0, err[-2000:]
    held = out / "tiny-random-llama"
    with output_lock(held):  # an evaluation of tiny-random-llama is writing
        code, err = run_cli(["eval", "--model", "tiny-random-llama?seed=7", "--out", str(out), *EVAL,
                             "--lock-timeout", "0.5"])
        assert code == 0, err[-2000:]
        other = [p for p in out.iterdir() if p.is_dir() and p != held]
        assert len(other) == 1 and len((other[0] / "gsm8k" / "samples.jsonl").read_text().splitlines()) == 4
        code, err = run_cli(["eval", "--model", "tiny-random-llama", "--out", str(out), *EVAL, "--lock-timeout", "0.5"])
        assert code == 2 and f"{held / '.eval.lock'}: another evaluation is still writing" in err
