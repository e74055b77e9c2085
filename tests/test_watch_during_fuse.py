"""``eval --run DIR --watch`` concurrent with a real ``fuse``: the watcher evaluates every
checkpoint once it is complete and never reads a folder being written (the Trainer's
``checkpoint-N`` temp folder, or ``step-N`` before its marker).

The test also watches the checkpoint folder itself and records every half-written folder
it saw, so it shows that the race the watcher must survive really happened.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _bad_inputs import DATA_DIR, REPO, offline_env, tiny_config

from fusion.checkpoints import COMPLETE_MARKER, is_complete_checkpoint

pytestmark = pytest.mark.slow
STEPS, SAVE = 8, 2


def test_watch_evaluates_each_complete_checkpoint_while_training(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, training={"max_steps": STEPS, "save_steps": SAVE})
    run = tmp_path / "run"
    env = offline_env()
    fuse = subprocess.Popen([sys.executable, "-m", "workbench.cli", "fuse", "--config", str(config)], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "fuse.log", "w"))
    seen_partial: set[str] = set()
    stop = threading.Event()

    def spy() -> None:  # what a naive watcher could have picked up
        while not stop.is_set():
            folder = run / "checkpoints"
            if folder.is_dir():
                for child in folder.iterdir():
                    if child.name.startswith("checkpoint-") or not (child / COMPLETE_MARKER).exists():
                        seen_partial.add(child.name)
            time.sleep(0.01)

    threading.Thread(target=spy, daemon=True).start()
    while not run.is_dir():  # the watcher needs the run folder to exist
        assert fuse.poll() is None, (tmp_path / "fuse.log").read_text()[-2000:]
        time.sleep(0.1)
    watch = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "eval", "--run", str(run), "--watch", "--poll-seconds", "0.05",
         "--idle-exit", "25", "--benchmarks", "gsm8k", "--data-dir", str(DATA_DIR), "--limit", "2",
         "--max-gen-toks", "4", "--batch-size", "2"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    stop.set()
    assert fuse.wait(600) == 0, (tmp_path / "fuse.log").read_text()[-2000:]
    assert watch.returncode == 0, watch.stderr[-3000:]
    steps = list(range(SAVE, STEPS + 1, SAVE))
    evaluated = sorted(p.name for p in (run / "evals").iterdir() if p.is_dir())
    assert evaluated == [f"step-{s}" for s in steps]  # nothing else: no checkpoint-N, no duplicates
    for s in steps:
        ckpt = run / "checkpoints" / f"step-{s}"
        assert is_complete_checkpoint(ckpt)
        results = json.loads((run / "evals" / f"step-{s}" / "gsm8k" / "results.json").read_text())
        assert results["n-samples"]["gsm8k"]["effective"] == 2
        identity = results["config"]["model_identity"]
        assert identity["path"] == str(ckpt.resolve()) and len(identity["weights_sha256"]) == 64
        lines = (run / "evals" / f"step-{s}" / "gsm8k" / "samples.jsonl").read_text().splitlines()
        assert len(lines) == 2
    print(f"half-written folders seen during training: {sorted(seen_partial)}")
    print(watch.stdout)
    assert seen_partial, "the spy never saw a checkpoint being written: the race was not exercised"
