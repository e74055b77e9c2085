"""``workbench bounds``: the bound-validation report (DESIGN §2.5)."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.graph_families import FAMILIES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bounds`` sub-command."""
    parser = subparsers.add_parser(
        "bounds",
        help="validate ĝ₂ ≤ GW ≤ ĝ₂ + 2(V_C+V_D) and compare sorting variants with exact GW",
        description="Bound-validation report: exact GW (best of starts, certified by brute force "
        "for n = m ≤ 8), entropic GW, sorting approximations, bounds, Proposition-1 form.",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/bounds"), help="output folder")
    parser.add_argument("--families", default=",".join(FAMILIES),
                        help=f"comma-separated graph families (default: all of {', '.join(FAMILIES)})")
    parser.add_argument("--pairs", type=int, default=40, help="graph pairs per family")
    parser.add_argument("--max-n", type=int, default=40, help="largest graph size of the larger pairs")
    parser.add_argument("--restarts", type=int, default=8, help="random starts of the exact solver")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real", action="store_true",
                        help="add a 'real' family: co-activation graphs of --pivot and --source on --data "
                             "(first --pairs examples)")
    parser.add_argument("--pivot", default="smollm2-135m-instruct", help="--real: pivot model spec")
    parser.add_argument("--source", default="gemma3-270m", help="--real: source model spec")
    parser.add_argument("--data", type=Path, help="--real: JSONL examples (default: the demo data set)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the report and print its summary table."""
    from workbench.bounds import run_report

    for flag, value, low in (("--pairs", args.pairs, 1), ("--restarts", args.restarts, 1), ("--max-n", args.max_n, 2)):
        if value < low:
            raise ValueError(f"{flag} must be >= {low}, got {value}")
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    extra = []
    if args.real:
        from workbench.real_graphs import real_graph_pairs_from_cli

        extra = real_graph_pairs_from_cli(args.pivot, args.source, args.data, args.pairs)
    df, summary = run_report(args.out, families=families, pairs_per_family=args.pairs, seed=args.seed,
                             restarts=args.restarts, max_n=args.max_n, extra_pairs=extra)
    print_summary(summary)
    print(f"\n{len(df)} graph pairs; outputs in {args.out.resolve()}: pairs.csv, summary.csv, summary.json, bounds.png")
    return 0


def print_summary(summary) -> None:  # a pandas DataFrame
    """Print the bound table and the correlation table."""
    import pandas as pd

    bound_cols = ["family", "pairs", "n_range", "certified_exact", "median_gap", "p90_gap", "lower_violations",
                  "upper_cs_violations", "upper_violations", "upper_cs_violations_at_T_star",
                  "upper_violations_at_T_star", "pot_default_above_upper", "prop1_violations_sort",
                  "prop1_violations_paper", "median_ghat2_over_gw"]
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.precision", 4):
        print("GW convention: Σ (C_ik − D_jl)² T_ij T_kl (POT square loss; no ½, no root)\n")
        print("Bounds (violations of provable bounds must be 0; upper_cs = ĝ₂ + (√V_C + √V_D)², "
              "upper = ĝ₂ + 2(V_C + V_D)):")
        print(summary[bound_cols].to_string(index=False))
        corr = summary[["family"] + [c for c in summary.columns if c.startswith("spearman_")]]
        print("\nSpearman correlation of each sorting variant with exact GW:")
        print(corr.rename(columns=lambda c: c.replace("spearman_", "")).to_string(index=False))
        print("\nĝ₂ is a provable lower bound of GW and a rank proxy, not an approximation of its value "
              "(median_ghat2_over_gw above; Spearman below).")
        rel = summary[["family"] + [c for c in summary.columns if c.startswith("median_rel_err_")]]
        print("\nMedian relative error |approx − GW| / GW:")
        print(rel.rename(columns=lambda c: c.replace("median_rel_err_", "")).to_string(index=False))
