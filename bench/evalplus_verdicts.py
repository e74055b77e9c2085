"""EvalPlus verdicts on a fixed, varied set of solutions, to compare two engine versions.

For every ``--stride``-th task of HumanEval+ and MBPP+: the canonical solution (gold), a
wrong one (returns None), a *base-only* one (the canonical solution behind a table of the
base inputs, None for anything else: passes base, fails plus) and up to three mutants of
the canonical solution (``<=`` → ``<``, ``max(`` → ``min(`` …), whose verdicts mix. The
verdicts come from whichever ``evaluations`` package is first on ``sys.path``, so two
versions are compared like this:

    git archive OLD evaluations | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old .venv/bin/python bench/evalplus_verdicts.py --out old.json
    PYTHONPATH=. .venv/bin/python bench/evalplus_verdicts.py --out new.json
    .venv/bin/python bench/evalplus_verdicts.py --compare old.json new.json
"""

from __future__ import annotations

import argparse
import ast
import collections
import json
import random
import sys
import time
from pathlib import Path

MUTATIONS = [("<=", "<"), ("<", "<="), (">=", ">"), ("+ 1", "+ 2"), ("- 1", ""), ("== 0", "== 1"),
             ("[1:]", "[2:]"), ("return True", "return False"), ("max(", "min("), ("sorted(", "list("),
             (" and ", " or "), ("range(", "range(1 + ")]
FILES = {"humaneval": "humaneval/HumanEvalPlus.jsonl.gz", "mbpp": "mbpp/MbppPlus.jsonl.gz"}


def solutions(engine, name: str, path: Path, stride: int) -> list[tuple[str, str, str]]:
    """(task id, kind, code) for every ``stride``-th task."""
    problems = engine.load_problems(name, path)
    out = []
    for k, (task_id, p) in enumerate(problems.items()):
        if k % stride:
            continue
        entry, code = p["entry_point"], p["prompt"] + p["canonical_solution"]
        out.append((task_id, "gold", code))
        out.append((task_id, "wrong", f"def {entry}(*args, **kwargs):\n    return None\n"))
        expected = engine.expected_outputs(name, p)
        literal = repr({repr(i): o for i, o in zip(p["base_input"], expected["base"], strict=True)})
        try:
            ast.parse(literal, mode="eval")  # a table Python can read back (trusted data)
            out.append((task_id, "base-only", code + (
                f"\ninf, nan = float('inf'), float('nan')\n_BASE = {literal}\n_real = {entry}\n"
                f"def {entry}(*args):\n    key = repr(list(args))\n"
                f"    if key not in _BASE:\n        return None\n    return _real(*args)\n")))
        except SyntaxError:
            pass
        mutations = [m for m in MUTATIONS if m[0] in p["canonical_solution"]]
        random.Random(task_id).shuffle(mutations)
        for old, new in mutations[:3]:
            out.append((task_id, f"mutant {old!r}->{new!r}", code.replace(old, new, 1)))
    return out


def compare(old_path: Path, new_path: Path) -> int:
    """Print how many (base, plus) statuses agree; exit 1 on any difference."""
    old, new = json.loads(old_path.read_text()), json.loads(new_path.read_text())
    differences = 0
    for name in old:
        pairs = list(zip(old[name], new[name], strict=True))
        same = sum(a == b for a, b in pairs)
        mix = collections.Counter((a[1].split()[0], a[2], a[3]) for a, _ in pairs)
        print(f"{name}: {same}/{len(pairs)} identical; old statuses {dict(sorted(mix.items()))}")
        for a, b in pairs:
            if a != b:
                differences += 1
                print(f"  differs: {a} vs {b}")
    return 1 if differences else 0


def main() -> int:
    """Write the verdicts as JSON, or compare two such files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path,
                        default=Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks")
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"))
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    from evaluations.engines import evalplus_engine as engine

    result = {}
    for name, rel in FILES.items():
        path = args.data_dir / rel
        items = solutions(engine, name, path, args.stride)
        start = time.perf_counter()
        verdicts = engine.check_solutions(name, path, [(t, c) for t, _, c in items], progress=False)
        print(f"{name}: {len(items)} solutions in {time.perf_counter() - start:.0f}s", file=sys.stderr)
        result[name] = [(t, kind, v.base_status, v.plus_status)
                        for (t, kind, _), v in zip(items, verdicts, strict=True)]
    text = json.dumps(result, indent=0)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
