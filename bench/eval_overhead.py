"""Harness overhead: ``workbench eval`` machinery vs calling lm-eval directly.

Same model object (SmolLM2-135M-Instruct, lm-eval ``HFLM``, loaded once), same task
(GSM8K, paper prompts, greedy, chat template), same items. "Direct" is
``lm_eval.simple_evaluate`` on an inline task whose rows already hold the rendered
prompts (``doc_to_text: "{{prompt}}"``) and whose ``process_results`` does the same
scoring. "Ours" is :func:`evaluations.runner.evaluate_model`: prompt hooks, chunked
durable ``samples.jsonl`` writes, resume bookkeeping and ``results.json``. Runs alternate
(direct, ours, direct, ours, ...) after a warm-up; the minimum of each is compared.

Usage: python bench/eval_overhead.py [--items 16] [--max-gen-toks 32] [--repeats 2]
Appends a row to bench/RESULTS.md under "## Evaluation".
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("WORKBENCH_DATA_DIR", REPO.parent / "shared" / "benchmarks"))
RESULTS_MD = REPO / "bench" / "RESULTS.md"
SECTION = "## Evaluation"


def direct_lm_eval(engine, bench, docs, max_gen_toks: int) -> tuple[tuple[float, float], list[str]]:
    """simple_evaluate on a plain inline task; returns ((wall s, CPU s), outputs in doc order)."""
    import datasets
    from lm_eval import simple_evaluate

    rows = [{"doc_id": d["doc_id"], "prompt": bench.prompt(d, "paper")} for d in docs]
    by_id = {d["doc_id"]: d for d in docs}
    outputs: dict[str, str] = {}

    def process_results(row, results):
        outputs[row["doc_id"]] = results[0]
        return {bench.metric: bench.score(by_id[row["doc_id"]], results[0]).score}

    config = {
        "task": "direct_gsm8k",
        "custom_dataset": lambda **_: datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)}),
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{prompt}}",
        "doc_to_target": "",
        "process_results": process_results,
        "generation_kwargs": {**bench.generation_kwargs("paper"), "max_gen_toks": max_gen_toks},
        "metric_list": [{"metric": bench.metric, "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": 1.0},
    }
    start, cpu = time.perf_counter(), time.process_time()
    simple_evaluate(model=engine.lm, tasks=[config], task_manager=engine._tasks, apply_chat_template=True,
                    bootstrap_iters=0, log_samples=False)
    return (time.perf_counter() - start, time.process_time() - cpu), [outputs[d["doc_id"]] for d in docs]


def ours(engine, items: int, max_gen_toks: int, out: Path) -> tuple[tuple[float, float], list[str]]:
    """The workbench runner end to end (fresh output folder each time)."""
    from evaluations import runner
    from evaluations.results import read_samples

    shutil.rmtree(out, ignore_errors=True)
    start, cpu = time.perf_counter(), time.process_time()
    runner.evaluate_model("smollm2-135m-instruct", ["gsm8k"], DATA_DIR, out, limit=items,
                          max_gen_toks=max_gen_toks, engine=engine, chunk_size=max(items, 16))
    elapsed = (time.perf_counter() - start, time.process_time() - cpu)
    return elapsed, [s.output for s in read_samples(out / "smollm2-135m-instruct" / "gsm8k" / "samples.jsonl")]


def append_results(row: str) -> None:
    """Append ``row`` under the Evaluation section of bench/RESULTS.md (created if missing)."""
    header = ("| date | machine | items | max_gen_toks | direct lm-eval s (wall / CPU) | ours s (wall / CPU) | "
              "overhead ratio CPU (wall) | items/s (ours, wall) |\n"
              "|---|---|---|---|---|---|---|---|\n")
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n`python bench/eval_overhead.py` — our harness vs lm-eval's " \
            "simple_evaluate on the same model object, task (GSM8K paper prompts, greedy, chat template) and items.\n\n" + header
    # Insert after the last row of this section's first table (others add subsections below).
    lines = text.split("\n")
    start = lines.index(SECTION)
    first = next(i for i in range(start, len(lines)) if lines[i].startswith("|"))
    last = first
    while last + 1 < len(lines) and lines[last + 1].startswith("|"):
        last += 1
    lines.insert(last + 1, row)
    RESULTS_MD.write_text("\n".join(lines))


def main() -> None:
    """Measure and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--max-gen-toks", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="print only, do not append to RESULTS.md")
    args = parser.parse_args()

    from evaluations import registry
    from evaluations.engines.lm_eval_engine import LMEvalEngine
    from fusion.models import resolve_model

    engine = LMEvalEngine(resolve_model("smollm2-135m-instruct"), batch_size=8, max_gen_toks=args.max_gen_toks)
    bench = registry.get("gsm8k")
    docs = bench.docs(DATA_DIR, args.items)
    tmp = Path(tempfile.mkdtemp(prefix="eval-overhead-"))
    direct_lm_eval(engine, bench, docs[:2], args.max_gen_toks)  # warm-up (first generate is slow)
    direct_times, our_times = [], []
    for _ in range(args.repeats):
        t, direct_out = direct_lm_eval(engine, bench, docs, args.max_gen_toks)
        direct_times.append(t)
        t, our_out = ours(engine, args.items, args.max_gen_toks, tmp / "ours")
        our_times.append(t)
        assert our_out == direct_out, "same items, same model, greedy: outputs must match"
    shutil.rmtree(tmp, ignore_errors=True)
    # Wall time is what users wait for, but on a shared machine it mostly measures the
    # neighbours; process CPU time (all threads) is the stable measure of work done.
    d_wall, o_wall = min(t[0] for t in direct_times), min(t[0] for t in our_times)
    d_cpu, o_cpu = min(t[1] for t in direct_times), min(t[1] for t in our_times)
    machine = f"{platform.machine()} {os.cpu_count()} CPU, load {os.getloadavg()[0]:.1f}, {engine.device}"
    print(f"direct lm-eval (wall s, cpu s): {direct_times}\nours           (wall s, cpu s): {our_times}")
    print(f"overhead ratio CPU {o_cpu / d_cpu:.3f}, wall {o_wall / d_wall:.3f}; items/s (ours, wall) {args.items / o_wall:.3f}")
    if not args.no_write:
        today = datetime.date.today().isoformat()
        append_results(f"| {today} | {machine} | {args.items} | {args.max_gen_toks} | {d_wall:.1f} / {d_cpu:.1f} | "
                       f"{o_wall:.1f} / {o_cpu:.1f} | {o_cpu / d_cpu:.3f} (wall {o_wall / d_wall:.3f}) | "
                       f"{args.items / o_wall:.3f} |")


if __name__ == "__main__":
    main()
