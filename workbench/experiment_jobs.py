"""Run one experiment's independent units side by side: ``workbench experiment --jobs N``.

A small model leaves most of a large GPU idle (decoding is bound by the host's kernel
launches, not the device), so the arms' trainings, the baselines' evaluations and, once an
arm is trained, its evaluation and diagnostics run as up to N concurrent processes, each
``workbench experiment --stages S --only LABEL`` on the same config and folder. The shared
teacher cache is built first, by one process of its own, so no two trainings write it. Every unit
logs to ``OUT/logs/<stage>-<label>.log``; a failed unit stops only the units that depend on
it, and the run then ends with an error naming each failed unit and its log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from workbench import gpu_share
from workbench.experiment_config import ExperimentConfig


class UnitsFailed(RuntimeError):
    """Some units of an experiment ended in an error; the message names each and its log."""


@dataclass(frozen=True)
class Unit:
    """One process's work: ``stage`` (train, eval or diagnose) for one arm or baseline ``label``."""

    stage: str
    label: str
    after: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """``"<stage> <label>"``, the key other units depend on."""
        return f"{self.stage} {self.label}"


def plan_units(cfg: ExperimentConfig, stages: tuple[str, ...]) -> list[Unit]:
    """The units of ``stages`` in start order: the shared teacher cache, the trainings after
    it, the baselines' evaluations (which need neither), then each arm's evaluation and
    diagnostics after its training (when training is among ``stages``), all evaluations
    before any diagnostics. Trainings come first because they are the longest chain: a
    free slot goes to them."""
    from workbench.experiment import arm_labels, baseline_models

    arms = [label for _arm, _seed, label in arm_labels(cfg)]
    trained = "train" in stages
    cache = Unit("cache", arms[0])  # one process of its own: its GPU memory is freed when it ends
    units = [cache] + [Unit("train", label, (cache.name,)) for label in arms] if trained else []
    if "eval" in stages:
        units += [Unit("eval", label) for label in baseline_models(cfg)]
    # Every arm's evaluation before any diagnostics: the benchmarks are the longer work.
    for stage in ("eval", "diagnose"):
        if stage in stages:
            units += [Unit(stage, label, (f"train {label}",) if trained else ()) for label in arms]
    return units


def unit_command(cfg: ExperimentConfig, data_dir: Path, unit: Unit) -> list[str]:
    """The command line of one unit (this interpreter, the same config and folder)."""
    return [sys.executable, "-m", "workbench.cli", "experiment", "--config", str(cfg.source),
            "--out", str(cfg.out), "--data-dir", str(data_dir), "--stages", unit.stage, "--only", unit.label]


def _log_tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_units(cfg: ExperimentConfig, data_dir: Path, units: list[Unit], jobs: int,
              record: Callable[[str, float], None], poll_seconds: float = 0.5) -> None:
    """Run ``units`` with at most ``jobs`` at once, each after the units it depends on;
    ``record(name, started)`` is called as each one ends well."""
    logs = cfg.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Each process gets its share of the cores: N processes × all cores would thrash.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    # ... and of one GPU's memory (workbench.gpu_share says why).
    env.setdefault(gpu_share.ENV, gpu_share.share_for(jobs))
    waiting = list(units)
    running: dict[str, tuple[Unit, subprocess.Popen, IO[str], Path, float]] = {}
    done: set[str] = set()
    failed: dict[str, Path] = {}
    while waiting or running:
        for unit in [u for u in waiting if any(a in failed for a in u.after)]:
            waiting.remove(unit)
            failed[unit.name] = logs / "(not started: a unit it needs failed)"
        for unit in [u for u in waiting if all(a in done for a in u.after)]:
            if len(running) >= jobs:
                break
            waiting.remove(unit)
            log = logs / f"{unit.stage}-{unit.label}.log"
            handle: IO[str] = log.open("w", encoding="utf-8")
            proc = subprocess.Popen(unit_command(cfg, data_dir, unit), stdout=handle, stderr=subprocess.STDOUT,
                                    env=env, start_new_session=False)
            running[unit.name] = (unit, proc, handle, log, time.time())
            print(f"[experiment] started {unit.name} (log {log})", flush=True)
        for name, (_unit, proc, handle, log, started) in list(running.items()):
            if proc.poll() is None:
                continue
            handle.close()
            del running[name]
            if proc.returncode == 0:
                done.add(name)
                record(name, started)
                print(f"[experiment] {name}: done in {time.time() - started:.0f} s", flush=True)
            else:
                failed[name] = log
                print(f"[experiment] {name}: FAILED (exit {proc.returncode}); see {log}:\n{_log_tail(log)}",
                      flush=True)
        if running:
            time.sleep(poll_seconds)
    if failed:
        raise UnitsFailed("experiment units failed: " + "; ".join(f"{n} ({p})" for n, p in failed.items()))


def run_jobs(cfg: ExperimentConfig, data_dir: Path, stages: tuple[str, ...], jobs: int,
             record: Callable[[str, float], None]) -> None:
    """Run every unit of ``stages`` (the shared teacher cache first among them) ``jobs`` at
    a time; ``OUT/logs/units.json`` lists the units and their commands."""
    units = plan_units(cfg, stages)
    (cfg.out / "logs").mkdir(parents=True, exist_ok=True)
    (cfg.out / "logs" / "units.json").write_text(json.dumps(
        [{"unit": u.name, "after": list(u.after), "command": unit_command(cfg, data_dir, u)} for u in units],
        indent=2) + "\n", encoding="utf-8")
    started = time.time()
    run_units(cfg, data_dir, units, jobs, record)
    record("all units (wall)", started)
