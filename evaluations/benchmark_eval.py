"""One benchmark evaluated into its output folder, resumably: :func:`evaluate_benchmark`.

What every entry point of :mod:`evaluations.runner` shares: the folder's task config
(:func:`task_config`, refused on resume when what names the evaluation changed), the
content-aware resume (:mod:`evaluations.resume`), chunked generation appended to
``samples.jsonl`` and the final ``results.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from evaluations.base import Benchmark, PromptStyle, ScoredSample
from evaluations.fingerprint import bench_scorer_hash, generation_hash, prompts_hash
from evaluations.fs import names_file
from evaluations.results import (
    RESULTS_FILE,
    SAMPLES_FILE,
    append_samples,
    build_results,
    read_samples,
    rewrite_samples,
    write_results,
)
from evaluations.resume import plan_resume
from evaluations.subsets import DEFAULT_SEED, LimitMode, subset_record

CONFIG_FILE = ".task_config.json"
RESUME_FILE = ".resume.json"
IDENTITY_KEYS = ("task", "metric", "kind", "prompt_style")
Generate = Callable[[Benchmark, list[dict[str, Any]]], list[ScoredSample]]


def task_config(
    bench: Benchmark,
    style: PromptStyle,
    data_dir: Path,
    limit: int | None,
    gen: dict[str, Any],
    limit_mode: LimitMode = "stratified",
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    """What defines a benchmark's outputs; a resume with a different one is refused."""
    return {
        "task": bench.name,
        "metric": bench.metric,
        "kind": bench.kind,
        "prompt_style": style,
        "data_dir": str(Path(data_dir).resolve()),
        "expected_files": bench.expected_files,
        "limit": limit,
        "limit_mode": limit_mode if limit is not None else None,
        "limit_seed": seed if limit is not None and limit_mode == "stratified" else None,
        "generation_kwargs": gen,
    }


def _check_config(out_dir: Path, config: dict[str, Any]) -> None:
    path = out_dir / CONFIG_FILE
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        # Only what names the evaluation is refused; prompts, scorer, generation settings
        # and the subset may change: evaluations.resume re-scores or redoes what they touch.
        changed = {k for k in IDENTITY_KEYS if old.get(k) != config.get(k)}
        if changed:
            raise ValueError(
                f"{out_dir}: existing outputs were made with a different setting ({', '.join(sorted(changed))}); "
                "use another --out or delete that folder"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    with names_file(path):
        path.write_text(json.dumps(config, indent=2, sort_keys=True, default=str), encoding="utf-8")


def evaluate_benchmark(
    bench: Benchmark,
    docs: list[dict[str, Any]],
    out_dir: Path,
    generate: Generate,
    config: dict[str, Any],
    run_config: dict[str, Any],
    chunk_size: int = 16,
    subset: dict[str, Any] | None = None,
    generation_key: Callable[[dict[str, Any]], str] | None = None,
) -> dict[str, Any]:
    """Score ``docs`` of ``bench`` into ``out_dir`` (resuming), then write results.json.

    Resume is content-aware (:mod:`evaluations.resume`): stored samples are kept only if
    prompt, ``generation_key(doc)`` (default: a hash of ``config``'s generation settings
    and ``run_config["model"]``) and scorer hash match; re-scored if only the scorer
    changed. ``subset`` (see :func:`evaluations.subsets.subset_record`) is recorded as is.
    """
    out_dir = Path(out_dir)
    style = config["prompt_style"]
    scorer = bench_scorer_hash(bench)
    if generation_key is None:
        key = generation_hash({"generation_kwargs": config["generation_kwargs"], "model": run_config.get("model")})
        generation_key = lambda doc: key  # noqa: E731
    prompts = {d["doc_id"]: bench.prompt(d, style) for d in docs}
    config = {**config, "version": bench.version,
              "fingerprint": {"scorer": scorer, "prompts": prompts_hash([prompts[d["doc_id"]] for d in docs]),
                              "generation": generation_hash(config["generation_kwargs"])}}
    _check_config(out_dir, config)
    samples_path = out_dir / SAMPLES_FILE
    stored = {s.doc_id: s for s in read_samples(samples_path)}
    plan = plan_resume(docs, stored, lambda d: prompts[d["doc_id"]], generation_key, scorer)
    if plan.stale:  # drop them first: a doc id's first row wins on read
        rewrite_samples(samples_path, [s for i, s in stored.items() if i not in plan.stale])
    done = dict(plan.keep)

    def stamp(chunk: list[dict[str, Any]], scored: list[ScoredSample]) -> list[ScoredSample]:
        for doc, sample in zip(chunk, scored, strict=True):
            sample.keys = {"generation": generation_key(doc), "scorer": scorer}
        append_samples(samples_path, scored)
        done.update((s.doc_id, s) for s in scored)
        return scored

    if plan.rescore:
        again = [doc for doc, _ in plan.rescore]
        rescored = bench.score_batch(again, [output for _, output in plan.rescore])
        for doc, sample in zip(again, rescored):
            sample.prompt = prompts[doc["doc_id"]]
        stamp(again, rescored)
    if plan.pending:
        # disable=None: a bar on a terminal only (logs and captured stderr keep one clean
        # line per message); closed on errors too, so an error line is never half a bar.
        bar = tqdm(total=len(docs), initial=len(docs) - len(plan.pending), desc=f"{bench.name}", unit="item",
                   leave=False, disable=None)
        try:
            for start in range(0, len(plan.pending), chunk_size):
                chunk = plan.pending[start : start + chunk_size]
                stamp(chunk, generate(bench, chunk))
                bar.update(len(chunk))
        finally:
            bar.close()
    ordered = [done[d["doc_id"]] for d in docs]
    results = build_results(
        bench.name, bench.metric, ordered, len(docs), bench.version, config, run_config,
        {d["doc_id"]: bench.subtask(d) for d in docs},
    )
    results["subset"] = subset or subset_record(None, "stratified", DEFAULT_SEED, docs)
    write_results(out_dir / RESULTS_FILE, results)
    # How this pass got each sample: returned and kept beside results.json, not in it, so
    # a resumed evaluation ends with the same results.json as an uninterrupted one.
    with names_file(out_dir / RESUME_FILE):
        (out_dir / RESUME_FILE).write_text(json.dumps(plan.counts()) + "\n", encoding="utf-8")
    return {**results, "resume": plan.counts()}
