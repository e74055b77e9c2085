"""``workbench eval``: evaluate a model, re-score predictions, or follow a training run.

Modes (exactly one): ``--model SPEC`` (generation through lm-eval; data-parallel under
``accelerate launch``, see :mod:`evaluations.engines.ranks`), ``--predictions
FILE.jsonl`` (``{benchmark, doc_id, output}`` lines scored by the same code), ``--run DIR
[--watch]`` (every checkpoint of a run, as it appears). Results are printed as a table and
indexed in the run store (``workbench.db``).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("data/benchmarks")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` sub-command."""
    p = subparsers.add_parser(
        "eval",
        help="evaluate a model / predictions / every checkpoint of a run on the paper's 11 benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--model", help="model spec: built-in name, tiny-random-<family>, local HF folder or hub id")
    mode.add_argument("--predictions", type=Path, help="JSONL of {benchmark, doc_id, output} to re-score")
    mode.add_argument("--run", type=Path, help="training run folder (runs/<run>): evaluate its checkpoints")
    p.add_argument("--benchmarks", default="all", help="'all' or comma-separated names (default: all)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help=f"benchmark data folder (default: $WORKBENCH_DATA_DIR or ./{DEFAULT_DATA_DIR})")
    p.add_argument("--limit", type=int, default=None,
                   help="N documents per benchmark: a stratified sample across subtasks (see --limit-mode)")
    p.add_argument("--limit-mode", choices=("stratified", "first"), default="stratified",
                   help="with --limit: 'stratified' (default; seeded, proportional per BBH task / MMLU subject) "
                        "or 'first' (the first N in official order)")
    p.add_argument("--seed", type=int, default=1234, help="seed of the stratified --limit sample (default: 1234)")
    p.add_argument("--style", choices=("paper", "lm-eval"), default="paper", help="prompt style (default: paper)")
    p.add_argument("--backend", choices=("hf", "vllm"), default="hf", help="lm-eval model backend (default: hf)")
    p.add_argument("--batch-size", type=int, default=8, help="generation batch size (default: 8)")
    p.add_argument("--max-gen-toks", type=int, default=None,
                   help="cap on generated tokens per item (not applied to --style lm-eval's stock tasks, which run "
                        "lm-eval's own settings; their results record it as ignored)")
    p.add_argument("--chunk-size", type=int, default=16,
        help="items generated between two durable writes (at least --batch-size: one chunk is one batched engine call)")
    p.add_argument("--deterministic", action="store_true",
                   help="deterministic GPU kernels: identical outputs on every pass "
                        "(slower; CPU is always deterministic)")
    p.add_argument("--out", type=Path, default=Path("runs/evals"),
                   help="output root: <out>/<model>/<benchmark>/ (default: runs/evals; --run writes to DIR/evals)")
    p.add_argument("--watch", action="store_true", help="with --run: keep evaluating new checkpoints")
    p.add_argument("--poll-seconds", type=float, default=10.0, help="with --watch: polling interval")
    p.add_argument("--idle-exit", type=float, default=None,
                   help="with --watch: stop after this many seconds without a new checkpoint")
    p.add_argument("--lock-timeout", type=float, default=None,
                   help="seconds to wait for another evaluation writing the same output folder, then refuse "
                        "(default: wait until it finishes)")
    p.add_argument("--no-index", action="store_true", help="do not index results in workbench.db")
    p.set_defaults(func=run)


def format_table(rows: list[tuple[str, str, str, float, Any, int]]) -> str:
    """A plain-text table: model, benchmark, metric, value (%), stderr (%), n."""
    header = ("model", "benchmark", "metric", "value", "stderr", "n")
    body = []
    for model, bench, metric, value, stderr, n in rows:
        se = f"{100 * stderr:.2f}" if isinstance(stderr, (int, float)) and math.isfinite(stderr) else "N/A"
        body.append((model, bench, metric, f"{100 * value:.2f}", se, str(n)))
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(tuple("-" * w for w in widths)), *map(line, body)])


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen mode, print the results table, index results."""
    from evaluations import registry, runner
    from evaluations.results import headline

    data_dir = args.data_dir or Path(os.environ.get("WORKBENCH_DATA_DIR", DEFAULT_DATA_DIR))
    if not data_dir.is_dir():
        raise FileNotFoundError(f"benchmark data folder {data_dir} not found (set --data-dir)")
    for flag, value, low in (("--limit", args.limit, 1), ("--batch-size", args.batch_size, 1),
                             ("--chunk-size", args.chunk_size, 1), ("--max-gen-toks", args.max_gen_toks, 1)):
        if value is not None and value < low:
            raise ValueError(f"{flag} must be >= {low}, got {value}")
    for flag, value in (("--poll-seconds", args.poll_seconds), ("--idle-exit", args.idle_exit),
                        ("--lock-timeout", args.lock_timeout)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{flag} must be a finite number >= 0, got {value}")
    if args.watch and not args.run:
        raise ValueError("--watch needs --run DIR")

    ranks = int(os.environ.get("WORLD_SIZE", "1"))
    if ranks > 1 and not args.model:
        raise ValueError("under accelerate launch only --model runs data-parallel (not --run or --predictions)")
    leader = int(os.environ.get("RANK", "0")) == 0
    store_root = args.run.parent if args.run else args.out.parent
    store = None
    if not args.no_index and leader:
        from workbench.store import Store

        store = Store(store_root)

    rows: list[tuple[str, str, str, float, Any, int]] = []

    def on_result(out_dir: Path, results: dict[str, Any]) -> None:
        bench, metric, value, stderr, n = headline(results)
        rows.append((out_dir.parent.name, bench, metric, value, stderr, n))
        if store is not None:
            store.index_eval(out_dir)

    model_kwargs = dict(limit=args.limit, limit_mode=args.limit_mode, seed=args.seed, style=args.style,
                        backend=args.backend, batch_size=args.batch_size,
                        max_gen_toks=args.max_gen_toks, chunk_size=args.chunk_size, deterministic=args.deterministic,
                        lock_timeout=args.lock_timeout)
    if args.predictions:
        runner.score_predictions(args.predictions, data_dir, args.out, style=args.style, on_result=on_result,
                                 lock_timeout=args.lock_timeout)
    elif args.run:
        benchmarks = registry.resolve(args.benchmarks)
        if store is not None:
            store.index_run(args.run)
        runner.evaluate_run(args.run, benchmarks, data_dir, watch=args.watch, poll_seconds=args.poll_seconds,
                            idle_exit_seconds=args.idle_exit, on_result=on_result, **model_kwargs)
    else:
        benchmarks = registry.resolve(args.benchmarks)
        missing = [n for n in registry.names() if n not in benchmarks] if args.benchmarks == "all" else []
        if missing:
            print(f"note: not available yet: {', '.join(missing)}")
        if ranks > 1:
            from evaluations.engines.ranks import evaluate_model_on_ranks

            evaluate_model_on_ranks(args.model, benchmarks, data_dir, args.out, on_result=on_result, **model_kwargs)
            if not leader:
                return 0  # rank 0 wrote and prints the results
        else:
            runner.evaluate_model(args.model, benchmarks, data_dir, args.out, on_result=on_result, **model_kwargs)
    print(format_table(rows) if rows else "no results")
    if store is not None:
        store.close()
    return 0
