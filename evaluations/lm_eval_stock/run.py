"""One benchmark through lm-eval's stock task(s): ``evaluate`` on the chosen local documents.

lm-eval does everything from the requests on: few-shot contexts, loglikelihood requests
or generation with the task's stop sequences, filters, per-item metrics, aggregation
(groups included) and stderr. The chosen documents (``--limit`` subset or all) go to
lm-eval as its ``samples`` argument (indices into each subtask's test split); subtasks
without a chosen document are pruned from the group (lm-eval cannot evaluate an empty one).

Resume uses lm-eval's own request cache (``CachingLM``; every answered request is
committed to ``.lm_eval_cache/<generation key>.sqlite`` as it is computed), so a killed
run recomputes only unanswered requests and the aggregates still come from one lm-eval
pass over every chosen document. An unchanged, finished evaluation is reused whole.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from evaluations.base import Benchmark
from evaluations.fs import names_file
from evaluations.lm_eval_stock import data as stock_data
from evaluations.lm_eval_stock.predictions import PredictionsLM
from evaluations.lm_eval_stock.records import to_results, to_samples
from evaluations.lm_eval_stock.tasks import StockSpec, load_stock, wrapper_yaml
from evaluations.results import RESULTS_FILE, SAMPLES_FILE, read_results, read_samples, rewrite_samples, write_results

CACHE_DIR = ".lm_eval_cache"
DATA_DIR = ".lm_eval_data"
SEEDS = "simple_evaluate defaults"  # in the fingerprint: results sampled before seeding are not reused
BOOTSTRAP_ITERS = 100000  # simple_evaluate's default (mean metrics use the closed-form stderr)


def selection(data: stock_data.LocalData, doc_ids: list[str]) -> dict[str, list[int]]:
    """``{config: sorted test-split indices}`` of ``doc_ids``; an unknown id raises."""
    where = {doc_id: (config, i) for config, ids in data.ids.items() for i, doc_id in enumerate(ids)}
    chosen: dict[str, list[int]] = {}
    for doc_id in doc_ids:
        if doc_id not in where:
            raise ValueError(f"doc id {doc_id!r} is not in the local data of the stock task")
        config, i = where[doc_id]
        chosen.setdefault(config, []).append(i)
    return {c: sorted(v) for c, v in chosen.items()}


def _config_of(task: Any) -> str:
    return task.config.dataset_name or "default"


def prepare(spec: StockSpec, bench: Benchmark, doc_ids: list[str], data_dir: Path, data_root: Path
            ) -> tuple[dict[str, Any], dict[str, list[int]], dict[str, list[str]], stock_data.LocalData, Path]:
    """Convert + materialize the data, load the stock tasks and map our doc ids to lm-eval's:
    (TaskDict, ``samples`` per task, ``ids`` per task (our id of each test-split index), the
    data, the dataset folder)."""
    data = stock_data.convert(bench.name, data_dir)
    folder = stock_data.materialize(data, data_root)
    chosen = selection(data, doc_ids)
    task_dict, _ = load_stock(spec, folder, keep=None)
    keep = {name for name, t in task_dict["tasks"].items() if _config_of(t) in chosen}
    task_dict, _ = load_stock(spec, folder, keep=keep)
    samples = {name: chosen[_config_of(t)] for name, t in task_dict["tasks"].items()}
    ids = {name: data.ids[_config_of(t)] for name, t in task_dict["tasks"].items()}  # lm-eval logs the true index
    return task_dict, samples, ids, data, folder


def seed_like_simple_evaluate(task_dict: dict[str, Any]) -> None:
    """The seeds ``simple_evaluate`` sets before it evaluates, with its defaults: Python's
    ``random`` 0, numpy and torch 1234, and every task's few-shot sampler 1234. Without the
    last, ``evaluate`` alone samples other few-shot examples (GSM8K's 5 random train items)
    than an lm-eval run of the same task."""
    import random

    import numpy as np
    from lm_eval.defaults import DEFAULT_OTHER_SEED, DEFAULT_RANDOM_SEED
    from lm_eval.utils import set_torch_seed

    random.seed(DEFAULT_RANDOM_SEED)
    np.random.seed(DEFAULT_OTHER_SEED)
    set_torch_seed(DEFAULT_OTHER_SEED)
    for task in task_dict["tasks"].values():
        task.set_fewshot_seed(seed=DEFAULT_OTHER_SEED)


def run_lm_eval(lm: Any, task_dict: dict[str, Any], samples: dict[str, list[int]], cache: Path | None,
                apply_chat_template: bool = False) -> dict[str, Any]:
    """lm-eval's ``evaluate`` (the loop of ``simple_evaluate``) with its request cache."""
    from lm_eval.api.model import CacheHook, CachingLM
    from lm_eval.evaluator import evaluate

    model = lm
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        model = CachingLM(lm, str(cache))
    try:
        while True:
            seed_like_simple_evaluate(task_dict)  # every attempt draws the same few-shot examples
            try:
                out = evaluate(lm=model, task_dict=task_dict, samples=samples, bootstrap_iters=BOOTSTRAP_ITERS,
                               log_samples=True, apply_chat_template=apply_chat_template, verbosity="ERROR")
                break
            except torch.OutOfMemoryError:
                if not halve_batch(lm):
                    raise
    finally:
        if cache is not None:
            lm.set_cache_hook(CacheHook(None))  # later (non-stock) runs must not write into this cache
    return dict(out)


def halve_batch(lm: Any) -> bool:
    """After a GPU out-of-memory error: halve ``lm``'s batch (lm-eval's ``HFLM.batch_size_per_gpu``)
    and free the allocator's cache; False when it is already 1 (nothing left to try).

    lm-eval's loglikelihood materialises the logits of a whole batch (batch × length × vocabulary:
    128 MMLU prompts of a 262k-vocabulary model asked for 39 GiB), so a batch that suits a
    generation can be far too large for scoring the options. The requests already answered are in
    the request cache, so the retry only computes the rest.
    """
    size = int(getattr(lm, "batch_size_per_gpu", 1))
    if size <= 1:
        return False
    lm.batch_size_per_gpu = size // 2
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    print(f"[eval] out of GPU memory at batch {size}: retrying at {size // 2}", file=sys.stderr, flush=True)
    return True


def stock_config(config: dict[str, Any], spec: StockSpec, source: str) -> dict[str, Any]:
    """A benchmark folder's config when lm-eval's stock task ``spec`` computes it; ``source``
    says where the generations come from (the folder's resume guard compares it)."""
    return {**config, "kind": "lm-eval-stock", "metric": spec.metric, "stock_task": spec.task,
            "generation_kwargs": {"source": source}}


def evaluate_stock(
    spec: StockSpec, bench: Benchmark, docs: list[dict[str, Any]], data_dir: Path, out_dir: Path,
    get_lm: Callable[[], Any], config: dict[str, Any], run_config: dict[str, Any], subset: dict[str, Any],
    generation_key: str,
) -> dict[str, Any]:
    """Evaluate ``docs`` of ``bench`` with lm-eval's stock task(s) into ``out_dir``
    (``samples.jsonl`` + ``results.json``); returns the results document."""
    import lm_eval

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc_ids = [d["doc_id"] for d in docs]
    task_dict, samples, ids, data, folder = prepare(spec, bench, doc_ids, data_dir, out_dir.parent.parent / DATA_DIR)
    wrapper = wrapper_yaml(spec, folder)
    fingerprint = hashlib.sha256(json.dumps(
        [wrapper, folder.name, samples, generation_key, lm_eval.__version__, SEEDS], sort_keys=True, default=str,
    ).encode()).hexdigest()[:16]
    stored = out_dir / RESULTS_FILE
    if stored.is_file() and (out_dir / SAMPLES_FILE).is_file():
        old = read_results(stored)
        if (old.get("lm_eval", {}).get("fingerprint") == fingerprint
                and len(read_samples(out_dir / SAMPLES_FILE)) == len(docs)):
            return {**old, "resume": {"reused": len(docs), "rescored": 0, "generated": 0}}
    lm = get_lm()
    if isinstance(lm, PredictionsLM):  # stored outputs: answered by document, nothing to cache
        lm.bind(ids)
    cache = None if isinstance(lm, PredictionsLM) else out_dir / CACHE_DIR / f"{generation_key}.sqlite"
    lm_out = run_lm_eval(lm, task_dict, samples, cache)
    scored = {s.doc_id: s for s in to_samples(bench.name, spec.metric, spec.headline_filter, lm_out["samples"], ids)}
    missing = [d for d in doc_ids if d not in scored]
    if missing:
        raise RuntimeError(f"{bench.name}: lm-eval returned no sample for {len(missing)} docs, e.g. {missing[:3]}")
    for s in scored.values():
        s.keys = {"generation": generation_key, "lm_eval": fingerprint}
    rewrite_samples(out_dir / SAMPLES_FILE, [scored[d] for d in doc_ids])
    results = to_results(bench.name, spec.task, lm_out, len(docs))
    results["configs"][bench.name] = {**results["configs"].get(bench.name, {}), "prompt_style": config["prompt_style"],
                                      "workbench": config}
    results.update(
        benchmark=bench.name, metric=spec.metric, headline_filter=spec.headline_filter, config=run_config,
        subset=subset, data_caveat=data.caveat,
        lm_eval={"version": lm_eval.__version__, "stock_task": spec.task, "fingerprint": fingerprint,
                 "dataset_path": str(folder), "replaces": spec.hub_dataset, "overrides": spec.overrides,
                 "task_yaml": wrapper, "apply_chat_template": False, "bootstrap_iters": BOOTSTRAP_ITERS,
                 "samples": samples},
    )
    write_results(stored, results)
    with names_file(out_dir / ".resume.json"):
        (out_dir / ".resume.json").write_text(json.dumps({"generated": len(docs)}) + "\n", encoding="utf-8")
    return {**results, "resume": {"reused": 0, "rescored": 0, "generated": len(docs)}}
