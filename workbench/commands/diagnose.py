"""``workbench diagnose``: WD vs exact GW vs the sorting approximation on real logits,
bound validation on real co-activation graphs, graph export for the app."""

from __future__ import annotations

import argparse
from pathlib import Path

from fusion.graphs import NODE_MODES, NORMALIZE_MODES, VALUE_MODES, WEIGHT_MODES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``diagnose`` sub-command."""
    p = subparsers.add_parser(
        "diagnose",
        help="WD vs exact GW vs sorting GW on real model logits (per example, per checkpoint)",
        description="For each example: forward pass of the pivot and each source on their own chat "
        "template, top-k logits at the response positions, character-offset alignment, WD, "
        "co-activation graphs, exact GW (best of starts, certified), entropic GW, every sorting "
        "variant, the bounds and the Proposition-1 form. With --checkpoints RUN_DIR the pivot is "
        "each checkpoint of the run (step 0 = the run's starting pivot). --experiment runs the "
        "headline experiment (SmolLM2-135M pivot, Gemma-3-270M source, 100 examples, plus short "
        "WD-only vs WD+GLD fusion runs when the trainer config exists). "
        "GW convention: Σ (C_ik − D_jl)² T_ij T_kl (POT square loss; no ½, no root).",
    )
    p.add_argument("--pivot", help="pivot model spec (built-in, tiny-random-*, folder); default: the run's")
    p.add_argument("--source", action="append", default=[],
                   help="source model spec, optionally NAME=SPEC (repeatable); default: the run's sources")
    p.add_argument("--data", type=Path, help="JSONL examples (id, messages|prompt, response); default: the run's")
    p.add_argument("--limit", type=int, help="diagnose only the first N examples")
    p.add_argument("--checkpoints", type=Path, metavar="RUN_DIR", help="diagnose every checkpoint of a fusion run")
    p.add_argument("--k", type=int, default=10, help="top-k per position (graphs and WD)")
    p.add_argument("--value", choices=VALUE_MODES, default="prob")
    p.add_argument("--nodes", choices=NODE_MODES, default="vocab")
    p.add_argument("--normalize", choices=NORMALIZE_MODES, default="rms")
    p.add_argument("--weights", choices=WEIGHT_MODES, default="uniform")
    p.add_argument("--restarts", type=int, default=4, help="random starts of the exact GW solver")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--export", type=int, default=10, metavar="N",
                   help="export graphs + coupling of the first N examples per checkpoint and source")
    p.add_argument("--top-n", type=int, default=20, help="nodes per graph in the export")
    p.add_argument("--max-response-tokens", type=int,
                   help="response tokens kept per example (default: the run's data setting, else 256)")
    p.add_argument("--experiment", action="store_true", help="run the headline experiment into --out")
    p.add_argument("--examples", type=int, default=100, help="--experiment: number of examples")
    p.add_argument("--train-steps", type=int, default=8, help="--experiment: steps of each fusion run")
    p.add_argument("--train-examples", type=int, default=16,
                   help="--experiment: training examples of each fusion run (also the trajectory's)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--store", type=Path, metavar="ROOT",
                   help="run-store root to index the results in (default: the run's parent with "
                   "--checkpoints, else the parent of --out)")
    p.set_defaults(func=run)


def _source_ref(text: str, template: str | None = None):
    from workbench.diagnostics import ModelRef

    name, sep, spec = text.partition("=")
    if not sep:
        spec = text
        name = Path(text).name if Path(text).is_dir() else text
    if not spec or not name:
        raise ValueError(f"--source {text!r}: expected SPEC or NAME=SPEC")
    return ModelRef(name=name, spec=spec, template=template)


def run(args: argparse.Namespace) -> int:
    """Run the diagnostics (or the experiment) and print the headline tables."""
    from workbench.diagnostics import GraphOptions, pivot_trajectory
    from workbench.diagnostics_report import diagnose_to_folder

    for flag, value in (("--k", args.k), ("--limit", args.limit),
                        ("--examples", args.examples), ("--train-steps", args.train_steps),
                        ("--train-examples", args.train_examples), ("--top-n", args.top_n),
                        ("--max-response-tokens", args.max_response_tokens)):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be >= 1, got {value}")
    for flag, value in (("--export", args.export), ("--restarts", args.restarts)):
        if value < 0:
            raise ValueError(f"{flag} must be >= 0, got {value}")  # --restarts 0: the product start only
    options = GraphOptions(k=args.k, value=args.value, nodes=args.nodes, normalize=args.normalize,
                           weights=args.weights)
    if args.experiment:
        from workbench.diagnostics_experiment import run_experiment

        run_experiment(args.out, options=options, examples=args.examples, restarts=args.restarts,
                       train_steps=args.train_steps, trajectory_examples=args.train_examples, seed=args.seed,
                       store_root=args.store or args.out)
        return 0

    from fusion.data import load_examples

    pivot, sources, data, label, limits = _resolve_inputs(args)
    examples = load_examples(data)[: args.limit]
    pivots = pivot_trajectory(pivot, args.checkpoints)
    tables = diagnose_to_folder(examples, pivots, sources, args.out, options, restarts=args.restarts,
                                seed=args.seed, export_examples=args.export, top_n=args.top_n, run_label=label,
                                max_response_tokens=args.max_response_tokens or limits[1],
                                max_prompt_tokens=limits[0],
                                store_root=args.store or (args.checkpoints.parent if args.checkpoints
                                                          else args.out.parent))
    print_report(tables)
    print(f"\noutputs in {args.out.resolve()}")
    return 0


def _resolve_inputs(args: argparse.Namespace):
    """Pivot, sources, data file and run label from the flags, falling back on the run's
    ``config.yaml`` when ``--checkpoints`` is given."""
    from workbench.diagnostics import ModelRef

    cfg = None
    if args.checkpoints is not None:
        config_path = args.checkpoints / "config.yaml"
        if config_path.is_file():
            from fusion.config import load_config

            cfg = load_config(config_path)
    if args.pivot:
        pivot = ModelRef(name="pivot", spec=args.pivot, template=cfg.pivot.chat_template if cfg else None)
    elif cfg is not None:
        pivot = ModelRef(name="pivot", spec=cfg.pivot.model, template=cfg.pivot.chat_template)
    else:
        raise ValueError("give --pivot (or --checkpoints RUN_DIR with a config.yaml)")
    if args.source:
        sources = [_source_ref(s) for s in args.source]
    elif cfg is not None:
        sources = [ModelRef(name=s.name, spec=s.model, template=s.chat_template) for s in cfg.sources]
    else:
        raise ValueError("give at least one --source (or --checkpoints RUN_DIR with a config.yaml)")
    data = args.data or (Path(cfg.data.path) if cfg is not None else None)
    if data is None:
        raise ValueError("give --data FILE.jsonl (or --checkpoints RUN_DIR with a config.yaml)")
    label = args.checkpoints.name if args.checkpoints is not None else pivot.spec
    # Token limits of the run's data (what the trainer saw), else the loader's defaults.
    limits = (cfg.data.max_prompt_tokens, cfg.data.max_response_tokens) if cfg is not None else (256, 256)
    return pivot, sources, data, label, limits


def print_report(tables) -> None:  # dict of pandas DataFrames
    """Print the correlation table, the bound results and the trajectory."""
    import pandas as pd

    corr = tables["correlations"]
    with pd.option_context("display.width", 200, "display.max_columns", 40, "display.precision", 4):
        print("GW convention: Σ (C_ik − D_jl)² T_ij T_kl (POT square loss; no ½, no root)\n")
        pooled = corr[corr["family"] == "all"][["variant", "pairs", "pearson", "spearman", "median_rel_err"]]
        print("Sorting variants vs exact GW (all pairs):")
        print(pooled.to_string(index=False))
        s = tables["summary"]
        cols = ["family", "pairs", "n_range", "certified_exact", "median_gap", "lower_violations",
                "upper_violations", "worst_lower_excess", "worst_upper_excess", "prop1_violations_sort",
                "prop1_violations_paper", "median_upper_over_gw", "median_prop1_over_gw"]
        print("\nBounds per checkpoint|source (provable-bound violations must be 0):")
        print(s[cols].to_string(index=False))
        t = tables["trajectory"]
        print("\nTrajectory (means over examples):")
        print(t[["run", "checkpoint", "step", "source", "examples", "wd_mean", "gw_exact_mean",
                 "sort_degree_o2_mean", "paper_o1_mean"]].to_string(index=False))
