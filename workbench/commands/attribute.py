"""``workbench attribute FUSED --pivot P --sources S1,S2``: where the fused model's right
answers come from — transfer rate (items only a source solved that the fused model now
solves), forgetting rate (pivot-solved items lost), net gain with its paired bootstrap CI
and McNemar's p, per benchmark and BBH/MMLU subtask (see :mod:`evaluations.attribution`).

Each argument is an evaluation output directory of one model (``.../<model>/`` holding
``<benchmark>/samples.jsonl``), e.g. ``evals/<model>`` written by ``workbench eval``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

from evaluations.attribution import AttributionRow, attribute_dirs


def _pct(value: float) -> str:
    return "   n/a" if math.isnan(value) else f"{100 * value:6.1f}"


def format_table(rows: list[AttributionRow]) -> str:
    """A fixed-width text table, one line per benchmark or subtask (accuracies in %)."""
    sources = list(rows[0].acc_sources) if rows else []
    width = max([12, *(len(r.benchmark) for r in rows)])
    src_head = "".join(f" {name[:10]:>10}" for name in sources)
    header = (f"{'benchmark':<{width}} {'n':>5} {'pivot':>6}{src_head} {'fused':>6} "
              f"{'transfer':>13} {'forgetting':>13} {'net gain':>8} {'95% CI':>17} {'McNemar p':>9}")
    lines = [header, "-" * len(header)]
    for r in rows:
        src = "".join(f" {_pct(r.acc_sources[name]):>10}" for name in sources)
        transfer = f"{r.transferred}/{r.source_only} {_pct(r.transfer_rate).strip()}%"
        forgetting = f"{r.forgotten}/{r.pivot_solved} {_pct(r.forgetting_rate).strip()}%"
        lines.append(f"{r.benchmark:<{width}} {r.n:>5} {_pct(r.acc_pivot)}{src} {_pct(r.acc_fused)} "
                     f"{transfer:>13} {forgetting:>13} {100 * r.net_gain:>+8.1f} "
                     f"[{100 * r.ci_low:>+6.1f}, {100 * r.ci_high:>+6.1f}] {r.p_value:>9.3g}")
    return "\n".join(lines)


def parse_sources(text: str) -> dict[str, Path]:
    """``"S1,S2"`` or ``"name=S1,other=S2"`` -> ``{name: path}`` (default name: the folder's)."""
    out: dict[str, Path] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, path = part.partition("=")
        name, path = (name, path) if sep else (Path(part).name, part)
        if name in out or name in ("pivot", "fused"):
            raise ValueError(f"--sources: source name {name!r} is used twice or reserved; name them: name=DIR")
        out[name] = Path(path)
    if not out:
        raise ValueError("--sources: give at least one source evaluation directory")
    return out


def run(args: argparse.Namespace) -> int:
    """Attribute, print the table, and write JSON / per-item CSV when asked."""
    benchmarks = [b.strip() for b in args.benchmarks.split(",") if b.strip()] or None
    sources = parse_sources(args.sources)
    rows, items = attribute_dirs(args.fused, args.pivot, sources, benchmarks=benchmarks,
                                 subtasks=not args.no_subtasks, n_boot=args.bootstrap, seed=args.seed)
    print(f"fused = {args.fused}\npivot = {args.pivot}\n" + "".join(f"{n} = {p}\n" for n, p in sources.items()))
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"fused": str(args.fused), "pivot": str(args.pivot),
                                               "sources": {n: str(p) for n, p in sources.items()},
                                               "rows": [r.as_dict() for r in rows]}, indent=2) + "\n",
                                   encoding="utf-8")
    if args.items:
        with Path(args.items).open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(items[0]) if items else ["benchmark", "doc_id", "category"])
            writer.writeheader()
            writer.writerows(items)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``attribute`` sub-command."""
    parser = subparsers.add_parser(
        "attribute", help="fusion attribution: transfer and forgetting vs the pivot and sources",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("fused", type=Path, help="eval output dir of the fused model (<model>/)")
    parser.add_argument("--pivot", type=Path, required=True, help="eval output dir of the pivot")
    parser.add_argument("--sources", required=True,
                        help="comma-separated eval output dirs of the sources (name=DIR allowed)")
    parser.add_argument("--benchmarks", default="", help="comma-separated subset (default: all shared)")
    parser.add_argument("--no-subtasks", action="store_true", help="benchmark rows only")
    parser.add_argument("--bootstrap", type=int, default=10_000, help="bootstrap replicates")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap RNG seed")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    parser.add_argument("--items", type=Path, default=None, help="also write one CSV row per item (drill-down)")
    parser.set_defaults(func=run)
