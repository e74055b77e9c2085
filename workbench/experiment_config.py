"""The headline experiment's YAML config (``workbench experiment --config F``), validated.

Every key is optional except ``fusion_config``; errors name the file and the key::

    fusion_config: configs/smollm2-gemma3.yaml  # pivot, sources, cache, GLD options
    out: runs/experiment-smollm2-gemma3
    data: {sets: [gsm8k, arc, mbpp], max_per_set: 1000, heldout: 32, seed: 0}
    arms:                                       # λ, α, β of L = (1−λ)·CE + λ·Σ w (α·WD + β·GLD)
      SFT: {lambda: 0.0, alpha: 0.0, beta: 0.0}
      SFT+WD: {lambda: 0.5, alpha: 1.0, beta: 0.0}
      SFT+WD+GLD: {lambda: 0.5, alpha: 1.0, beta: 1.0}
    seeds: [0]
    training: {max_steps: 1000, per_device_batch_size: 16, save_steps: 250}   # any fusion training.* key
    eval: {benchmarks: [gsm8k, bbh, arc, mmlu], limit: {mmlu: 570}, checkpoints: final, batch_size: 64,
           style: {arc: lm-eval, mmlu: lm-eval}}   # or one style for all; unnamed: paper
    diagnostics: {examples: 32, restarts: 2}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import yaml

from fusion.config import ConfigError

if TYPE_CHECKING:
    from evaluations.base import PromptStyle

DEFAULT_ARMS: dict[str, dict[str, float]] = {
    "SFT": {"lambda": 0.0, "alpha": 0.0, "beta": 0.0},
    "SFT+WD": {"lambda": 0.5, "alpha": 1.0, "beta": 0.0},
    "SFT+WD+GLD": {"lambda": 0.5, "alpha": 1.0, "beta": 1.0},
}
BASELINE_ARM = "SFT"


@dataclass
class ExperimentConfig:
    """A validated experiment config (see the module docstring)."""

    source: str
    fusion_config: Path
    out: Path
    sets: list[str] = field(default_factory=lambda: ["gsm8k", "arc", "mbpp"])
    max_per_set: int | None = None
    heldout: int = 32
    data_seed: int = 0
    arms: dict[str, dict[str, float]] = field(default_factory=lambda: dict(DEFAULT_ARMS))
    seeds: list[int] = field(default_factory=lambda: [0])
    training: dict[str, Any] = field(default_factory=dict)
    max_prompt_tokens: int | None = None
    max_response_tokens: int | None = None
    benchmarks: list[str] = field(default_factory=lambda: ["gsm8k", "bbh", "arc", "mmlu"])
    limit: dict[str, int | None] = field(default_factory=dict)
    checkpoints: Literal["final", "all"] = "final"
    batch_size: int = 16
    max_gen_toks: int | None = None
    backend: str = "hf"
    #: benchmark -> prompt/scoring style (``paper`` or ``lm-eval``); a benchmark not named is ``paper``.
    styles: dict[str, PromptStyle] = field(default_factory=dict)
    diag_examples: int = 32
    restarts: int = 2

    #: The keys whose change would change what was trained: a resume must match them.
    #: Evaluation and diagnostics keys may change (their outputs resume item by item).
    TRAINING_KEYS: tuple[str, ...] = ("fusion_config", "sets", "max_per_set", "heldout", "data_seed", "arms",
                                      "seeds", "training", "max_prompt_tokens", "max_response_tokens")

    def raw(self) -> dict[str, Any]:
        """What decides the results (recorded in ``experiment.json``; a resume must match it)."""
        return {"fusion_config": str(self.fusion_config), "sets": self.sets, "max_per_set": self.max_per_set,
                "heldout": self.heldout, "data_seed": self.data_seed, "arms": self.arms, "seeds": self.seeds,
                "training": self.training, "max_prompt_tokens": self.max_prompt_tokens,
                "max_response_tokens": self.max_response_tokens, "benchmarks": self.benchmarks,
                "limit": self.limit, "checkpoints": self.checkpoints, "max_gen_toks": self.max_gen_toks,
                "backend": self.backend, "diag_examples": self.diag_examples, "restarts": self.restarts,
                **({"styles": self.styles} if self.styles else {})}

    def style(self, benchmark: str) -> PromptStyle:
        """The style ``benchmark`` is evaluated in (``paper`` unless ``eval.style`` names another)."""
        return self.styles.get(benchmark, "paper")


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML would keep the last)."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(f"line {key_node.start_mark.line + 1}: key {key!r} given twice")
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


@overload
def _int(value: Any, where: str, low: int = 1, optional: Literal[False] = False) -> int: ...
@overload
def _int(value: Any, where: str, low: int = 1, *, optional: Literal[True]) -> int | None: ...
def _int(value: Any, where: str, low: int = 1, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{where}: must be an integer ≥ {low}{' or null' if optional else ''}, got {value!r}")
    return value


STYLES = ("paper", "lm-eval")


def _styles(raw: Any, benchmarks: list[str], where: str) -> dict[str, PromptStyle]:
    """``eval.style``: one style for every benchmark, or a ``benchmark -> style`` mapping."""
    if raw is None:
        return {}
    chosen = {b: raw for b in benchmarks} if isinstance(raw, str) else raw
    if not isinstance(chosen, dict):
        raise ConfigError(f"{where}: a style ({' or '.join(STYLES)}) or a mapping benchmark -> style, got {raw!r}")
    stray = sorted(set(chosen) - set(benchmarks))
    if stray:
        raise ConfigError(f"{where}: {stray} not among eval.benchmarks {benchmarks}")
    bad = {b: v for b, v in chosen.items() if v not in STYLES}
    if bad:
        raise ConfigError(f"{where}: unknown style {bad}; choose {' or '.join(STYLES)}")
    return {b: v for b, v in chosen.items() if v != "paper"}


def load_experiment_config(path: str | Path, out: str | Path | None = None) -> ExperimentConfig:
    """Read and validate an experiment config; ``out`` overrides its ``out`` key.

    Raises ``FileNotFoundError`` (missing file) or :class:`ConfigError` (``file: key: why``).
    """
    from evaluations import registry
    from workbench.train_sets import BUILDERS

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"experiment config not found: {path}")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except (yaml.YAMLError, ConfigError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid YAML config: {exc}") from exc
    if not isinstance(raw, dict) or "fusion_config" not in raw:
        raise ConfigError(f"{path}: expected a mapping with at least 'fusion_config'")
    known = {"fusion_config", "out", "data", "arms", "seeds", "training", "eval", "diagnostics"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; known: {sorted(known)}")
    where = lambda key: f"{path}: {key}"  # noqa: E731 - one format for every message
    fusion_config = Path(raw["fusion_config"])
    if not fusion_config.is_file():
        raise ConfigError(f"{where('fusion_config')}: {fusion_config} not found")
    cfg = ExperimentConfig(source=str(path), fusion_config=fusion_config,
                           out=Path(out or raw.get("out") or f"runs/experiment-{path.stem}"))
    data = raw.get("data") or {}
    cfg.sets = list(data.get("sets", cfg.sets))
    bad = [s for s in cfg.sets if s not in BUILDERS]
    if bad or not cfg.sets:
        raise ConfigError(f"{where('data.sets')}: unknown or empty {bad or cfg.sets}; choose from {list(BUILDERS)}")
    cfg.max_per_set = _int(data.get("max_per_set"), where("data.max_per_set"), optional=True)
    cfg.heldout = _int(data.get("heldout", cfg.heldout), where("data.heldout"))
    cfg.data_seed = _int(data.get("seed", 0), where("data.seed"), low=0)
    cfg.max_prompt_tokens = _int(data.get("max_prompt_tokens"), where("data.max_prompt_tokens"), optional=True)
    cfg.max_response_tokens = _int(data.get("max_response_tokens"), where("data.max_response_tokens"), optional=True)
    arms = raw.get("arms", cfg.arms)
    if not isinstance(arms, dict) or BASELINE_ARM not in arms:
        raise ConfigError(f"{where('arms')}: a mapping of arm name -> {{lambda, alpha, beta}} that includes "
                          f"{BASELINE_ARM!r} (the arm every other is compared with)")
    for name, terms in arms.items():
        if not isinstance(terms, dict) or set(terms) - {"lambda", "alpha", "beta"}:
            raise ConfigError(f"{where(f'arms.{name}')}: expected {{lambda, alpha, beta}}, got {terms!r}")
        for key, value in terms.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{where(f'arms.{name}.{key}')}: must be a finite number ≥ 0, got {value!r}")
    cfg.arms = {str(k): {kk: float(vv) for kk, vv in v.items()} for k, v in arms.items()}
    seeds = raw.get("seeds", cfg.seeds)
    if not isinstance(seeds, list) or not seeds:
        raise ConfigError(f"{where('seeds')}: a non-empty list of integers, got {seeds!r}")
    cfg.seeds = [_int(s, where("seeds"), low=0) for s in seeds]
    cfg.training = dict(raw.get("training") or {})
    ev = raw.get("eval") or {}
    cfg.benchmarks = registry.resolve(",".join(ev["benchmarks"])) if "benchmarks" in ev else cfg.benchmarks
    limit = ev.get("limit")
    if isinstance(limit, dict):
        cfg.limit = {b: _int(v, where(f"eval.limit.{b}"), optional=True) for b, v in limit.items()}
        stray = sorted(set(cfg.limit) - set(cfg.benchmarks))
        if stray:
            raise ConfigError(f"{where('eval.limit')}: {stray} not among eval.benchmarks {cfg.benchmarks}")
    elif limit is not None:
        cfg.limit = {b: _int(limit, where("eval.limit")) for b in cfg.benchmarks}
    cfg.checkpoints = ev.get("checkpoints", cfg.checkpoints)
    if cfg.checkpoints not in ("final", "all"):
        raise ConfigError(f"{where('eval.checkpoints')}: 'final' or 'all', got {cfg.checkpoints!r}")
    cfg.batch_size = _int(ev.get("batch_size", cfg.batch_size), where("eval.batch_size"))
    cfg.max_gen_toks = _int(ev.get("max_gen_toks"), where("eval.max_gen_toks"), optional=True)
    cfg.backend = str(ev.get("backend", cfg.backend))
    cfg.styles = _styles(ev.get("style"), cfg.benchmarks, where("eval.style"))
    diag = raw.get("diagnostics") or {}
    cfg.diag_examples = _int(diag.get("examples", cfg.diag_examples), where("diagnostics.examples"))
    cfg.restarts = _int(diag.get("restarts", cfg.restarts), where("diagnostics.restarts"), low=0)
    if cfg.diag_examples > cfg.heldout:
        raise ConfigError(f"{where('diagnostics.examples')}: {cfg.diag_examples} > data.heldout ({cfg.heldout}); "
                          "diagnostics run on held-out examples only")
    return cfg
