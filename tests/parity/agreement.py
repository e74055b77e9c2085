"""Per-item agreement of the workbench's scorer with the OpenCompass parity fixtures.

``python tests/parity/agreement.py`` prints one line per benchmark (used for the issue's
closing note); tests/test_parity_opencompass.py asserts on the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BENCHMARKS = ("gsm8k", "math", "theoremqa", "bbh", "arc", "mmlu", "hellaswag", "drop")


def load_fixture(name: str) -> list[dict[str, Any]]:
    """Rows of ``fixtures/<name>_paper.jsonl``; raises if the file differs from provenance.json."""
    text = (FIXTURES / f"{name}_paper.jsonl").read_text(encoding="utf-8")
    recorded = json.loads((FIXTURES / "provenance.json").read_text(encoding="utf-8"))["benchmarks"][name]
    if hashlib.sha256(text.encode()).hexdigest() != recorded["sha256"]:
        raise ValueError(f"{name}: fixture edited after generation (sha256 differs from provenance.json)")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def agreement(name: str, data_dir: Path) -> tuple[int, int, list[dict[str, Any]]]:
    """(agreeing rows, rows, disagreeing rows with our score) for benchmark ``name``."""
    from evaluations import registry

    bench = registry.get(name)
    docs = {d["doc_id"]: d for d in bench.docs(data_dir)}
    rows = load_fixture(name)
    bad = []
    for row in rows:
        got = bench.score(docs[row["doc_id"]], row["output"])
        if float(got.score) != float(row["expected"]):
            bad.append({**row, "ours": got.score, "our_pred": got.extracted})
    return len(rows) - len(bad), len(rows), bad


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from _eval_common import DATA_DIR

    for bench_name in sys.argv[1:] or BENCHMARKS:
        ok, n, wrong = agreement(bench_name, DATA_DIR)
        print(f"{bench_name}: {ok}/{n} = {100 * ok / n:.1f} %")
