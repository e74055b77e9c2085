"""Evaluate the first N docs of some benchmarks with :class:`LMEvalEngine` and write every
per-item result as JSON (rank 0). Run plainly (1 process) or under ``accelerate launch``
(lm-eval's data parallelism); used by bench/scaleout.py.

    python bench/eval_ranks.py MODEL BENCH[,BENCH] N BATCH OUT.json DATA_DIR
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(model: str, benches: str, n: str, batch: str, out: str, data_dir: str) -> None:
    """See the module docstring."""
    from evaluations import registry
    from evaluations.engines.lm_eval_engine import LMEvalEngine
    from evaluations.subsets import select_docs
    from fusion.models import resolve_model

    engine = LMEvalEngine(resolve_model(model), batch_size=int(batch), max_gen_toks=8)
    rows: dict[str, list[dict]] = {}
    started = time.perf_counter()
    for name in benches.split(","):
        bench = registry.get(name)
        docs = select_docs(bench, Path(data_dir), int(n), "first")
        rows[name] = [{"doc_id": s.doc_id, "prompt": s.prompt, "output": s.output, "extracted": repr(s.extracted),
                       "score": s.score} for s in engine.run(bench, docs)]
    seconds = time.perf_counter() - started
    if engine.is_main_process:
        Path(out).write_text(json.dumps({"processes": engine.world_size, "seconds": seconds, "rows": rows}))


if __name__ == "__main__":
    main(*sys.argv[1:7])
