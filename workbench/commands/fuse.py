"""``workbench fuse --config run.yaml [--output-dir DIR]``: train a fusion run."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fuse`` sub-command."""
    p = subparsers.add_parser(
        "fuse",
        help="train the pivot with SFT + WD + GLD from cached source top-k",
        description="Train a fusion run (DESIGN §2.7). Builds missing teacher caches first; resumes "
        "from the latest checkpoint in the run directory unless --no-resume. Works under "
        "`accelerate launch -m workbench.cli fuse ...` (FSDP/DeepSpeed via Accelerate's config).",
    )
    p.add_argument("--config", required=True, help="fusion YAML config (see configs/)")
    p.add_argument("--output-dir", help="run directory (default: output_dir of the config)")
    p.add_argument("--max-steps", type=int, help="override training.max_steps")
    p.add_argument("--no-resume", action="store_true",
                   help="refuse to continue a run directory that already has checkpoints")
    p.add_argument("--allow-config-change", action="store_true",
                   help="resume even though the config differs from the run's config.yaml (the change is "
                        "recorded in config_history.jsonl); without it such a resume is refused with the diff")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train and print a JSON summary."""
    from fusion.config import load_config
    from fusion.run import run_fusion

    overrides = {"training.max_steps": args.max_steps} if args.max_steps is not None else None
    cfg = load_config(args.config, overrides)
    summary = run_fusion(cfg, args.output_dir, resume=not args.no_resume,
                         allow_config_change=args.allow_config_change)
    print(json.dumps(summary, indent=2))
    return 0
