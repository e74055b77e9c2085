"""Trainer callbacks: per-step metrics to ``metrics.jsonl`` and the auto-evaluation hook.

The auto-evaluation hook never imports the evaluation code: it appends each saved
checkpoint to ``<run>/eval_queue.jsonl`` (``{"checkpoint": "<abs path>", "step": N}``),
which ``workbench eval --run DIR [--watch]`` consumes, and — with ``eval.mode:
subprocess`` — starts ``workbench eval --run DIR`` in a separate process so training is
never blocked by evaluation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback


class MetricsJsonlCallback(TrainerCallback):
    """Writes one JSON line per logging step to ``path``: step, loss, every loss term
    (``ce``, ``wd/<source>``, ``gld/<source>``), lr, grad_norm, mean ``step_time_s`` of
    the optimizer steps since the previous line, and ``tokens`` processed in them."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._t0: float | None = None
        self._times: list[float] = []

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._t0 = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._t0 is not None:
            self._times.append(time.perf_counter() - self._t0)
            self._t0 = None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not logs or "loss" not in logs or not state.is_world_process_zero:
            return  # end-of-training summaries and evaluation logs are not step metrics
        record: dict[str, Any] = {"step": state.global_step, "loss": logs["loss"]}
        for key, value in logs.items():
            if key in ("ce", "tokens") or key.startswith(("wd/", "gld/")):
                record[key] = value
        record["lr"] = logs.get("learning_rate")
        if "grad_norm" in logs:
            record["grad_norm"] = logs["grad_norm"]
        record["step_time_s"] = sum(self._times) / len(self._times) if self._times else None
        record["epoch"] = logs.get("epoch")
        self._times = []
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def truncate_metrics(path: str | Path, last_step: int) -> int:
    """Drop lines with ``step > last_step`` (steps a killed run logged after its last
    checkpoint, which the resumed run logs again) and a torn last line (a kill mid-write).
    Returns the number of lines kept. A damaged line elsewhere raises ``ValueError``
    naming ``file:line``; the file is replaced atomically, so a failure keeps it intact."""
    path = Path(path)
    if not path.is_file():
        return 0
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        if data.find(b"\n", exc.start) != -1:
            raise ValueError(f"{path}:{line}: not UTF-8 text (byte {exc.start})") from None
        text = data[: data.rfind(b"\n") + 1].decode("utf-8")  # the torn tail
    lines = text.split("\n")
    last = max((i for i, ln in enumerate(lines) if ln.strip()), default=-1)
    kept = []
    for i, ln in enumerate(lines):
        if not ln.strip():
            continue
        try:
            row = json.loads(ln)
            step = row["step"]
            if isinstance(step, bool) or not isinstance(step, (int, float)):
                raise TypeError(f"step {step!r} is not a number")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            if i == last:
                break  # torn tail of a killed writer: dropped
            raise ValueError(f"{path}:{i + 1}: not a metrics record ({exc}); fix or delete that line") from None
        if step <= last_step:
            kept.append(ln)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")
    os.replace(tmp, path)
    return len(kept)


class AutoEvalCallback(TrainerCallback):
    """Hands every saved checkpoint to evaluation (see the module docstring)."""

    def __init__(self, run_dir: str | Path, mode: str = "queue", checkpoint_dir: str | Path | None = None,
                 benchmarks: list[str] | None = None, limit: int | None = None,
                 data_dir: str | Path | None = None) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.mode = mode
        self.benchmarks = list(benchmarks or [])
        self.limit = limit
        self.data_dir = None if data_dir is None else Path(data_dir).resolve()
        self.checkpoint_dir = Path(checkpoint_dir or self.run_dir / "checkpoints").resolve()
        self.process: subprocess.Popen | None = None

    @property
    def queue_path(self) -> Path:
        """``<run>/eval_queue.jsonl``."""
        return self.run_dir / "eval_queue.jsonl"

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.mode == "off" or not state.is_world_process_zero:
            return
        checkpoint = self.checkpoint_dir / f"step-{state.global_step}"
        with self.queue_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"checkpoint": str(checkpoint), "step": state.global_step}) + "\n")
        if self.mode == "subprocess":
            self._launch()

    def eval_command(self) -> list[str]:
        """The evaluation command started in ``subprocess`` mode."""
        cmd = [sys.executable, "-m", "workbench.cli", "eval", "--run", str(self.run_dir)]
        if self.benchmarks:
            cmd += ["--benchmarks", ",".join(self.benchmarks)]
        if self.limit is not None:
            cmd += ["--limit", str(self.limit)]
        if self.data_dir is not None:
            cmd += ["--data-dir", str(self.data_dir)]
        return cmd

    def _launch(self) -> None:
        # One evaluator at a time: a running one will find the new queue line itself.
        if self.process is not None and self.process.poll() is None:
            return
        log = (self.run_dir / "eval.log").open("a")
        self.process = subprocess.Popen(
            self.eval_command(),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ}, start_new_session=True,
        )
        log.close()
