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
from pathlib import Path
from typing import Any, Callable

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


def stage_train(cfg: ExperimentConfig, train: Path) -> dict[str, Path]:
    """Train (or resume) every arm × seed; returns ``label -> run dir``."""
    from fusion.config import load_config
    from fusion.run import run_fusion

    runs = {}
    for seed in cfg.seeds:
        for arm in cfg.arms:
            label = arm_label(arm, seed)
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


def eval_labels(cfg: ExperimentConfig) -> dict[str, str]:
    """``label -> model spec`` of everything evaluated: baselines first, then arm checkpoints
    (labels ``<arm>-s<seed>@step-N``)."""
    from fusion.config import load_config

    fusion = load_config(cfg.fusion_config)
    models = {"pivot": fusion.pivot.model, **{f"source-{s.name}": s.model for s in fusion.sources}}
    for seed in cfg.seeds:
        for arm in cfg.arms:
            run = cfg.out / "runs" / arm_label(arm, seed)
            for step, path in _checkpoints(run, cfg.checkpoints):
                models[f"{arm_label(arm, seed)}@step-{step}"] = str(path)
    return models


def stage_eval(cfg: ExperimentConfig, data_dir: Path, evaluate: Callable[..., Any] | None = None) -> dict[str, Path]:
    """Evaluate every baseline and arm checkpoint on every benchmark (item-level resume)."""
    from evaluations.runner import evaluate_model

    evaluate = evaluate or evaluate_model
    out = cfg.out / "evals"
    done = {}
    for label, spec in eval_labels(cfg).items():
        started = time.time()
        for bench in cfg.benchmarks:
            evaluate(spec, [bench], data_dir, out, limit=cfg.limit.get(bench), label=label, backend=cfg.backend,
                     batch_size=cfg.batch_size, max_gen_toks=cfg.max_gen_toks)
        done[label] = out / label
        _say(f"eval {label}: {', '.join(cfg.benchmarks)} in {time.time() - started:.0f} s")
    return done


def stage_diagnose(cfg: ExperimentConfig, heldout: Path) -> dict[str, Path]:
    """Diagnostics of every arm's checkpoints on the held-out examples (once per arm)."""
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
    for seed in cfg.seeds:
        for arm in cfg.arms:
            label = arm_label(arm, seed)
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


def run_experiment(cfg: ExperimentConfig, data_dir: Path, stages: tuple[str, ...] = STAGES) -> Path:
    """Run the chosen stages in order; returns the report's path (or the out folder)."""
    from workbench.experiment_report import write_report

    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; choose from {list(STAGES)}")
    check_state(cfg)
    timings: dict[str, float] = {}
    timing_file = cfg.out / "timings.json"
    if timing_file.is_file():
        timings = json.loads(timing_file.read_text(encoding="utf-8"))
    train, heldout = stage_data(cfg, data_dir)
    for stage, work in (("train", lambda: stage_train(cfg, train)),
                        ("eval", lambda: stage_eval(cfg, data_dir)),
                        ("diagnose", lambda: stage_diagnose(cfg, heldout))):
        if stage in stages:
            started = time.time()
            work()
            timings[stage] = timings.get(stage, 0.0) + time.time() - started
            timing_file.write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
    if "report" in stages:
        return write_report(cfg, timings)
    return cfg.out
