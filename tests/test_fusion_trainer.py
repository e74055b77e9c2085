"""End to end on tiny-random models (configs/tiny.yaml, made smaller): a run writes the run
directory of DESIGN §3; checkpoints reload with AutoModelForCausalLM and generate; a run
killed with SIGKILL resumes from its last checkpoint and reproduces the uninterrupted
run's subsequent losses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fusion.config import load_config

REPO = Path(__file__).resolve().parents[1]
STEPS, SAVE = 4, 2
# Resume tolerance: the same ops on the same thread count; RNG, optimizer and data order are
# restored by the Trainer, so the only slack allowed is float reduction order.
RESUME_RTOL = 1e-5

pytestmark = pytest.mark.slow


def _config(tmp: Path, name: str, **training) -> Path:
    raw = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    raw["output_dir"] = str(tmp / name)
    raw["data"].update(path=str(tmp / "data.jsonl"), demo={"n": 8, "seed": 0},
                       max_prompt_tokens=48, max_response_tokens=24)
    raw["cache"].update(dir=str(tmp / "cache"), shard_size=8)
    raw["training"].update(max_steps=STEPS, save_steps=SAVE, per_device_batch_size=2, **training)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuse")


@pytest.fixture(scope="module")
def reference_run(work: Path) -> tuple[Path, dict]:
    """The uninterrupted run (in-process)."""
    from fusion.run import run_fusion

    cfg = load_config(_config(work, "reference"))
    summary = run_fusion(cfg)
    return Path(cfg.output_dir), summary


def test_run_directory_layout_and_metrics(reference_run) -> None:
    run, summary = reference_run
    assert summary["steps"] == STEPS
    assert load_config(run / "config.yaml").training.max_steps == STEPS
    rows = _metrics(run)
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    for r in rows:
        for key in ("loss", "ce", "wd/gemma", "gld/gemma", "lr", "step_time_s", "tokens"):
            assert r[key] is not None, key
        # The logged loss is the objective of the logged terms (λ = 0.5, α = β = w = 1).
        want = 0.5 * r["ce"] + 0.5 * (r["wd/gemma"] + r["gld/gemma"])
        assert r["loss"] == pytest.approx(want, rel=1e-4)
        assert r["tokens"] > 0 and r["step_time_s"] > 0
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ckpts == [f"step-{s}" for s in range(SAVE, STEPS + 1, SAVE)]
    queue = [json.loads(x) for x in (run / "eval_queue.jsonl").read_text().splitlines()]
    assert [q["step"] for q in queue] == list(range(SAVE, STEPS + 1, SAVE))
    assert all(Path(q["checkpoint"]).is_absolute() and Path(q["checkpoint"]).is_dir() for q in queue)
    assert summary["caches"]["gemma"]["bytes_per_token"] > 0


def test_checkpoint_reloads_and_generates(reference_run) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run, _ = reference_run
    path = run / "checkpoints" / f"step-{STEPS}"
    model = AutoModelForCausalLM.from_pretrained(str(path))
    tok = AutoTokenizer.from_pretrained(str(path))
    ids = tok("What is 2 plus 2?", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=5, do_sample=False, pad_token_id=tok.eos_token_id)
    assert out.shape[1] == ids["input_ids"].shape[1] + 5
    # The checkpoint differs from the untrained pivot: training changed it.
    from fusion.models import load_model_and_tokenizer

    base, _ = load_model_and_tokenizer("tiny-random-llama")
    name, p = next(iter(model.named_parameters()))
    assert not torch.equal(p, dict(base.named_parameters())[name])


def test_resume_after_sigkill_reproduces_losses(work: Path, reference_run) -> None:
    from fusion.run import run_fusion

    reference, _ = reference_run
    config = _config(work, "killed")
    run = work / "killed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    # Same config with a much larger max_steps (the schedule is constant, so the trajectory
    # is identical): the process is certainly still training when it is killed.
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "fuse", "--config", str(config),
                             "--max-steps", "1000"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            done = (run / "checkpoints" / f"step-{SAVE}" / "trainer_state.json").is_file()
            if done and (run / "metrics.jsonl").is_file() and _metrics(run) and _metrics(run)[-1]["step"] > SAVE:
                break
            assert proc.poll() is None, "the training process ended before it was killed"
            time.sleep(0.2)
        else:
            pytest.fail("no checkpoint within the deadline")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    cfg = load_config(config, {"training.max_steps": STEPS})
    summary = run_fusion(cfg)
    assert summary["resumed_from"] is not None
    resumed_at = int(Path(summary["resumed_from"]).name.split("-")[1])
    assert resumed_at >= SAVE and summary["steps"] == STEPS
    ref = {r["step"]: r for r in _metrics(reference)}
    got = _metrics(run)
    assert [r["step"] for r in got] == list(range(1, STEPS + 1))  # killed-run duplicates dropped
    for r in got:
        for key in ("loss", "ce", "wd/gemma", "gld/gemma"):
            assert r[key] == pytest.approx(ref[r["step"]][key], rel=RESUME_RTOL, abs=1e-12), (r["step"], key)


def test_fused_head_run_reproduces_the_unfused_losses(work: Path, reference_run) -> None:
    """``training.fused_head: true`` (hidden states only, chunked head with odd chunks)
    logs the same per-step terms as the reference run, whose ``auto`` is unfused on CPU."""
    from fusion.run import run_fusion

    cfg = load_config(_config(work, "fused", fused_head=True, fused_head_chunk=7))
    run_fusion(cfg)
    ref_dir, _ = reference_run
    want = [m for m in _metrics(ref_dir) if "loss" in m and "ce" in m]
    got = [m for m in _metrics(Path(cfg.output_dir)) if "loss" in m and "ce" in m]
    assert len(got) == len(want) == STEPS
    for g, w in zip(got, want):
        for key in ("loss", "ce", "wd/gemma", "gld/gemma"):
            assert g[key] == pytest.approx(w[key], rel=1e-4, abs=1e-6), (key, g["step"] if "step" in g else None)
