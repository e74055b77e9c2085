"""Score Python solutions with EvalPlus's data and rules, fully offline, in a real sandbox.

What is EvalPlus's and what is ours:

* Problems come from EvalPlus's loaders (``get_human_eval_plus`` / ``get_mbpp_plus``,
  which also restore MBPP+'s tuple/set/complex inputs), pointed at the local files by
  ``HUMANEVAL_OVERRIDE_PATH`` / ``MBPP_OVERRIDE_PATH`` — set before the first import
  (and on the loaded module if it was imported earlier) so nothing is ever downloaded.
* Expected outputs and reference times come from running the canonical solution with
  EvalPlus's ``trusted_exec``, exactly as ``evalplus.evaluate.get_groundtruth`` does, but
  only for the tasks being scored and cached in memory (EvalPlus caches a pickle on disk
  for the whole dataset; we never read pickles from disk). They stay in this process.
* Each solution is run on the base inputs and then, if it passed, on the plus inputs, as
  EvalPlus's ``untrusted_check`` does, each time in a fresh bubblewrap sandbox
  (:mod:`evaluations.sandbox`): EvalPlus's ``reliability_guard``, memory limit and
  per-input time limits ``max(min_time_limit, factor × ref_time)`` inside; no network,
  no host files, no privilege, no process creation, a wall-clock budget enforced from
  outside. The sandbox only returns the solution's *outputs*; this process compares
  them with the expected outputs by EvalPlus's rules (:mod:`evaluations.sandbox.judge`).
  A solution counts for ``plus`` only if it passes base *and* plus, as in EvalPlus's
  report; when base fails, plus is not run (status ``"skipped"``). Expected outputs too
  large to ship back and made of text only (MBPP/255's 1 GB) are compared by digest.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from evaluations.jsonl import JsonlError, jsonl_records
from evaluations.sandbox import bwrap, seccomp
from evaluations.sandbox.codec import Digest, is_text_only, text_digest
from evaluations.sandbox.errors import SandboxStartError, SandboxUnavailable
from evaluations.sandbox.judge import Comparison, digest_comparable, needs_iteration
from evaluations.sandbox.limits import SandboxLimits
from evaluations.sandbox.runner import DEADLINE, DONE, EXITED, CheckJob, run_check

Dataset = Literal["humaneval", "mbpp"]
_OVERRIDE = {
    "humaneval": ("HUMANEVAL_OVERRIDE_PATH", "evalplus.data.humaneval", "get_human_eval_plus"),
    "mbpp": ("MBPP_OVERRIDE_PATH", "evalplus.data.mbpp", "get_mbpp_plus"),
}
# Fields EvalPlus's loaders require on every line (its completeness_check + what we use).
REQUIRED_FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "base_input",
                   "plus_input", "atol")

PASS, FAIL, TIMEOUT, SKIPPED = "pass", "fail", "timeout", "skipped"
__all__ = ["CodeVerdict", "SandboxLimits", "SandboxUnavailable", "check_solutions", "load_problems"]


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
    except (OSError, EOFError, ValueError) as exc:  # ValueError: undecodable or damaged gzip, named by the reader
        reason = str(exc).removeprefix(f"{path}: ")
        return f"{path}: cannot be read as {'gzip ' if path.name.endswith('.gz') else ''}JSONL ({reason})"
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
        except Exception as exc:  # any loader failure is a data problem
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
            except Exception as exc:  # a broken canonical solution is bad data
                raise EvalPlusDataError(
                    f"{problem['task_id']}: canonical solution fails on its own {split} inputs "
                    f"({type(exc).__name__}: {exc})"
                ) from exc
        _EXPECTED[key] = oracle
    return _EXPECTED[key]


# ------------------------------------------------------------------------- host side
# How a sandboxed check's ending maps onto EvalPlus's statuses: a check that ran past its
# budget, or whose process vanished before it finished, is EvalPlus's "timeout" (its
# shared status was never set); every other ending short of "done" is a "fail".
_STATUS_OF = {DONE: PASS, DEADLINE: TIMEOUT, EXITED: TIMEOUT}


def sandbox_description() -> str:
    """Which isolation the checks run under on this machine (recorded in results).

    Raises :class:`~evaluations.sandbox.errors.SandboxUnavailable` when bubblewrap,
    setpriv or libseccomp is missing: code is never run without the sandbox.
    """
    seccomp.filter_program()
    if os.geteuid() == 0:
        bwrap.setpriv_path()
    return bwrap.describe(os.geteuid() == 0)


# Expected outputs with at least this many top-level items, when text only, are compared
# by digest instead of being shipped out of the sandbox (only MBPP/255 qualifies).
DIGEST_MIN_ITEMS = 100_000


def _digests(dataset: Dataset, problem: dict[str, Any], expected: dict[str, Any], split: str
             ) -> dict[int, Digest]:
    """Digests of the expected outputs of ``split`` that are compared by digest, computed
    once per task and kept with the expected outputs."""
    cache = expected.setdefault("digests", {})
    if split not in cache:
        cache[split] = {}
        if digest_comparable(dataset, problem["entry_point"]):
            for i, exp in enumerate(expected[split]):
                if isinstance(exp, list | tuple) and len(exp) >= DIGEST_MIN_ITEMS and is_text_only(exp):
                    cache[split][i] = Digest(text_digest(exp))
    return cache[split]


def check_split(dataset: Dataset, problem: dict[str, Any], expected: dict[str, Any],
                code: str, split: str, limits: SandboxLimits) -> str:
    """EvalPlus's status (pass/fail/timeout) of ``code`` on one split ("base" or "plus")
    of one task, run in its own sandbox and judged here.

    A sandbox that fails to start (before any candidate code ran) is retried once, then
    :class:`~evaluations.sandbox.errors.SandboxStartError` propagates: an infrastructure
    fault is never scored as the solution's failure.
    """
    entry_point = problem["entry_point"]
    inputs, wanted = problem[f"{split}_input"], expected[split]
    digests = _digests(dataset, problem, expected, split)
    job = CheckJob(code, entry_point, inputs, limits.time_limits(expected[f"{split}_time"]),
                   materialise_iterables=needs_iteration(dataset, entry_point),
                   digest_inputs=frozenset(digests))

    def attempt() -> str:
        comparison = Comparison(dataset, entry_point, problem["atol"])  # fresh tolerance state

        def judge(i: int, value: Any, type_name: str) -> bool:
            if i in digests:
                return comparison.matches_digest(value, digests[i])
            return comparison.matches(inputs[i], value, type_name, wanted[i])

        return _STATUS_OF.get(run_check(job, limits, judge).ended, FAIL)

    try:
        return attempt()
    except SandboxStartError:
        return attempt()  # once more; a second start failure propagates


def check_solutions(
    dataset: Dataset,
    data_path: Path,
    items: list[tuple[str, str]],
    limits: SandboxLimits | None = None,
    progress: bool = True,
) -> list[CodeVerdict]:
    """Judge ``(task_id, solution_code)`` pairs; returns verdicts in the same order.

    Expected outputs are computed here, one task at a time, just before its solutions
    are checked; ``limits.workers`` threads run sandboxed checks in parallel.
    """
    limits = limits or SandboxLimits()
    problems = load_problems(dataset, data_path)
    unknown = sorted({t for t, _ in items if t not in problems})
    if unknown:
        raise EvalPlusDataError(f"{data_path}: unknown task id(s) {', '.join(unknown[:5])}")
    sandbox_description()  # fail before any work when the sandbox cannot run here
    digest = dataset_digest(data_path)
    by_task: dict[str, list[int]] = {}
    for index, (task_id, _) in enumerate(items):
        by_task.setdefault(task_id, []).append(index)
    jobs: queue.Queue[str] = queue.Queue()
    for task_id in by_task:
        jobs.put(task_id)
    statuses: dict[int, tuple[str, str]] = {}
    gt_lock = threading.Lock()
    errors: list[BaseException] = []
    bar = tqdm(total=len(items), desc=f"evalplus {dataset}", disable=not progress, unit="sol")

    def serve() -> None:
        try:
            while not errors:
                try:
                    task_id = jobs.get_nowait()
                except queue.Empty:
                    return
                problem = problems[task_id]
                with gt_lock:  # reference times are measured one task at a time
                    expected = expected_outputs(dataset, problem, digest)
                for index in by_task[task_id]:
                    code = items[index][1]
                    base = check_split(dataset, problem, expected, code, "base", limits)
                    plus = (check_split(dataset, problem, expected, code, "plus", limits)
                            if base == PASS else SKIPPED)
                    statuses[index] = (base, plus)
                    bar.update(1)
        except BaseException as exc:  # re-raised on the calling thread
            errors.append(exc)

    try:
        threads = [threading.Thread(target=serve, daemon=True)
                   for _ in range(max(1, min(limits.workers, len(by_task))))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        bar.close()
    if errors:
        raise errors[0]
    return [CodeVerdict(items[i][0], *statuses[i]) for i in range(len(items))]
