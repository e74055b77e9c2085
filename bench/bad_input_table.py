"""Print the bad-input table: case -> exit code -> the CLI's one-line message.

Runs every case of ``tests/_bad_inputs.py`` (the same ones ``tests/test_bad_inputs.py``
asserts) on a fresh tiny run: ``python bench/bad_input_table.py [--markdown]``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _bad_inputs import CASES, build_base, error_lines, run_cli


def main() -> int:
    """Build the base run, run each case, print one row per case."""
    markdown = "--markdown" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base = build_base(root / "base")
        if markdown:
            print("| case | exit | message |\n|---|---|---|")
        for i, case in enumerate(CASES):
            work = root / f"case{i}"
            argv = case.make(work, base)
            kw = case.subprocess_kw(work) if case.subprocess_kw else None
            code, stderr = run_cli(argv, kw, cwd=work if kw is not None else None)
            lines = error_lines(stderr)
            message = (lines[0] if lines else stderr.strip().splitlines()[-1:] or ["(no message)"])
            message = message if isinstance(message, str) else message[0]
            message = message.replace(str(root), "$TMP")
            if markdown:
                print(f"| {case.name} | {code} | `{message}` |")
            else:
                print(f"{case.name}\n    exit {code}: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
