"""The fuse / cache-teachers commands' error handling and the auto-evaluation hook."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml
from transformers import TrainerControl, TrainerState

from fusion.callbacks import AutoEvalCallback, truncate_metrics
from workbench.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_missing_config_is_one_clear_line(tmp_path: Path, capsys) -> None:
    assert main(["fuse", "--config", str(tmp_path / "none.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "config file not found" in err[0]


def test_bad_config_names_the_key(tmp_path: Path, capsys) -> None:
    raw = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    raw["loss"]["alignment"] = "nearest"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["cache-teachers", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: loss.alignment: must be one of" in err


def test_bad_data_line_is_reported(tmp_path: Path, capsys) -> None:
    raw = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    data = tmp_path / "d.jsonl"
    data.write_text('{"id": "a", "prompt": "p", "response": "r"}\n{"id": "a", "prompt": "q", "response": "s"}\n')
    raw["data"] = {"path": str(data)}
    raw["cache"]["dir"] = str(tmp_path / "cache")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["cache-teachers", "--config", str(path)]) == 2
    assert f"{data}:2: duplicate id 'a' (first seen at line 1)" in capsys.readouterr().err


def _state(step: int) -> TrainerState:
    state = TrainerState()
    state.global_step = step
    return state


def test_auto_eval_queue_and_subprocess(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    queue_only = AutoEvalCallback(run, "queue")
    queue_only.on_save(None, _state(5), TrainerControl())
    lines = [json.loads(x) for x in (run / "eval_queue.jsonl").read_text().splitlines()]
    assert lines == [{"checkpoint": str((run / "checkpoints" / "step-5").resolve()), "step": 5}]
    assert queue_only.process is None

    cb = AutoEvalCallback(run, "subprocess", benchmarks=["gsm8k", "arc_challenge"], limit=3,
                          data_dir=tmp_path / "bench-data")
    assert cb.eval_command()[-9:] == ["eval", "--run", str(run.resolve()), "--benchmarks", "gsm8k,arc_challenge",
                                      "--limit", "3", "--data-dir", str((tmp_path / "bench-data").resolve())]
    t0 = time.perf_counter()
    cb.on_save(None, _state(10), TrainerControl())
    assert time.perf_counter() - t0 < 2.0  # training is not blocked by evaluation
    assert cb.process is not None
    try:
        cb.process.wait(timeout=120)
    except Exception:  # a slow evaluator is stopped, not waited for
        cb.process.kill()
        cb.process.wait()
    assert len((run / "eval_queue.jsonl").read_text().splitlines()) == 2
    assert (run / "eval.log").is_file()


def test_truncate_metrics(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss": 1.0}) + "\n" for s in [1, 2, 3, 4, 3, 4]))
    assert truncate_metrics(path, 2) == 2
    assert [json.loads(x)["step"] for x in path.read_text().splitlines()] == [1, 2]
