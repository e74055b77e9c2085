"""The headline experiment from one command: ``workbench experiment --config F``.

Stages, each resumable (its outputs are the truth; a rerun does only what is missing):

1. ``data``: the training set from the benchmarks' train splits with every evaluated
   item removed (:mod:`workbench.train_sets`), minus ``heldout`` examples kept for the
   diagnostics -> ``OUT/data/{train,heldout}.jsonl``, ``OUT/data/report.json``;
2. ``train``: every arm (SFT, SFT+WD, SFT+WD+GLD, …) × seed from the same fusion config,
   data, steps and batch; only λ, α, β differ; one shared teacher cache
   -> ``OUT/runs/<arm>-s<seed>/``;
3. ``eval``: the pivot and each source as baselines, and each arm's final (or every)
   checkpoint -> ``OUT/evals/<label>/<benchmark>/``;
4. ``diagnose``: WD, certified exact GW, ĝ₂ and the bounds on the held-out examples at
   every checkpoint of every arm -> ``OUT/diagnostics/<arm>-s<seed>/``;
5. ``report``: :mod:`workbench.experiment_report` -> ``OUT/report.md``, ``OUT/figures/``,
   ``OUT/tables/``.

``OUT/experiment.json`` records the config; a rerun whose data or training settings
changed is refused (naming the keys) so two trainings never mix in one folder; changed
evaluation or diagnostics settings are accepted and recorded (their outputs resume item
by item, keyed by their own content).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.experiment_config import ExperimentConfig

STAGES: tuple[str, ...] = ("data", "train", "eval", "diagnose", "report")
STATE_FILE = "experiment.json"


def arm_label(arm: str, seed: int) -> str:
    """A folder-safe run label: ``SFT+WD+GLD``, seed 0 -> ``sft-wd-gld-s0``."""
    return re.sub(r"[^a-z0-9]+", "-", arm.lower()).strip("-") + f"-s{seed}"


def _say(message: str) -> None:
    print(f"[experiment] {message}", flush=True)


def check_state(cfg: ExperimentConfig) -> None:
    """Record the config in ``OUT/experiment.json``, or refuse when it differs from the
    recorded one (the keys that differ are named)."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    state = cfg.out / STATE_FILE
    now = json.loads(json.dumps(cfg.raw()))
    if state.is_file():
        try:
            before = json.loads(state.read_text(encoding="utf-8"))["config"]
        except (ValueError, KeyError, UnicodeDecodeError) as exc:
            raise ValueError(f"{state}: not an experiment state file ({exc}); move it away to start over") from exc
        changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        trained = [k for k in changed if k in cfg.TRAINING_KEYS]
        if trained:
            raise ValueError(f"{state}: this folder holds an experiment trained with another config (changed: "
                             f"{', '.join(trained)}); use another --out, or restore the config")
        if not changed:
            return
        _say(f"evaluation/diagnostics settings changed ({', '.join(changed)}): accepted, recorded in {state}")
    state.write_text(json.dumps({"config": now, "source": cfg.source}, indent=2) + "\n", encoding="utf-8")


def stage_data(cfg: ExperimentConfig, data_dir: Path) -> tuple[Path, Path]:
    """Build (once) the training and held-out files; returns their paths."""
    from workbench.train_sets import build_train_set, write_train_set

    folder = cfg.out / "data"
    train, heldout, report = folder / "train.jsonl", folder / "heldout.jsonl", folder / "report.json"
    if train.is_file() and heldout.is_file() and report.is_file():
        return train, heldout
    examples, rep = build_train_set(data_dir, cfg.sets, cfg.max_per_set, cfg.data_seed)
    if len(examples) <= cfg.heldout:
        raise ValueError(f"{cfg.source}: only {len(examples)} training examples; data.heldout is {cfg.heldout}")
    write_train_set(heldout, examples[: cfg.heldout])
    write_train_set(train, examples[cfg.heldout:])
    report.write_text(json.dumps({"kept": rep.kept, "dropped": rep.dropped, "checked_against": rep.checked_against,
                                  "train": len(examples) - cfg.heldout, "heldout": cfg.heldout}, indent=2) + "\n",
                      encoding="utf-8")
    _say(f"data: {len(examples) - cfg.heldout} training + {cfg.heldout} held-out examples "
         f"({rep.kept}); dropped as evaluated items: {({k: len(v) for k, v in rep.dropped.items()})}")
    return train, heldout


def fusion_overrides(cfg: ExperimentConfig, arm: str, seed: int, train: Path) -> dict[str, Any]:
    """The overrides of the fusion config for one arm and seed (data, cache, λ α β, training)."""
    terms = cfg.arms[arm]
    overrides: dict[str, Any] = {
        "run_name": arm_label(arm, seed), "output_dir": str(cfg.out / "runs" / arm_label(arm, seed)),
        "seed": seed, "data.path": str(train), "data.demo": None, "cache.dir": str(cfg.out / "cache"),
        "eval.mode": "off", "loss.lambda": terms.get("lambda", 0.0), "loss.alpha": terms.get("alpha", 0.0),
        "loss.beta": terms.get("beta", 0.0),
    }
    if cfg.max_prompt_tokens:
        overrides["data.max_prompt_tokens"] = cfg.max_prompt_tokens
    if cfg.max_response_tokens:
        overrides["data.max_response_tokens"] = cfg.max_response_tokens
    overrides.update({f"training.{k}": v for k, v in cfg.training.items()})
    return overrides


def _chosen(label: str, only: frozenset[str] | None) -> bool:
    """Whether ``label`` (an arm label, a baseline, or ``<arm>@step-N``) is among ``only``."""
    return only is None or label in only or label.split("@")[0] in only


def arm_labels(cfg: ExperimentConfig) -> list[tuple[str, int, str]]:
    """``(arm, seed, label)`` of every arm × seed, in run order."""
    return [(arm, seed, arm_label(arm, seed)) for seed in cfg.seeds for arm in cfg.arms]


def stage_cache(cfg: ExperimentConfig, train: Path) -> dict[str, dict[str, float]]:
    """Build (or complete) the teacher caches every arm shares, once; returns the size reports."""
    from fusion.config import load_config
    from fusion.run import ensure_teacher_caches, prepare_data

    arm, seed, _ = arm_labels(cfg)[0]
    fusion = load_config(cfg.fusion_config, fusion_overrides(cfg, arm, seed, train))
    return ensure_teacher_caches(fusion, prepare_data(fusion))


def stage_train(cfg: ExperimentConfig, train: Path, only: frozenset[str] | None = None) -> dict[str, Path]:
    """Train (or resume) every arm × seed (those in ``only``); returns ``label -> run dir``."""
    from fusion.config import load_config
    from fusion.run import run_fusion

    runs = {}
    for arm, seed, label in arm_labels(cfg):
        if _chosen(label, only):
            started = time.time()
            fusion = load_config(cfg.fusion_config, fusion_overrides(cfg, arm, seed, train))
            run_fusion(fusion, cfg.out / "runs" / label, resume=True)
            runs[label] = cfg.out / "runs" / label
            _say(f"train {label}: done in {time.time() - started:.0f} s")
    return runs


def _checkpoints(run: Path, which: str) -> list[tuple[int, Path]]:
    from workbench.diagnostics import list_checkpoints

    found = list_checkpoints(run)
    return found if which == "all" else found[-1:]


def baseline_models(cfg: ExperimentConfig) -> dict[str, str]:
    """``label -> model spec`` of the baselines: the pivot and each source."""
    from fusion.config import load_config

    fusion = load_config(cfg.fusion_config)
    return {"pivot": fusion.pivot.model, **{f"source-{s.name}": s.model for s in fusion.sources}}


def eval_labels(cfg: ExperimentConfig, only: frozenset[str] | None = None) -> dict[str, str]:
    """``label -> model spec`` of everything evaluated (of the arms and baselines in
    ``only``): baselines first, then arm checkpoints (labels ``<arm>-s<seed>@step-N``)."""
    models = {label: spec for label, spec in baseline_models(cfg).items() if _chosen(label, only)}
    for _arm, _seed, label in arm_labels(cfg):
        if _chosen(label, only):  # an arm not chosen may not be trained yet (--jobs)
            for step, path in _checkpoints(cfg.out / "runs" / label, cfg.checkpoints):
                models[f"{label}@step-{step}"] = str(path)
    return models


def stage_eval(cfg: ExperimentConfig, data_dir: Path, evaluate: Callable[..., Any] | None = None,
               only: frozenset[str] | None = None) -> dict[str, Path]:
    """Evaluate every baseline and arm checkpoint (those in ``only``) on every benchmark
    (item-level resume)."""
    from evaluations.runner import evaluate_model

    evaluate = evaluate or evaluate_model
    out = cfg.out / "evals"
    done = {}
    for label, spec in eval_labels(cfg, only).items():
        started = time.time()
        for bench in cfg.benchmarks:
            evaluate(spec, [bench], data_dir, out, limit=cfg.limit.get(bench), label=label, backend=cfg.backend,
                     batch_size=cfg.batch_size, max_gen_toks=cfg.max_gen_toks, style=cfg.style(bench))
        done[label] = out / label
        _say(f"eval {label}: {', '.join(cfg.benchmarks)} in {time.time() - started:.0f} s")
    return done


def stage_diagnose(cfg: ExperimentConfig, heldout: Path, only: frozenset[str] | None = None) -> dict[str, Path]:
    """Diagnostics of every arm's checkpoints (arms in ``only``) on the held-out examples
    (once per arm)."""
    import pandas as pd

    from fusion.config import load_config
    from fusion.data import load_examples
    from workbench.diagnostics import GraphOptions, ModelRef, pivot_trajectory
    from workbench.diagnostics_report import diagnose_to_folder

    fusion = load_config(cfg.fusion_config)
    gld = fusion.loss.gld
    options = GraphOptions(k=fusion.loss.k, value=gld.value, nodes=gld.nodes, normalize=gld.normalize,
                           weights=gld.weights)
    examples = load_examples(heldout)[: cfg.diag_examples]
    pivot = ModelRef("pivot", fusion.pivot.model, fusion.pivot.chat_template)
    sources = [ModelRef(s.name, s.model, s.chat_template) for s in fusion.sources]
    folders = {}
    for _arm, seed, label in arm_labels(cfg):
        if not _chosen(label, only):
            continue
        folder = cfg.out / "diagnostics" / label
        folders[label] = folder
        if (folder / "diagnostics.json").is_file() and (folder / "examples.parquet").is_file():
            continue
        started = time.time()
        diagnose_to_folder(examples, pivot_trajectory(pivot, cfg.out / "runs" / label), sources, folder, options,
                           restarts=cfg.restarts, seed=seed, run_label=label, export_examples=2,
                           max_prompt_tokens=fusion.data.max_prompt_tokens,
                           max_response_tokens=fusion.data.max_response_tokens)
        rows = pd.read_parquet(folder / "examples.parquet")
        _say(f"diagnose {label}: {len(rows)} rows in {time.time() - started:.0f} s")
    return folders


def run_experiment(cfg: ExperimentConfig, data_dir: Path, stages: tuple[str, ...] = STAGES, *,
                   only: frozenset[str] | None = None, jobs: int = 1) -> Path:
    """Run the chosen stages in order; returns the report's path (or the out folder).

    ``only`` restricts train/eval/diagnose to those arm or baseline labels (what one job of
    :mod:`workbench.experiment_jobs` runs; no timings or report are written then). With
    ``jobs`` > 1 the independent units (arms, evaluations, diagnostics) run as that many
    concurrent ``workbench experiment --only`` processes once the shared teacher cache is
    built: one GPU holds several small models' work at once."""
    from workbench.experiment_report import write_report

    unknown = [s for s in stages if s not in STAGES + (("cache",) if only is not None else ())]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; choose from {list(STAGES)}")
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    check_state(cfg)
    train, heldout = stage_data(cfg, data_dir)
    steps = (("cache", lambda: stage_cache(cfg, train)),  # a stage of its own only for --jobs units
             ("train", lambda: stage_train(cfg, train, only)),
             ("eval", lambda: stage_eval(cfg, data_dir, only=only)),
             ("diagnose", lambda: stage_diagnose(cfg, heldout, only)))
    if only is not None:
        for stage, work in steps:
            if stage in stages:
                work()
        return cfg.out
    timings: dict[str, float] = {}
    timing_file = cfg.out / "timings.json"
    if timing_file.is_file():
        timings = json.loads(timing_file.read_text(encoding="utf-8"))

    def record(stage: str, started: float) -> None:
        timings[stage] = timings.get(stage, 0.0) + time.time() - started
        timing_file.write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")

    if jobs > 1:
        from workbench.experiment_jobs import run_jobs

        run_jobs(cfg, data_dir, stages, jobs, record)
    else:
        for stage, work in steps:  # "cache" is never among STAGES here: training builds it
            if stage in stages:
                started = time.time()
                work()
                record(stage, started)
    if "report" in stages:
        return write_report(cfg, timings)
    return cfg.out
