"""A process's share of GPU memory when several share one GPU (``experiment --jobs N``).

PyTorch's caching allocator keeps what a process has freed, so N processes on one GPU
each grow to their peak and the next one to allocate fails although most of the memory
is idle cache (measured on an H200: three trainings and an evaluation held 21-44 GiB
each and a fourth process's 1.5 GiB request failed). With a per-process fraction the
allocator frees its own cache and retries before it reports out of memory, so the
processes stay within their shares instead of starving each other.
"""

from __future__ import annotations

import os

ENV = "WORKBENCH_GPU_MEMORY_FRACTION"


def memory_fraction(environ: dict[str, str] | None = None) -> float | None:
    """The fraction in ``$WORKBENCH_GPU_MEMORY_FRACTION`` (None when unset or empty);
    a value outside (0, 1] or not a number raises ``ValueError`` naming the variable."""
    raw = (os.environ if environ is None else environ).get(ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{ENV}={raw!r} is not a number (expected a fraction in (0, 1])") from None
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{ENV}={raw!r} is outside (0, 1]")
    return value


def apply_memory_fraction(environ: dict[str, str] | None = None) -> float | None:
    """Cap this process's GPU memory at the fraction of :func:`memory_fraction`, when it is
    set and a CUDA device is present (torch is imported only then); returns the fraction."""
    value = memory_fraction(environ)
    if value is None:
        return None
    import torch

    if torch.cuda.is_available():
        torch.cuda.set_per_process_memory_fraction(value)
    return value


def share_for(jobs: int) -> str:
    """The fraction each of ``jobs`` concurrent processes gets, as the variable's text."""
    return f"{1.0 / max(1, jobs):.4f}"
