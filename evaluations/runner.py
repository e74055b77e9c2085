"""Evaluation orchestration: model x benchmarks -> ``<out>/<label>/<benchmark>/`` files.

Resumable by construction: samples are appended chunk by chunk; a restarted evaluation
reads ``samples.jsonl``, skips the doc ids already there and writes ``results.json`` only
when every document is scored. Three entry points share :func:`evaluate_benchmark`:
a model (:func:`evaluate_model`), re-scoring predictions made elsewhere
(:func:`score_predictions`) and every checkpoint of a training run (:func:`evaluate_run`).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evaluations import registry
from evaluations.base import Benchmark, PromptStyle, ScoredSample
from evaluations.benchmark_eval import CONFIG_FILE as CONFIG_FILE
from evaluations.benchmark_eval import IDENTITY_KEYS as IDENTITY_KEYS
from evaluations.benchmark_eval import RESUME_FILE as RESUME_FILE
from evaluations.benchmark_eval import Generate, _check_config, evaluate_benchmark, task_config
from evaluations.fingerprint import generation_hash
from evaluations.identity import model_identity, output_label, record_identity
from evaluations.jsonl import jsonl_records
from evaluations.lm_eval_stock.tasks import stock_spec
from evaluations.output_lock import output_lock
from evaluations.results import RESULTS_FILE, read_results
from evaluations.subsets import DEFAULT_SEED, LimitMode, select_docs, subset_record
from fusion.checkpoints import complete_checkpoints, is_complete_checkpoint
from fusion.integrity import verify_tree

OnResult = Callable[[Path, dict[str, Any]], None]


def safe_label(text: str) -> str:
    """A folder name for a model spec / checkpoint (path separators and oddities -> '_')."""
    label = re.sub(r"[^A-Za-z0-9._+-]+", "_", str(text).strip("/")).strip("_")
    return label or "model"


def model_label(spec: str) -> str:
    """Output folder name for a model spec: a local dir's name, else the spec itself."""
    path = Path(spec)
    return safe_label(path.name if path.is_dir() else spec)


class _LazyEngine:
    """The engine, loaded on the first chunk that needs generation (a resume that only
    reuses or re-scores never loads the model)."""

    def __init__(self, engine: Any, load: Callable[[], Any]) -> None:
        self.engine, self._load = engine, load

    def generate(self, style: PromptStyle) -> Generate:
        def run(bench: Benchmark, chunk: list[dict[str, Any]]) -> list[ScoredSample]:
            if self.engine is None:
                self.engine = self._load()
            return self.engine.run(bench, chunk, style)

        return run

    def get(self) -> Any:
        """The engine, loaded now if it was not yet."""
        if self.engine is None:
            self.engine = self._load()
        return self.engine


def evaluate_model(
    model: str,
    benchmarks: list[str],
    data_dir: Path,
    out: Path,
    limit: int | None = None,
    style: PromptStyle = "paper",
    backend: str = "hf",
    batch_size: int = 8,
    max_gen_toks: int | None = None,
    chunk_size: int = 16,
    label: str | None = None,
    on_result: OnResult | None = None,
    engine: Any = None,
    deterministic: bool = False,
    limit_mode: LimitMode = "stratified",
    seed: int = DEFAULT_SEED,
    lock_timeout: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Evaluate ``model`` (a spec for ``fusion.models.resolve_model``) on ``benchmarks``.

    Outputs go to ``out/<label>/<benchmark>/``. The model is loaded only if some
    benchmark still has unscored documents. ``limit`` picks a subset per benchmark:
    ``limit_mode="stratified"`` (across subtasks, ``seed``) or ``"first"`` (see
    :mod:`evaluations.subsets`). ``deterministic`` selects deterministic GPU
    kernels (see ``lm_eval_engine.use_deterministic_kernels``). Returns ``{benchmark: results}``.

    The model folder under ``out`` is chosen by identity (:mod:`evaluations.identity`),
    ``out`` is locked while that folder is chosen and the folder itself for the whole
    evaluation (:mod:`evaluations.output_lock`: a second evaluation of the same model
    waits, or refuses after ``lock_timeout`` seconds; other models proceed).
    """
    benches = [registry.get(name) for name in benchmarks]
    for b in benches:  # benchmark files against SHA256SUMS, when the data folder has one
        verify_benchmark_data(b, Path(data_dir))
    # fail fast on bad data
    all_docs = {b.name: select_docs(b, Path(data_dir), limit, limit_mode, seed) for b in benches}
    identity = model_identity(model)  # a checkpoint is verified against its marker here
    with output_lock(out, lock_timeout):  # choosing the model's folder: one at a time
        root = Path(out) / output_label(Path(out), label or model_label(model), identity)
        record_identity(root, identity)
    # Then only that folder is held: evaluations of other models into the same ``out``
    # run side by side; a second one of the same model waits and reuses its items.
    # Each chunk is one engine call: a chunk smaller than the batch would cap the batch at
    # the chunk (measured on an H200: 16-item chunks at batch 256 ran at ~0.9 items/s).
    chunk_size = max(chunk_size, batch_size)
    with output_lock(root, lock_timeout):
        return _evaluate_model_locked(model, benches, all_docs, data_dir, root, identity, limit, style, backend,
                                      batch_size, max_gen_toks, chunk_size, on_result, engine, deterministic,
                                      limit_mode, seed)


def verify_benchmark_data(bench: Benchmark, data_dir: Path) -> int:
    """Verify ``bench``'s files against ``data_dir/SHA256SUMS`` when it exists
    (:func:`fusion.integrity.verify_tree`); returns how many files were checked."""
    return verify_tree(data_dir, bench.data_subdir or None)


def _evaluate_model_locked(
    model: str, benches: list[Benchmark], all_docs: dict[str, list[dict[str, Any]]], data_dir: Path, root: Path,
    identity: dict[str, Any], limit: int | None, style: PromptStyle, backend: str, batch_size: int,
    max_gen_toks: int | None, chunk_size: int, on_result: OnResult | None, engine: Any, deterministic: bool,
    limit_mode: LimitMode, seed: int,
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    lazy = _LazyEngine(engine, lambda: _load_engine(model, backend, batch_size, max_gen_toks, deterministic))
    for bench in benches:
        out_dir = root / bench.name
        docs = all_docs[bench.name]
        gen = bench.generation_kwargs(style)
        if max_gen_toks is not None:
            gen = {**gen, "max_gen_toks": min(gen.get("max_gen_toks", max_gen_toks), max_gen_toks)}
        config = task_config(bench, style, Path(data_dir), limit, gen, limit_mode, seed)
        # Only the request goes in: identical whether or not a resume had to load the model.
        run_config = {
            "model": model,
            "backend": backend,
            "batch_size": batch_size,
            "limit": limit,
            "limit_mode": limit_mode,
            "seed": seed,
            "max_gen_toks": max_gen_toks,
            "deterministic": deterministic,
            "model_identity": identity,
        }
        # What an output depends on (batch size and limit do not enter: a resume may change them).
        key = generation_hash({"model": model, "backend": backend, "deterministic": deterministic,
                               "generation_kwargs": gen})
        spec = stock_spec(bench.name) if style == "lm-eval" else None
        if spec is not None:  # lm-eval's own stock task(s) compute everything (evaluations.lm_eval_stock)
            results[bench.name] = _evaluate_stock(spec, bench, docs, Path(data_dir), out_dir, lazy, config, run_config,
                                                  subset_record(limit, limit_mode, seed, docs), model, backend,
                                                  deterministic)
            if on_result:
                on_result(out_dir, results[bench.name])
            continue
        results[bench.name] = evaluate_benchmark(
            bench, docs, out_dir, lazy.generate(style), config, run_config, chunk_size,
            subset_record(limit, limit_mode, seed, docs), generation_key=lambda doc, key=key: key,  # type: ignore[misc]  # mypy cannot infer a lambda with a bound default
        )
        if on_result:
            on_result(out_dir, results[bench.name])
    return results


def _evaluate_stock(spec: Any, bench: Benchmark, docs: list[dict[str, Any]], data_dir: Path, out_dir: Path,
                    lazy: _LazyEngine, config: dict[str, Any], run_config: dict[str, Any], subset: dict[str, Any],
                    model: str, backend: str, deterministic: bool) -> dict[str, Any]:
    from evaluations.lm_eval_stock.run import evaluate_stock, stock_config

    config = stock_config(config, spec, f"lm-eval stock task {spec.task}")
    _check_config(out_dir, config)  # refuses a folder written by the older, our-rules lm-eval style
    if run_config.get("max_gen_toks") is not None:
        # lm-eval's computation includes the task's own generation length: the cap is not applied,
        # and the results say so rather than record a setting that did not act.
        ignored = run_config["max_gen_toks"]
        print(f"[eval] {bench.name}: --style lm-eval runs lm-eval's stock {spec.task} with its own generation "
              f"settings; max_gen_toks={ignored} is not applied", file=sys.stderr, flush=True)
        run_config = {**run_config, "max_gen_toks": None, "max_gen_toks_ignored": ignored}
    key = generation_hash({"model": model, "backend": backend, "deterministic": deterministic,
                           "stock_task": spec.task})
    return evaluate_stock(spec, bench, docs, data_dir, out_dir, lambda: lazy.get().lm, config, run_config,
                          subset, key)


def _load_engine(model: str, backend: str, batch_size: int, max_gen_toks: int | None, deterministic: bool) -> Any:
    from evaluations.engines.lm_eval_engine import LMEvalEngine

    try:
        from fusion.models import resolve_model
    except ImportError:  # fusion's model resolution absent: accept local folders only
        resolve_model = Path
    path = resolve_model(model)
    return LMEvalEngine(path, backend=backend, batch_size=batch_size, max_gen_toks=max_gen_toks,
                        deterministic=deterministic)


def read_predictions(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, {benchmark, doc_id, output})`` rows; a bad line raises ``file:line: what``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: predictions file not found")
    rows = []
    for lineno, row in jsonl_records(path):
        missing = [k for k in ("benchmark", "doc_id", "output") if k not in row]
        if missing:
            raise ValueError(f"{path}:{lineno}: missing key(s) {', '.join(missing)}; "
                             "expected {benchmark, doc_id, output}")
        if not isinstance(row["benchmark"], str):
            raise ValueError(f"{path}:{lineno}: 'benchmark' must be a benchmark name (a string), "
                             f"got {row['benchmark']!r}")
        if not isinstance(row["doc_id"], (str, int)) or isinstance(row["doc_id"], bool):
            raise ValueError(f"{path}:{lineno}: 'doc_id' must be a string or an integer, got {row['doc_id']!r}")
        if not isinstance(row["output"], str):
            raise ValueError(f"{path}:{lineno}: 'output' must be a string")
        row["doc_id"] = str(row["doc_id"])
        rows.append((lineno, row))
    if not rows:
        raise ValueError(f"{path}: no predictions")
    return rows


def score_predictions(
    predictions: Path,
    data_dir: Path,
    out: Path,
    style: PromptStyle = "paper",
    label: str | None = None,
    on_result: OnResult | None = None,
    lock_timeout: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Re-score generations made elsewhere with the same scoring code as live runs.

    Every (benchmark, doc_id) must exist in the data; the results cover exactly the
    predicted documents. Outputs: ``out/<label or predictions-stem>/<benchmark>/``.
    """
    rows = read_predictions(Path(predictions))
    with output_lock(out, lock_timeout):
        return _score_predictions_locked(Path(predictions), rows, data_dir, Path(out), style, label, on_result)


def _score_predictions_locked(
    predictions: Path, rows: list[tuple[int, dict[str, Any]]], data_dir: Path, out: Path, style: PromptStyle,
    label: str | None, on_result: OnResult | None,
) -> dict[str, dict[str, Any]]:
    by_bench: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for lineno, row in rows:
        try:
            name = registry.resolve(row["benchmark"])[0]
        except ValueError as exc:
            raise ValueError(f"{predictions}:{lineno}: {exc}") from exc
        by_bench.setdefault(name, []).append((lineno, row))
    identity = {"spec": f"predictions:{predictions.resolve()}", "path": None, "weights_sha256": None}
    root = out / output_label(out, label or safe_label(f"predictions-{predictions.stem}"), identity)
    record_identity(root, identity)
    results = {}
    for name, items in by_bench.items():
        bench = registry.get(name)
        verify_benchmark_data(bench, Path(data_dir))
        index = {d["doc_id"]: d for d in bench.docs(Path(data_dir))}
        docs, outputs, seen = [], {}, set()
        for lineno, row in items:
            if row["doc_id"] not in index:
                raise ValueError(f"{predictions}:{lineno}: {name} has no doc_id {row['doc_id']!r}")
            if row["doc_id"] in seen:
                raise ValueError(f"{predictions}:{lineno}: duplicate prediction for {name} {row['doc_id']!r}")
            seen.add(row["doc_id"])
            docs.append(index[row["doc_id"]])
            outputs[row["doc_id"]] = row["output"]

        spec = stock_spec(name) if style == "lm-eval" else None
        if spec is not None:  # lm-eval's own filters and metrics score the stored text
            from evaluations.lm_eval_stock.predictions import score_predictions_stock

            results[name] = score_predictions_stock(spec, bench, docs, outputs, Path(data_dir), root / name,
                                                    Path(predictions).name)
            if on_result:
                on_result(root / name, results[name])
            continue

        def generate(b: Benchmark, chunk: list[dict[str, Any]]) -> list[ScoredSample]:
            # evaluate_benchmark calls this within the iteration, on this ``outputs`` (B023 is moot)
            scored = b.score_batch(chunk, [outputs[d["doc_id"]] for d in chunk])  # noqa: B023
            for doc, sample in zip(chunk, scored):
                sample.prompt = b.prompt(doc, style)
            return scored

        config = task_config(bench, style, Path(data_dir), None, {"source": "predictions"})
        run_config = {"model": f"predictions:{Path(predictions).name}", "backend": "predictions"}
        chunk = len(docs) if bench.kind == "code" else 2048  # code: one sandboxed batch
        # A prediction's own text is what its sample was made from: a corrected file re-scores.
        results[name] = evaluate_benchmark(
            bench, docs, root / name, generate, config, run_config, chunk,
            generation_key=lambda doc: generation_hash({"output": outputs[doc["doc_id"]]}),  # noqa: B023 - as above
        )
        if on_result:
            on_result(root / name, results[name])
    return results


def checkpoint_step(path: Path) -> int:
    """Step number of a ``step-N`` / ``checkpoint-N`` folder (-1 when it has none)."""
    m = re.search(r"(\d+)$", Path(path).name)
    return int(m.group(1)) if m else -1


def ready_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run (:func:`fusion.checkpoints.is_complete_checkpoint`:
    the marker the trainer writes last), ordered by step; nothing else is ever listed.

    Found through ``eval_queue.jsonl`` (checkpoints may live elsewhere) and by scanning
    ``checkpoints/``; a queued checkpoint that is not complete (yet) is left out.
    """
    run_dir = Path(run_dir)
    found: dict[Path, int] = {}
    queue = run_dir / "eval_queue.jsonl"
    if queue.is_file():
        # The trainer may be appending a line right now: a torn last line is skipped.
        for lineno, item in jsonl_records(queue, torn_tail_ok=True):
            try:
                path = Path(item["checkpoint"])
            except (KeyError, TypeError):
                raise ValueError(f"{queue}:{lineno}: expected {{\"checkpoint\": PATH, \"step\": N}}") from None
            if not path.is_absolute():
                path = run_dir / path
            if is_complete_checkpoint(path):
                found[path.resolve()] = int(item.get("step", checkpoint_step(path)))
    for step, child in complete_checkpoints(run_dir / "checkpoints"):
        found.setdefault(child.resolve(), step)
    return [p for p, _ in sorted(found.items(), key=lambda kv: (kv[1], str(kv[0])))]


def evaluate_run(
    run_dir: Path,
    benchmarks: list[str],
    data_dir: Path,
    watch: bool = False,
    poll_seconds: float = 10.0,
    idle_exit_seconds: float | None = None,
    on_result: OnResult | None = None,
    **model_kwargs: Any,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Evaluate every checkpoint of ``run_dir`` into ``run_dir/evals/<checkpoint>/``.

    With ``watch``, keep polling for new checkpoints; stop after ``idle_exit_seconds``
    without a new one (None: run until interrupted). Returns ``{checkpoint: results}``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: run directory not found")
    finished: dict[str, dict[str, dict[str, Any]]] = {}
    last_new = time.monotonic()
    while True:
        for ckpt in ready_checkpoints(run_dir):
            if ckpt.name in finished:
                continue
            # evaluate_model verifies every file against the marker before anything is loaded
            finished[ckpt.name] = evaluate_model(
                str(ckpt), benchmarks, data_dir, run_dir / "evals", label=ckpt.name, on_result=on_result, **model_kwargs
            )
            last_new = time.monotonic()
        if not watch:
            return finished
        if idle_exit_seconds is not None and time.monotonic() - last_new > idle_exit_seconds:
            return finished
        time.sleep(poll_seconds)


def load_outputs(root: Path) -> dict[str, dict[str, Any]]:
    """``{benchmark: results}`` for every ``<root>/<benchmark>/results.json``."""
    return {p.parent.name: read_results(p) for p in sorted(Path(root).glob(f"*/{RESULTS_FILE}"))}
