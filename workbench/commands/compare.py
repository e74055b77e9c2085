"""``workbench compare A B``: paired comparison of two evaluated models, per benchmark.

A and B are evaluation output directories of one model each (``.../<model>/`` holding
``<benchmark>/samples.jsonl``). Items are paired on (benchmark, doc_id); the table gives
both accuracies, B − A with its paired-bootstrap CI, the discordant counts and McNemar's
exact p-value (see :mod:`evaluations.compare`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evaluations.compare import PairedComparison, compare_dirs


def format_table(rows: list[PairedComparison], confidence: float) -> str:
    """A fixed-width text table, one line per benchmark."""
    ci_name = f"{round(confidence * 100)}% CI"
    width = max([14, *(len(r.benchmark) for r in rows)])
    header = (f"{'benchmark':<{width}} {'n':>6} {'A':>7} {'B':>7} {'B-A':>8} {ci_name:>19} "
              f"{'A only':>7} {'B only':>7} {'McNemar p':>10}")
    lines = [header, "-" * len(header)]
    for r in rows:
        mark = "" if r.binary else "  (scores not 0/1: McNemar on score>=0.5)"
        unpaired = (f"  (unpaired: {r.unpaired_a} only in A, {r.unpaired_b} only in B)"
                    if r.unpaired_a or r.unpaired_b else "")
        lines.append(
            f"{r.benchmark:<{width}} {r.n:>6} {r.mean_a:>7.4f} {r.mean_b:>7.4f} {r.diff:>+8.4f} "
            f"[{r.ci_low:>+8.4f}, {r.ci_high:>+8.4f}] {r.only_a_correct:>7} "
            f"{r.only_b_correct:>7} {r.p_value:>10.4g}{mark}{unpaired}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Compare, print the table (and write JSON when asked)."""
    benchmarks = [b.strip() for b in args.benchmarks.split(",") if b.strip()] if args.benchmarks else None
    rows, missing = compare_dirs(args.a, args.b, benchmarks=benchmarks, n_boot=args.bootstrap,
                                 confidence=args.confidence, seed=args.seed, subtasks=args.subtasks)
    print(f"A = {args.a}\nB = {args.b}")
    print(format_table(rows, args.confidence))
    for side, names in missing.items():
        if names:
            print(f"not compared ({side.replace('_', ' ')}): {', '.join(names)}")
    if args.json:
        payload = {"a": str(args.a), "b": str(args.b), "seed": args.seed,
                   "bootstrap": args.bootstrap, "confidence": args.confidence,
                   "benchmarks": [r.as_dict() for r in rows], "not_compared": missing}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``compare`` sub-command."""
    parser = subparsers.add_parser(
        "compare", help="paired comparison of two evaluated models (McNemar, bootstrap CI)",
        description=__doc__,
    )
    parser.add_argument("a", type=Path, help="eval output dir of model A (<model>/)")
    parser.add_argument("b", type=Path, help="eval output dir of model B (<model>/)")
    parser.add_argument("--benchmarks", default="", help="comma-separated subset (default: all shared)")
    parser.add_argument("--bootstrap", type=int, default=10_000, help="bootstrap replicates")
    parser.add_argument("--confidence", type=float, default=0.95, help="CI level")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap RNG seed")
    parser.add_argument("--json", type=Path, default=None, help="also write results as JSON here")
    parser.add_argument("--subtasks", action="store_true",
                        help="also one row per BBH task, MMLU subject and MMLU category (the paper's Table 3 rows)")
    parser.set_defaults(func=run)
