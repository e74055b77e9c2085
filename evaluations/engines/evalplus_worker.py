"""A confined worker process that judges solutions with EvalPlus's ``untrusted_check``.

Started by :mod:`evaluations.engines.evalplus_engine` as
``python -m evaluations.engines.evalplus_worker CONFIG_JSON`` — a fresh interpreter (no
model in its address space, so EvalPlus's memory limit means what it says; no inherited
threads or locks). Protocol:

* stdin (from the trusted host): a stream of pickled jobs
  ``(dataset, problem, expected, solutions)``;
* stdout: one JSON line per job, ``{"task_id": ..., "statuses": [[base, plus], ...]}``,
  preceded by ``{"ready": <sandbox description>}``. The host only ever *parses JSON* from
  this side, never unpickles: whatever the untrusted code does, it cannot make the host
  execute anything.

Before reading any job the worker confines itself (:func:`fs_guard.confine_to`): writes
only under its scratch directory (and /dev/shm, where multiprocessing keeps its shared
counters), no TCP, no signals outside, no further forks from the untrusted child.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

SKIPPED = "skipped"

# EvalPlus 0.3.1 (the latest release) never records a pass for HumanEval/32 (find_zero):
# its special oracle ends in a bare ``continue`` that skips ``details[i] = True`` and the
# progress counter, so every solution, the canonical one included, is scored "fail";
# upstream fixed it after the release (evalplus commit 26d6d00). We route around it at the
# edge: the solution is probed through a wrapper that applies EvalPlus's own oracle,
# ``abs(_poly(xs, find_zero(xs))) <= atol``, and returns a boolean the ordinary
# exact-match path compares against ``True``.
_FIND_ZERO_PROBE = """

def _workbench_find_zero_probe(*args):
    from evalplus.eval._special_oracle import _poly
    return abs(_poly(*args, find_zero(*args))) <= {atol!r}
"""


def _adapt_find_zero(problem: dict[str, Any], expected: dict[str, Any], solution: str
                     ) -> tuple[str, str, dict[str, Any]]:
    """(code, entry point, expected) that judge find_zero as fixed upstream EvalPlus does."""
    code = solution + _FIND_ZERO_PROBE.format(atol=problem["atol"])
    probed = {**expected, "base": [True] * len(expected["base"]),
              "plus": [True] * len(expected["plus"])}
    return code, "_workbench_find_zero_probe", probed


def check_task(dataset: str, problem: dict[str, Any], expected: dict[str, Any],
               solutions: list[str], min_time_limit: float,
               gt_time_limit_factor: float) -> list[list[str]]:
    """[base_status, plus_status] per solution; plus runs only when base passes."""
    from evalplus.eval import PASS, untrusted_check

    def run(solution: str, split: str) -> str:
        code, entry_point, oracle = solution, problem["entry_point"], expected
        if dataset == "humaneval" and entry_point == "find_zero":
            code, entry_point, oracle = _adapt_find_zero(problem, expected, solution)
        status, _ = untrusted_check(
            dataset, code, problem[f"{split}_input"], entry_point,
            expected=oracle[split], atol=problem["atol"], ref_time=oracle[f"{split}_time"],
            fast_check=True, min_time_limit=min_time_limit,
            gt_time_limit_factor=gt_time_limit_factor,
        )
        return status

    results = []
    for solution in solutions:
        base = run(solution, "base")
        results.append([base, run(solution, "plus") if base == PASS else SKIPPED])
    return results


def main(argv: list[str]) -> int:
    """Confine, announce readiness, then answer jobs until stdin closes."""
    config = json.loads(argv[0])
    scratch = config["scratch"]
    # Results get a private copy of stdout; fd 1 then points at stderr so that stray
    # prints (ours, EvalPlus's, or the untrusted code's) cannot corrupt the protocol.
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    tempfile.tempdir = scratch  # EvalPlus's create_tempdir() makes its dirs here
    os.environ["TMPDIR"] = scratch
    os.environ["EVALPLUS_MAX_MEMORY_BYTES"] = str(config["memory_bytes"])
    import evalplus.eval  # noqa: F401 - imported before confinement

    from evaluations.engines.fs_guard import confine_to

    writable = [Path(scratch)] + [Path(p) for p in ("/dev/shm",) if os.path.isdir(p)]
    description = confine_to(writable)
    results.write(json.dumps({"ready": description}) + "\n")
    results.flush()
    stdin = sys.stdin.buffer
    while True:
        try:
            dataset, problem, expected, solutions = pickle.load(stdin)  # from the host only
        except EOFError:
            return 0
        statuses = check_task(dataset, problem, expected, solutions,
                              config["min_time_limit"], config["gt_time_limit_factor"])
        results.write(json.dumps({"task_id": problem["task_id"], "statuses": statuses}) + "\n")
        results.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
