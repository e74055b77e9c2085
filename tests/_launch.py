"""Start ``workbench`` under ``accelerate launch`` with 2 CPU processes (gloo), for the
scale-out tests.

Why ``--multi_gpu`` and ``ACCELERATE_USE_CPU=1`` rather than ``--cpu``: in accelerate
1.x ``accelerate launch --cpu --num_processes 2`` takes the *simple* launcher, which
starts one process (several CPU processes need ``mpirun``); ``--multi_gpu`` starts one
process per rank through torch's elastic launcher, and ``ACCELERATE_USE_CPU=1`` makes
``PartialState`` (and so the Trainer and lm-eval) choose ``MULTI_CPU`` with gloo.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port free on localhost now (for ``MASTER_PORT``; one per launch)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_env(**extra: str) -> dict[str, str]:
    """The environment of a CPU launch: offline, one thread per process, this checkout first."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "ACCELERATE_USE_CPU": "1", "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.update(extra)
    return env


def launch_command(args: list[str], num_processes: int = 2, port: int | None = None,
                   script: str | None = None) -> list[str]:
    """``accelerate launch`` of ``python -m workbench.cli ARGS`` (or of ``python SCRIPT
    ARGS``) on ``num_processes`` CPU ranks."""
    program = [script, *args] if script else ["-m", "workbench.cli", *args]
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(num_processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", str(port or free_port()), *program]


def launch(args: list[str], num_processes: int = 2, timeout: float = 300,
           script: str | None = None) -> subprocess.CompletedProcess:
    """Run :func:`launch_command`; raises ``AssertionError`` with the output tail if it fails."""
    proc = subprocess.run(launch_command(args, num_processes, script=script), cwd=REPO, env=cpu_env(),
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"launch of {args} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc
