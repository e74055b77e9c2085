"""Orchestration of a fusion run: data, teacher caches, trainer, run directory, resume.

Used by ``workbench cache-teachers`` and ``workbench fuse``; no maths here.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from fusion.callbacks import AutoEvalCallback, MetricsJsonlCallback, truncate_metrics
from fusion.checkpoints import checkpoint_step, verify_checkpoint
from fusion.config import FusionConfig, SourceConfig
from fusion.data import Example, load_examples, tokenize_example
from fusion.demo_data import write_demo_data
from fusion.resume_config import ConfigRecorder, check_resume_config, record_config
from fusion.teacher_cache import TeacherCache, build_cache, cache_meta, example_keys


def _say(message: str) -> None:
    print(f"[fuse] {message}", file=sys.stderr, flush=True)


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def config_file(cfg: FusionConfig) -> str:
    """The file ``cfg`` was read from (for error messages), or ``<config>``."""
    return str(getattr(cfg, "source_file", "<config>"))


def prepare_data(cfg: FusionConfig) -> list[Example]:
    """Load the training examples, generating the demo set first if configured and missing."""
    path = Path(cfg.data.path)
    if cfg.data.demo is not None and not path.is_file():
        write_demo_data(path, n=cfg.data.demo.n, seed=cfg.data.demo.seed)
        _say(f"wrote {cfg.data.demo.n} demo examples to {path}")
    return load_examples(path)


def _meta(cfg: FusionConfig, source: SourceConfig, vocab_size: int = 0) -> dict[str, Any]:
    return cache_meta(source.model, source.chat_template, cfg.cache.k, vocab_size,
                      cfg.data.max_prompt_tokens, cfg.data.max_response_tokens)


def open_cache(cfg: FusionConfig, source: SourceConfig, keys: dict[str, str] | None = None) -> TeacherCache:
    """Open an existing source cache, checking it was built with this config's settings;
    with ``keys`` (:func:`source_keys`) entries of changed examples count as missing."""
    directory = cfg.source_cache_dir(source)
    if not (directory / "meta.json").is_file():
        raise FileNotFoundError(f"no teacher cache for source {source.name!r} at {directory} "
                                "(run `workbench cache-teachers --config ...`)")
    meta = _meta(cfg, source)
    meta.pop("vocab_size")  # not a setting: known only once the model is loaded
    cache = TeacherCache(directory, meta)  # raises if the cache was built with other settings
    if keys is not None:
        cache.expect(keys)
        cache.verify_all()  # every shard against its checksum before anything reads it
    return cache


def source_keys(source: SourceConfig, examples: list[Example]) -> dict[str, str]:
    """The cache key (rendered prompt + response hash) of every example for ``source``
    (loads only its tokenizer)."""
    from fusion.models import ChatTemplateError, _load_tokenizer, resolve_model

    tokenizer = _load_tokenizer(resolve_model(source.model))
    try:
        return example_keys(tokenizer, examples, source.chat_template)
    except ChatTemplateError as exc:
        raise ValueError(f"{template_key(source.name)}: {exc}") from None


def template_key(source_name: str | None) -> str:
    """How an error names a model's chat template: the config key (``sources[<name>]`` or
    ``pivot``), the config file in front (:func:`config_file`) where the caller adds it."""
    return f"sources[{source_name}].chat_template" if source_name else "pivot.chat_template"


def ensure_teacher_caches(cfg: FusionConfig, examples: list[Example],
                          keys_out: dict[str, dict[str, str]] | None = None, *,
                          data_parallel: bool = False) -> dict[str, dict[str, float]]:
    """Cache every source's top-k on every example not cached yet, or cached from another
    prompt or response (resumable); returns the per-source size report (bytes per token vs
    full logits). ``keys_out`` receives each source's example keys.

    Under ``accelerate launch`` with ``data_parallel`` (``workbench cache-teachers``) the
    examples to cache are split across the ranks, each writes its own shards and rank 0
    merges them into one index (:mod:`fusion.teacher_cache_ranks`); without it (``fuse``)
    an incomplete cache is refused there."""
    # Only cache-teachers sets up the ranks here; under fuse the Trainer does (TrainingArguments).
    state = launch_state() if _world_size() > 1 and data_parallel else None
    reports = {}
    ids = [e.id for e in examples]
    for source in cfg.sources:
        directory = cfg.source_cache_dir(source)
        try:
            keys = source_keys(source, examples)
        except ValueError as exc:
            raise ValueError(f"{config_file(cfg)}: {exc}") from None
        if keys_out is not None:
            keys_out[source.name] = keys
        if state is not None:
            _cache_ranks(cfg, source, examples, keys, state)
            reports[source.name] = open_cache(cfg, source, keys).size_report()
            continue
        cache = None
        todo = ids
        if (directory / "meta.json").is_file():
            cache = open_cache(cfg, source, keys)
            todo = cache.missing(ids)
        if todo:
            if _world_size() > 1:
                raise ValueError(f"teacher cache of {source.name!r} is incomplete; build it first with "
                                 "`workbench cache-teachers` (under `accelerate launch` it runs data-parallel)")
            _say(f"caching {len(todo)} example(s) for source {source.name!r} ({source.model})")
            cache, _ = _cache_examples(cfg, source, examples, directory, _device(), "")
        assert cache is not None
        reports[source.name] = cache.size_report()
    return reports


def launch_state() -> Any:
    """Accelerate's ``PartialState`` of a multi-process launch. On CPU accelerate needs
    ``ACCELERATE_USE_CPU=1`` to see the ranks (else every process would think it is rank 0)."""
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    # PartialState itself does not read the flag (AcceleratorState and the Trainer do).
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    if state.num_processes != _world_size():
        raise ValueError(f"launched with WORLD_SIZE={_world_size()} but accelerate sees {state.num_processes} "
                         "process(es); on CPU set ACCELERATE_USE_CPU=1 (see README, Scale-out)")
    return state


def _cache_examples(cfg: FusionConfig, source: SourceConfig, examples: list[Example], directory: Path,
                    device: str, who: str, create_top: Any = None) -> tuple[TeacherCache, dict[str, float]]:
    """Load ``source`` on ``device`` and cache ``examples`` into the cache folder
    ``directory``; returns that cache and the throughput stats (:func:`build_cache`). ``create_top``,
    if given, is called with the meta once the vocabulary is known (rank 0's top folder)."""
    from fusion.models import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(source.model, dtype=_dtype(cfg.cache.dtype), device=device)
    refuse_unsafe_cache_dtype(cfg.cache.dtype, model, source.name)
    vocab = int(model.get_output_embeddings().weight.shape[0])
    if cfg.cache.k > vocab:  # before meta.json exists: a corrected rerun is not blocked
        raise ValueError(f"{config_file(cfg)}: cache.k: {cfg.cache.k} is larger than the vocabulary of source "
                         f"{source.name!r} ({vocab} tokens)")
    if create_top is not None:
        create_top(_meta(cfg, source, vocab))
    stats: dict[str, float] = {}
    cache = TeacherCache(directory, _meta(cfg, source, vocab))
    build_cache(cache, model, tokenizer, examples,
                template=source.chat_template, batch_size=cfg.cache.batch_size, shard_size=cfg.cache.shard_size,
                max_prompt_tokens=cfg.data.max_prompt_tokens, max_response_tokens=cfg.data.max_response_tokens,
                desc=f"cache {source.name}{who}", stats=stats)
    del model
    gc.collect()
    if stats.get("examples"):
        _say(f"{source.name}{who}: cached {stats['examples']} example(s), {stats['tokens']} tokens in "
             f"{stats['seconds']:.2f} s ({stats['tokens'] / max(stats['seconds'], 1e-9):.0f} tokens/s)")
    return cache, stats


def _cache_ranks(cfg: FusionConfig, source: SourceConfig, examples: list[Example], keys: dict[str, str],
                 state: Any) -> None:
    """Data-parallel caching of one source (every rank calls it; see :mod:`fusion.teacher_cache_ranks`)."""
    from fusion.teacher_cache_ranks import merge_rank_caches, rank_folder

    directory = cfg.source_cache_dir(source)
    has_meta = (directory / "meta.json").is_file()
    if state.is_main_process and has_meta:
        merged = merge_rank_caches(open_cache(cfg, source), keys)  # what a killed run finished
        if merged:
            _say(f"{source.name}: merged {merged} entr{'y' if merged == 1 else 'ies'} left in rank folders")
    state.wait_for_everyone()
    todo = {e.id for e in examples}
    if has_meta:
        cache = open_cache(cfg, source)
        cache.expect(keys)
        todo = set(cache.missing([e.id for e in examples]))
    if todo:
        if state.is_main_process:
            _say(f"caching {len(todo)} example(s) for source {source.name!r} ({source.model}) "
                 f"on {state.num_processes} ranks")
        rank = state.process_index
        create_top = (lambda meta: TeacherCache(directory, meta)) if state.is_main_process else None
        with state.split_between_processes([e for e in examples if e.id in todo]) as mine:
            _cache_examples(cfg, source, mine, rank_folder(directory, rank), str(state.device),
                            f" rank {rank}/{state.num_processes}", create_top)
        state.wait_for_everyone()
        if state.is_main_process:
            merge_rank_caches(open_cache(cfg, source), keys)
    state.wait_for_everyone()


def refuse_unsafe_cache_dtype(dtype: str, model: Any, source_name: str) -> None:
    """Refuse float16 for model families whose activations overflow it (Gemma-3: its
    residual stream exceeds fp16's 65504, so logits become NaN) before any forward pass."""
    model_type = str(getattr(model.config, "model_type", ""))
    if dtype == "float16" and model_type.startswith("gemma3"):
        raise ValueError(f"cache.dtype: float16 is refused for source {source_name!r} ({model_type}): Gemma-3's "
                         "activations overflow float16 and its logits become NaN; use bfloat16 or float32")


def _dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def run_fusion(cfg: FusionConfig, output_dir: str | Path | None = None, *, resume: bool = True,
               allow_config_change: bool = False) -> dict[str, Any]:
    """Train the pivot of ``cfg``; returns a summary (run dir, steps, last checkpoint,
    cache reports). With ``resume`` a run directory holding checkpoints continues from
    the latest complete one (:mod:`fusion.checkpoints`, verified file by file first), and
    ``metrics.jsonl`` lines after it are dropped. A resume with a config other than the
    run's is refused unless ``allow_config_change`` (:mod:`fusion.resume_config`)."""
    from fusion.models import load_model_and_tokenizer
    from fusion.trainer import FusionCollator, FusionDataset, FusionTrainer, last_checkpoint, training_arguments

    run_dir = Path(output_dir or cfg.output_dir)
    checkpoint_dir = run_dir / "checkpoints"
    run_dir.mkdir(parents=True, exist_ok=True)
    resume_from = last_checkpoint(checkpoint_dir) if resume else None
    if not resume and checkpoint_dir.is_dir() and any(checkpoint_dir.iterdir()):
        raise ValueError(f"{checkpoint_dir} already holds checkpoints; resume, or choose a new --output-dir")
    if resume and resume_from is None:
        unmarked = sorted(p for p in checkpoint_dir.glob("step-*") if p.is_dir()) if checkpoint_dir.is_dir() else []
        if unmarked:  # never silently trained over: it may be the only copy of a run's progress
            raise ValueError(f"{unmarked[-1]}: incomplete checkpoint (no checkpoint_complete.json: its save was cut "
                             "short, or an older workbench wrote it) and no complete one to resume from; move "
                             f"{checkpoint_dir} away to start this run afresh")
    metrics_path = run_dir / "metrics.jsonl"
    rank0 = int(os.environ.get("RANK", "0")) == 0
    changes: list[str] = []
    resumed_step = None
    if resume_from is not None:
        # Everything that can refuse the resume runs before anything is changed on disk.
        changes = check_resume_config(run_dir, cfg, allow_config_change)
        verify_checkpoint(resume_from)
        resumed_step = checkpoint_step(resume_from)
        assert resumed_step is not None  # last_checkpoint returns step-N folders only
        if resumed_step >= cfg.training.max_steps:
            # Finished already: the Trainer would still take one more step on resume.
            _say(f"{run_dir}: already trained to step {resumed_step} (max_steps {cfg.training.max_steps}); "
                 "nothing to do")
            return {"run_dir": str(run_dir), "steps": resumed_step, "train_loss": None,
                    "last_checkpoint": str(resume_from), "resumed_from": str(resume_from), "caches": {}}
        if rank0:  # only rank 0 writes metrics.jsonl; the other ranks leave it alone
            truncate_metrics(metrics_path, resumed_step)
        _say(f"resuming from {resume_from}" + (f" with config changes: {'; '.join(changes)}" if changes else ""))
    elif metrics_path.exists() and rank0:
        metrics_path.unlink()
    if rank0 and resume_from is None:
        record_config(run_dir, cfg, None, [])
    # The Trainer's own temp folders (checkpoint-N) of a save cut short: never complete.
    for stale in sorted(checkpoint_dir.glob("checkpoint-*")) if rank0 and checkpoint_dir.is_dir() else []:
        _say(f"removing {stale}: a save that was interrupted (no complete marker)")
        shutil.rmtree(stale, ignore_errors=True)

    examples = prepare_data(cfg)
    keys: dict[str, dict[str, str]] = {}
    reports = ensure_teacher_caches(cfg, examples, keys)
    caches = {s.name: open_cache(cfg, s, keys[s.name]) for s in cfg.sources}

    model, tokenizer = load_model_and_tokenizer(cfg.pivot.model, dtype=torch.float32, device="cpu")
    pivot_vocab = int(model.get_output_embeddings().weight.shape[0])
    if cfg.loss.k > pivot_vocab:
        raise ValueError(f"{config_file(cfg)}: loss.k: {cfg.loss.k} is larger than the pivot's vocabulary "
                         f"({pivot_vocab} tokens)")
    from fusion.models import ChatTemplateError

    try:
        tokenized = [
            tokenize_example(tokenizer, e, template=cfg.pivot.chat_template,
                             max_prompt_tokens=cfg.data.max_prompt_tokens,
                             max_response_tokens=cfg.data.max_response_tokens)
            for e in examples
        ]
    except ChatTemplateError as exc:
        raise ValueError(f"{config_file(cfg)}: {template_key(None)}: {exc}") from None
    dataset = FusionDataset(examples, tokenized, caches, cfg.loss.alignment)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model.train()
    trainer = FusionTrainer(
        model=model,
        args=training_arguments(cfg, checkpoint_dir),
        train_dataset=dataset,
        data_collator=FusionCollator(pad_token_id=pad),
        processing_class=tokenizer,
        callbacks=[*([ConfigRecorder(run_dir, cfg, resumed_step, changes)] if resume_from is not None else []),
                   MetricsJsonlCallback(metrics_path),
                   AutoEvalCallback(run_dir, cfg.eval.mode, checkpoint_dir, cfg.eval.benchmarks,
                                    cfg.eval.limit, cfg.eval.data_dir)],
        loss_cfg=cfg.loss,
        source_names=[s.name for s in cfg.sources],
        source_weights={s.name: s.weight for s in cfg.sources},
        fused_head=cfg.training.fused_head,
        fused_head_chunk=cfg.training.fused_head_chunk,
    )
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    final = last_checkpoint(checkpoint_dir)
    if final is None or int(final.name.split("-")[-1]) != trainer.state.global_step:
        trainer._save_checkpoint(trainer.model, trial=None)  # the last step is always saved
        trainer.control = trainer.callback_handler.on_save(trainer.args, trainer.state, trainer.control)
        final = last_checkpoint(checkpoint_dir)
    return {
        "run_dir": str(run_dir),
        "steps": trainer.state.global_step,
        "train_loss": result.training_loss,
        "last_checkpoint": str(final) if final else None,
        "resumed_from": str(resume_from) if resume_from else None,
        "caches": reports,
    }
