"""Multi-process training on CPU (2 gloo ranks under ``accelerate launch``): the 2-process
run logs the same per-step losses as the 1-process run with the same global batch, writes
each checkpoint once with its complete marker after every rank saved, and resumes.

Same global batch: 2 ranks x per-device 2 against 1 process x per-device 2 x gradient
accumulation 2. The objective's CE is a token mean *per micro-batch* (as the Trainer's
own loss), so the 1-process equivalent of 2 ranks of 2 is accumulation over two
micro-batches of 2, not one micro-batch of 4 (a token-weighted mean over all 4, a
different number). Accelerate's seedable sampler gives both runs the same order: rank r
takes the r-th per-device batch of each step, accumulation takes them in turn.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from _launch import REPO, launch

from fusion.checkpoints import read_marker, verify_checkpoint
from fusion.config import load_config

STEPS, SAVE = 4, 2
#: Same ops on the same thread count; DDP averages gradients in another order than
#: accumulation sums them, so float rounding is the only slack.
RTOL = 1e-5
TERMS = ("loss", "ce", "wd/gemma", "gld/gemma", "grad_norm")

pytestmark = pytest.mark.slow


def _config(tmp: Path, name: str, accumulation: int) -> Path:
    raw = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    raw["output_dir"] = str(tmp / name)
    raw["data"].update(path=str(tmp / "data.jsonl"), demo={"n": 8, "seed": 0},
                       max_prompt_tokens=48, max_response_tokens=24)
    raw["cache"].update(dir=str(tmp / "cache"), shard_size=8)
    raw["training"].update(max_steps=STEPS, save_steps=SAVE, per_device_batch_size=2,
                           gradient_accumulation_steps=accumulation)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def max_relative_difference(a: list[dict], b: list[dict], keys: tuple[str, ...] = TERMS) -> float:
    """The largest |a - b| / |b| over every step and key (the rows must be step-aligned)."""
    assert [r["step"] for r in a] == [r["step"] for r in b]
    return max(abs(x[k] - y[k]) / max(abs(y[k]), 1e-30) for x, y in zip(a, b) for k in keys)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scaleout")


@pytest.fixture(scope="module")
def one_process(work: Path) -> Path:
    """The 1-process run (in-process); it also writes the data and builds the cache."""
    from fusion.run import run_fusion

    cfg = load_config(_config(work, "one", accumulation=2))
    run_fusion(cfg)
    return Path(cfg.output_dir)


@pytest.fixture(scope="module")
def two_processes(work: Path, one_process: Path) -> Path:
    launch(["fuse", "--config", str(_config(work, "two", accumulation=1))])
    return work / "two"


def test_two_processes_equal_one_process_with_the_same_global_batch(one_process: Path, two_processes: Path) -> None:
    one, two = _metrics(one_process), _metrics(two_processes)
    assert [r["step"] for r in two] == list(range(1, STEPS + 1))  # rank 0 alone writes metrics
    assert [r["tokens"] for r in two] == [r["tokens"] for r in one]  # the same examples in each step
    diff = max_relative_difference(two, one)
    print(f"max relative difference 2 vs 1 process over {STEPS} steps: {diff:.3g}")
    assert diff <= RTOL
    # Not vacuous: the trajectory moves, so equal numbers mean equal training.
    assert len({round(r["loss"], 6) for r in one}) == STEPS


def test_checkpoints_are_saved_once_with_the_marker_after_every_rank(two_processes: Path) -> None:
    ckpts = sorted(p.name for p in (two_processes / "checkpoints").iterdir())
    assert ckpts == [f"step-{s}" for s in range(SAVE, STEPS + 1, SAVE)]
    for name in ckpts:
        marker = verify_checkpoint(two_processes / "checkpoints" / name)
        # Each rank's RNG state is written by that rank: listed, so the marker came after both.
        assert {"rng_state_0.pth", "rng_state_1.pth", "model.safetensors", "optimizer.pt"} <= set(marker["files"])
        assert read_marker(two_processes / "checkpoints" / name)["step"] == int(name.split("-")[1])
    queue = [json.loads(x) for x in (two_processes / "eval_queue.jsonl").read_text().splitlines()]
    assert [q["step"] for q in queue] == list(range(SAVE, STEPS + 1, SAVE))  # rank 0 only, once each


def test_resume_under_two_processes_reproduces_the_run(work: Path, one_process: Path, two_processes: Path) -> None:
    """A 2-process run stopped after its step-2 checkpoint resumes under 2 processes."""
    run = work / "resumed"
    shutil.copytree(two_processes, run)
    shutil.rmtree(run / "checkpoints" / f"step-{STEPS}")  # as if killed after step SAVE's save
    proc = launch(["fuse", "--config", str(work / "two.yaml"), "--output-dir", str(run)])
    assert f"resuming from {run / 'checkpoints' / f'step-{SAVE}'}" in proc.stderr
    got = _metrics(run)
    assert [r["step"] for r in got] == list(range(1, STEPS + 1))  # steps after the checkpoint logged once
    diff = max_relative_difference(got, _metrics(one_process))
    print(f"max relative difference resumed 2-process vs 1 process: {diff:.3g}")
    assert diff <= RTOL
    verify_checkpoint(run / "checkpoints" / f"step-{STEPS}")
