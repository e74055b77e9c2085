"""An exclusive lock per evaluation output folder (``--out``, or ``<run>/evals``).

Two evaluations writing the same folder would both generate every item (each appends
its own rows). The lock (``<out>/.eval.lock``, an OS file lock released when the process
ends, even by a kill) makes the second wait for the first — it then reuses every finished
item — or, after ``timeout`` seconds, refuse with one line naming the lock.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_NAME = ".eval.lock"


class OutputLocked(ValueError):
    """Another evaluation holds the output folder's lock."""


@contextmanager
def output_lock(out: str | Path, timeout: float | None = None) -> Iterator[Path]:
    """Hold ``<out>/.eval.lock`` for the block; wait for it (forever when ``timeout`` is
    None), saying so once on stderr; :class:`OutputLocked` after ``timeout`` seconds."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"[eval] {out}: another evaluation is writing here; waiting for it ({path})",
              file=sys.stderr, flush=True)
        try:
            lock.acquire(timeout=-1 if timeout is None else timeout)
        except Timeout:
            raise OutputLocked(f"{path}: another evaluation is still writing {out} after {timeout:g} s; "
                               "wait for it to finish or choose another --out") from None
    try:
        yield path
    finally:
        lock.release()
