"""Limits of one sandboxed check (EvalPlus's defaults where EvalPlus has one)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SandboxLimits:
    """Time, memory and size limits of the checks, and how many run at once.

    The time rules are EvalPlus's: input ``i`` may take
    ``max(min_time_limit, gt_time_limit_factor × reference time of i)`` (enforced inside,
    by EvalPlus's ``time_limit``), and the whole check
    ``min(per_check_cap, Σ limits) + 2`` seconds from the moment the harness is ready
    (enforced by the host, which kills the sandbox: EvalPlus's ``untrusted_check``).
    """

    min_time_limit: float = 1.0
    gt_time_limit_factor: float = 4.0
    per_check_cap: float = 60.0  # EvalPlus's EVALPLUS_TIMEOUT_PER_TASK default
    memory_bytes: int = 4 * 1024**3  # EvalPlus's EVALPLUS_MAX_MEMORY_BYTES default
    # EvalPlus's default: half the cores, so time limits measured on an idle core hold.
    workers: int = field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2))
    # Threads of the sandboxed process (processes are refused outright by seccomp).
    processes: int = 32
    open_files: int = 256
    # Size of the private /tmp and /dev/shm each, and of any one file written there.
    tmpfs_bytes: int = 64 * 1024**2
    # Bytes of output records one check may send: the largest correct answers encode to
    # 147 MB (HumanEval/15 plus) and 124 MB (HumanEval/130 plus); MBPP/255's 1 GB is
    # compared by digest instead (evalplus_engine.DIGEST_MIN_ITEMS).
    output_bytes: int = 256 * 1024**2
    # Bytes of the sandbox's stderr kept for error messages (the rest is discarded).
    stderr_bytes: int = 16 * 1024
    # Seconds for bwrap + interpreter + imports before the harness is ready; generous
    # because a loaded 2-core machine is slow, and no candidate code runs in that phase.
    startup_timeout: float = 120.0

    def time_limits(self, ref_times: list[float]) -> list[float]:
        """EvalPlus's per-input limits for these reference times."""
        return [max(self.min_time_limit, self.gt_time_limit_factor * t) for t in ref_times]

    def check_budget(self, time_limits: list[float]) -> float:
        """Seconds the whole check may run after the harness is ready: EvalPlus's
        ``min(cap, Σ limits) + 1`` timeout plus the 1 s ``join`` grace."""
        return min(self.per_check_cap, sum(time_limits)) + 2.0
