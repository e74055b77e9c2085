"""``workbench cache-teachers --config run.yaml``: compute each source's top-k cache."""

from __future__ import annotations

import argparse
import json
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``cache-teachers`` sub-command."""
    p = subparsers.add_parser(
        "cache-teachers",
        help="run every source model once over the training data and cache its top-k (resumable)",
        description="Cache each source's top-k log-probs, token ids and response character offsets, "
        "keyed by example id; already-cached examples are skipped. Prints bytes per token. Under "
        "`accelerate launch -m workbench.cli cache-teachers ...` the examples are split across the ranks "
        "(per-rank shards, one merged index).",
    )
    p.add_argument("--config", required=True, help="fusion YAML config (see configs/tiny.yaml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the caches and print one size report per source."""
    from fusion.config import load_config
    from fusion.run import ensure_teacher_caches, prepare_data

    cfg = load_config(args.config)
    reports = ensure_teacher_caches(cfg, prepare_data(cfg), data_parallel=True)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under `accelerate launch`: rank 0 reports the merged cache
    for name, rep in reports.items():
        print(f"{name}: {rep['examples']} examples, {rep['tokens']} tokens, "
              f"{rep['bytes_per_token']:.1f} bytes/token vs {rep['full_logits_fp16_bytes_per_token']:.0f} "
              f"for full fp16 logits ({rep['compression']:.0f}x smaller)")
        print(json.dumps({"source": name, **rep}))
    return 0
