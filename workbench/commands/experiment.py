"""``workbench experiment --config F``: the headline experiment from one command — the
training set from the benchmarks' train splits (no evaluated item), the arms SFT, SFT+WD,
SFT+WD+GLD, evaluation of the baselines and every arm, diagnostics on held-out examples,
and ``OUT/report.md`` (trajectory with bands, per-subtask deltas with CIs, attribution,
conclusion). Resumable: rerun the same command after an interruption.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from workbench.commands.eval import DEFAULT_DATA_DIR


def run(args: argparse.Namespace) -> int:
    """Load the config and run the chosen stages."""
    from workbench.experiment import STAGES, run_experiment
    from workbench.experiment_config import load_experiment_config

    cfg = load_experiment_config(args.config, out=args.out)
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip()) if args.stages else STAGES
    data_dir = args.data_dir or Path(os.environ.get("WORKBENCH_DATA_DIR", DEFAULT_DATA_DIR))
    only = frozenset(x.strip() for x in args.only.split(",") if x.strip()) if args.only else None
    from workbench.experiment_jobs import UnitsFailed

    try:
        path = run_experiment(cfg, Path(data_dir), stages, only=only, jobs=args.jobs)
    except UnitsFailed as exc:  # each unit's own error is in its log; rerun resumes the rest
        print(f"workbench experiment: error: {exc}; rerun the same command to retry them", file=sys.stderr)
        return 1
    print(f"experiment: {path}")
    if args.export:
        from workbench.experiment_export import export_outputs

        files = export_outputs(cfg.out, args.export)
        print(f"exported {len(files)} files to {args.export}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``experiment`` sub-command."""
    parser = subparsers.add_parser("experiment", help="the headline experiment: arms, evaluation, diagnostics, report",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, help="experiment YAML (see configs/experiment-*.yaml)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the config's 'out')")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help=f"benchmark data folder (default: $WORKBENCH_DATA_DIR or ./{DEFAULT_DATA_DIR})")
    parser.add_argument("--stages", default="", help="comma-separated subset of data,train,eval,diagnose,report "
                                                     "(default: all, in order)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="run up to N units (arm trainings, evaluations, diagnostics) as concurrent processes "
                             "after the shared teacher cache is built; a large GPU holds several small models' "
                             "work at once (default 1: one after another)")
    parser.add_argument("--only", default="",
                        help="comma-separated arm or baseline labels (e.g. sft-s0,pivot): run the chosen stages for "
                             "those alone, without timings or report (what each --jobs process runs)")
    parser.add_argument("--export", type=Path, default=None,
                        help="also copy the small outputs (report, tables, figures, metrics, samples without "
                             "prompts, diagnostics tables) here, e.g. to commit them")
    parser.set_defaults(func=run)
