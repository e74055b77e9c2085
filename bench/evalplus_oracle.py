"""Full oracle run of the code benchmarks (HumanEval+ 164 tasks, MBPP+ 378 tasks).

Gold outputs (canonical solutions rendered as a chat answer) must pass base and plus
tests; wrong outputs (a function with the right name returning None / raising) and
"another task's solution" (the next task's canonical solution, renamed to this task's
entry point so it is callable and merely wrong) must fail. Prints counts, pass rates,
failures with their EvalPlus statuses, and timings.

    .venv/bin/python bench/evalplus_oracle.py [--data-dir ../shared/benchmarks] [--stride 1]
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

from evaluations.benchmarks.humaneval import HumanEval
from evaluations.benchmarks.mbpp import MBPP
from evaluations.engines.evalplus_engine import SandboxLimits, sandbox_description


def other_task_solution(doc: dict, other: dict) -> str:
    """Another task's canonical solution renamed to this task's entry point."""
    code = other["prompt"] + other["canonical_solution"]
    code = re.sub(rf"\b{re.escape(other['entry_point'])}\b", doc["entry_point"], code)
    return f"```python\n{code}\n```"


def main() -> int:
    """Run the oracle on every task (or every ``--stride``-th) and print a report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path,
                        default=Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks")
    parser.add_argument("--stride", type=int, default=1, help="score every N-th task only")
    parser.add_argument("--workers", type=int, default=SandboxLimits().workers)
    args = parser.parse_args()
    print(f"sandbox: {sandbox_description()}, workers: {args.workers}")
    for bench in (HumanEval(), MBPP()):
        bench.limits = SandboxLimits(workers=args.workers)
        docs = bench.docs(args.data_dir)[:: args.stride]
        rng = random.Random(0)
        kinds = {
            "gold": [bench.gold_output(d) for d in docs],
            "wrong": [bench.wrong_output(d, rng) for d in docs],
            "other-task": [other_task_solution(d, docs[(i + 1) % len(docs)]) for i, d in enumerate(docs)],
        }
        for kind, outputs in kinds.items():
            start = time.perf_counter()
            samples = bench.score_batch(docs, outputs)
            seconds = time.perf_counter() - start
            agg = bench.aggregate(samples)
            print(f"{bench.name:9s} {kind:10s} n={len(samples):3d} "
                  f"pass@1_base={agg['pass@1_base']:.4f} ({sum(s.extra['pass@1_base'] for s in samples)}) "
                  f"pass@1_plus={agg['pass@1_plus']:.4f} ({sum(s.extra['pass@1_plus'] for s in samples)}) "
                  f"time={seconds:.1f}s")
            if kind == "gold":
                for s in samples:
                    if not s.extra["pass@1_plus"]:
                        print(f"    gold not passing: {s.doc_id} base={s.extra['base_status']} "
                              f"plus={s.extra['plus_status']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
