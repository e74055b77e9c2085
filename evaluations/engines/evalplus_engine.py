"""Score Python solutions with EvalPlus's own test machinery, fully offline and sandboxed.

What is EvalPlus's and what is ours:

* Problems come from EvalPlus's loaders (``get_human_eval_plus`` / ``get_mbpp_plus``,
  which also restore MBPP+'s tuple/set/complex inputs), pointed at the local files by
  ``HUMANEVAL_OVERRIDE_PATH`` / ``MBPP_OVERRIDE_PATH`` — set before the first import
  (and on the loaded module if it was imported earlier) so nothing is ever downloaded.
* Expected outputs and reference times come from running the canonical solution with
  EvalPlus's ``trusted_exec``, exactly as ``evalplus.evaluate.get_groundtruth`` does, but
  only for the tasks being scored and cached in memory (EvalPlus caches a pickle on disk
  for the whole dataset; we never read pickles from disk).
* Each solution is judged by EvalPlus's ``untrusted_check`` — a forked child with
  ``reliability_guard``, per-input time limits ``max(min_time_limit, factor × ref_time)``
  and an address-space limit (``EVALPLUS_MAX_MEMORY_BYTES``) — on the base tests and then
  the plus tests. A solution counts for ``plus`` only if it passes base *and* plus, as in
  EvalPlus's report; when base fails, plus is not run (status ``"skipped"``).
* Those checks run in :mod:`evaluations.engines.evalplus_worker` processes — fresh
  interpreters (a forked copy of a process holding a model would blow the memory limit)
  that first confine themselves with :mod:`evaluations.engines.fs_guard`: they and their
  children may write only in a scratch directory, open no TCP connection, and signal
  nothing outside. Jobs go to them pickled (host → worker); verdicts come back as JSON
  (the host never unpickles anything from the sandboxed side).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from evaluations.jsonl import JsonlError, jsonl_records

Dataset = Literal["humaneval", "mbpp"]
_OVERRIDE = {
    "humaneval": ("HUMANEVAL_OVERRIDE_PATH", "evalplus.data.humaneval", "get_human_eval_plus"),
    "mbpp": ("MBPP_OVERRIDE_PATH", "evalplus.data.mbpp", "get_mbpp_plus"),
}
# Fields EvalPlus's loaders require on every line (its completeness_check + what we use).
REQUIRED_FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "base_input",
                   "plus_input", "atol")

PASS, FAIL, TIMEOUT, SKIPPED, CRASH = "pass", "fail", "timeout", "skipped", "crash"


@dataclass(frozen=True)
class SandboxLimits:
    """Execution limits; defaults are EvalPlus's (``evalplus.config``, 4 GiB memory)."""

    min_time_limit: float = 1.0
    gt_time_limit_factor: float = 4.0
    memory_bytes: int = 4 * 1024**3
    # EvalPlus's default: half the cores, so time limits measured on an idle core hold.
    workers: int = field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2))


@dataclass
class CodeVerdict:
    """EvalPlus's verdict for one solution: status on base tests and on plus tests."""

    task_id: str
    base_status: str
    plus_status: str

    @property
    def passed_base(self) -> bool:
        """Passed every original (base) test."""
        return self.base_status == PASS

    @property
    def passed_plus(self) -> bool:
        """Passed base and every EvalPlus (plus) test: the HumanEval+/MBPP+ criterion."""
        return self.base_status == PASS and self.plus_status == PASS

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``samples.jsonl``; the two booleans are named after the
        metrics they average into (``pass@1_base``, ``pass@1_plus``)."""
        return {**asdict(self), "pass@1_base": self.passed_base, "pass@1_plus": self.passed_plus}


class EvalPlusDataError(ValueError):
    """A missing or malformed EvalPlus data file (file, line and what is wrong)."""


def point_evalplus_at(dataset: Dataset, path: Path) -> None:
    """Make EvalPlus read ``dataset`` from the local ``path`` (never download).

    The override variable is read by EvalPlus when its module is imported, so it is set
    in the environment (for this process and the workers it spawns) and, if the module
    is already loaded, on the module itself.
    """
    env_name, module_name, _ = _OVERRIDE[dataset]
    os.environ[env_name] = str(path)
    module = sys.modules.get(module_name)
    if module is not None:
        setattr(module, env_name, str(path))


def _diagnose(dataset: Dataset, path: Path) -> str:
    """Find the first bad line of an EvalPlus JSONL(.gz) file; '' when none is found."""
    try:
        records = jsonl_records(path)
    except JsonlError as exc:
        return str(exc)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        return f"{path}: cannot be read as {'gzip ' if path.name.endswith('.gz') else ''}JSONL ({exc})"
    for number, row in records:
        missing = [k for k in REQUIRED_FIELDS if k not in row]
        if missing:
            return f"{path}:{number}: missing field(s) {', '.join(missing)}"
    return ""


_PROBLEMS: dict[tuple[str, str, int, int], dict[str, dict[str, Any]]] = {}


def load_problems(dataset: Dataset, path: Path) -> dict[str, dict[str, Any]]:
    """All problems of ``dataset`` from ``path`` via EvalPlus's loader, in file order.

    Cached per (file, size, mtime). Raises :class:`EvalPlusDataError` naming the file and
    the first offending line when the file is missing or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise EvalPlusDataError(f"{path}: file not found")
    stat = path.stat()
    key = (dataset, str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _PROBLEMS:
        point_evalplus_at(dataset, path)
        import importlib

        _, module_name, loader_name = _OVERRIDE[dataset]
        loader = getattr(importlib.import_module(module_name), loader_name)
        try:
            problems = loader(err_incomplete=True)
        except Exception as exc:  # noqa: BLE001 - any loader failure is a data problem
            where = _diagnose(dataset, path) or f"{path}: {type(exc).__name__}: {exc}"
            raise EvalPlusDataError(where) from exc
        if not problems:
            raise EvalPlusDataError(f"{path}: no problems (empty file)")
        _PROBLEMS[key] = problems
    return _PROBLEMS[key]


def dataset_digest(path: Path) -> str:
    """MD5 of the data file: the same identity EvalPlus uses for its ground-truth cache."""
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


_EXPECTED: dict[tuple[str, str, str], dict[str, Any]] = {}


def expected_outputs(dataset: Dataset, problem: dict[str, Any], digest: str = "") -> dict[str, Any]:
    """Outputs and run times of the canonical solution on base and plus inputs.

    Same computation as ``evalplus.evaluate.get_groundtruth`` for one task (EvalPlus's
    ``trusted_exec``; MBPP's "output is not None" tasks reduced to booleans), cached in
    memory per (dataset, data digest, task).
    """
    key = (dataset, digest, problem["task_id"])
    if key not in _EXPECTED:
        from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS
        from evalplus.gen.util import trusted_exec

        not_none = dataset == "mbpp" and problem["entry_point"] in MBPP_OUTPUT_NOT_NONE_TASKS
        code = problem["prompt"] + problem["canonical_solution"]
        oracle: dict[str, Any] = {}
        for split in ("base", "plus"):
            try:
                oracle[split], oracle[f"{split}_time"] = trusted_exec(
                    code, problem[f"{split}_input"], problem["entry_point"],
                    record_time=True, output_not_none=not_none,
                )
            except Exception as exc:  # noqa: BLE001 - a broken canonical solution is bad data
                raise EvalPlusDataError(
                    f"{problem['task_id']}: canonical solution fails on its own {split} inputs "
                    f"({type(exc).__name__}: {exc})"
                ) from exc
        _EXPECTED[key] = oracle
    return _EXPECTED[key]


# ------------------------------------------------------------------------- host side
def sandbox_description() -> str:
    """Which confinement layers the workers get on this machine (recorded in results)."""
    from evaluations.engines.fs_guard import landlock_abi

    abi = landlock_abi()
    return f"landlock-abi{abi}+audit-hook" if abi else "audit-hook"


def _job_budget(expected: dict[str, Any], n_solutions: int, limits: SandboxLimits) -> float:
    """Seconds after which a job's worker is presumed hung: EvalPlus's own per-check
    timeouts (capped at 60 s each) for base and plus of every solution, plus slack."""
    per_solution = sum(
        min(60.0, sum(max(limits.min_time_limit, limits.gt_time_limit_factor * t)
                      for t in expected[f"{split}_time"])) + 5.0
        for split in ("base", "plus")
    )
    return 60.0 + n_solutions * per_solution


class _Worker:
    """One confined ``evalplus_worker`` process, fed jobs one at a time."""

    def __init__(self, scratch_root: str, limits: SandboxLimits) -> None:
        scratch = tempfile.mkdtemp(prefix="worker-", dir=scratch_root)
        config = {"scratch": scratch, "memory_bytes": limits.memory_bytes,
                  "min_time_limit": limits.min_time_limit,
                  "gt_time_limit_factor": limits.gt_time_limit_factor}
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "TMPDIR": scratch, "OMP_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join(
                   [package_root] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
        env.pop("EVALPLUS_TIMEOUT_PER_TASK", None)  # EvalPlus compares it to a float as str
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evaluations.engines.evalplus_worker", json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=scratch, env=env,
        )
        ready = self._read_line(120.0)
        if not ready or "ready" not in ready:
            self.close()
            raise RuntimeError("evalplus worker failed to start (see stderr above)")
        self.sandbox = str(ready["ready"])

    def _read_line(self, timeout: float) -> dict[str, Any] | None:
        """One JSON object from the worker, or None if it died, hung or spoke garbage."""
        watchdog = threading.Timer(timeout, self.proc.kill)
        watchdog.start()
        try:
            line = self.proc.stdout.readline()  # type: ignore[union-attr]
        finally:
            watchdog.cancel()
        try:
            obj = json.loads(line) if line else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return obj if isinstance(obj, dict) else None

    def run(self, dataset: str, problem: dict[str, Any], expected: dict[str, Any],
            solutions: list[str], timeout: float) -> list[tuple[str, str]] | None:
        """Statuses for ``solutions``, or None when the worker was lost."""
        try:
            pickle.dump((dataset, problem, expected, solutions), self.proc.stdin)
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            return None
        reply = self._read_line(timeout)
        statuses = reply.get("statuses") if reply else None
        allowed = {PASS, FAIL, TIMEOUT, SKIPPED}
        if (
            not isinstance(statuses, list) or len(statuses) != len(solutions)
            or reply.get("task_id") != problem["task_id"]
            or not all(isinstance(s, list) and len(s) == 2 and set(s) <= allowed
                       for s in statuses)
        ):
            return None
        return [(s[0], s[1]) for s in statuses]

    def alive(self) -> bool:
        """The process is still running."""
        return self.proc.poll() is None

    def close(self) -> None:
        """Stop the worker (EOF on stdin, then kill if it lingers)."""
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self.proc.stdout.close()  # type: ignore[union-attr]


def check_solutions(
    dataset: Dataset,
    data_path: Path,
    items: list[tuple[str, str]],
    limits: SandboxLimits | None = None,
    progress: bool = True,
) -> list[CodeVerdict]:
    """Judge ``(task_id, solution_code)`` pairs; returns verdicts in the same order.

    Expected outputs are computed on the host, one task at a time, just before the task
    is handed to a worker; ``limits.workers`` confined workers judge tasks in parallel.
    A worker that dies or hangs only loses its current task, which is retried once in a
    fresh worker and otherwise scored ``crash`` (a failure).
    """
    limits = limits or SandboxLimits()
    problems = load_problems(dataset, data_path)
    unknown = sorted({t for t, _ in items if t not in problems})
    if unknown:
        raise EvalPlusDataError(f"{data_path}: unknown task id(s) {', '.join(unknown[:5])}")
    digest = dataset_digest(data_path)
    by_task: dict[str, list[int]] = {}
    for index, (task_id, _) in enumerate(items):
        by_task.setdefault(task_id, []).append(index)
    jobs: queue.Queue[tuple[str, int]] = queue.Queue()
    for task_id in by_task:
        jobs.put((task_id, 0))
    statuses: dict[int, tuple[str, str]] = {}
    gt_lock, errors = threading.Lock(), []
    bar = tqdm(total=len(items), desc=f"evalplus {dataset}", disable=not progress, unit="sol")
    scratch_root = tempfile.mkdtemp(prefix="workbench-evalplus-")

    def serve() -> None:
        worker: _Worker | None = None
        try:
            while True:
                try:
                    task_id, attempt = jobs.get_nowait()
                except queue.Empty:
                    return
                with gt_lock:  # reference times are measured one task at a time
                    expected = expected_outputs(dataset, problems[task_id], digest)
                solutions = [items[i][1] for i in by_task[task_id]]
                if worker is None or not worker.alive():
                    worker = _Worker(scratch_root, limits)
                result = worker.run(dataset, problems[task_id], expected, solutions,
                                    _job_budget(expected, len(solutions), limits))
                if result is None:  # lost the worker: retry once, then it is a crash
                    worker.close()
                    worker = None
                    if attempt == 0:
                        jobs.put((task_id, 1))
                        continue
                    result = [(CRASH, SKIPPED)] * len(solutions)
                for index, status in zip(by_task[task_id], result, strict=True):
                    statuses[index] = status
                bar.update(len(solutions))
        except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread
            errors.append(exc)
        finally:
            if worker is not None:
                worker.close()

    try:
        threads = [threading.Thread(target=serve, daemon=True)
                   for _ in range(max(1, min(limits.workers, len(by_task))))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        bar.close()
        shutil.rmtree(scratch_root, ignore_errors=True)
    if errors:
        raise errors[0]
    return [CodeVerdict(items[i][0], *statuses[i]) for i in range(len(items))]
