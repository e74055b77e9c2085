"""YAML run configuration for fusion training: typed dataclasses with validation.

Every section is a dataclass; :func:`load_config` reads a YAML file and refuses unknown
keys, wrong types and out-of-range values with an error naming the file and the key
(``configs/tiny.yaml: loss.lambda: must be in [0, 1], got 1.5``).

Relative paths in a config are resolved against the current working directory (the
repository root in normal use), not the config file, so ``runs/...`` means the same thing
in every config.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from fusion.graphs import check_degree_options


@dataclass
class ModelConfig:
    """One model: a spec understood by ``fusion.models.resolve_model`` and an optional
    chat-template override (``None``: the model's own template or its documented fallback)."""

    model: str
    chat_template: str | None = None


@dataclass
class SourceConfig:
    """A source (teacher) model with its name (used in metric keys) and weight ``w_s``."""

    name: str
    model: str
    weight: float = 1.0
    chat_template: str | None = None


@dataclass
class DemoDataConfig:
    """Generate the deterministic demo training set (``fusion.demo_data``) if missing."""

    n: int = 300
    seed: int = 0


@dataclass
class DataConfig:
    """Training data: a JSONL file (``id``, ``messages`` or ``prompt``, ``response``)."""

    path: str
    demo: DemoDataConfig | None = None
    max_prompt_tokens: int = 256
    max_response_tokens: int = 256


@dataclass
class CacheConfig:
    """Teacher cache location and shape: one sub-folder per source under ``dir``."""

    dir: str
    k: int = 10
    batch_size: int = 8
    shard_size: int = 256
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"


@dataclass
class GLDConfig:
    """Options of the graph-on-logits term (DESIGN §2.1-2.4)."""

    value: Literal["prob", "logit", "zscore"] = "prob"
    nodes: Literal["vocab", "rank"] = "vocab"
    # rms: scale-free (GLD in [0, 2] and a stable share of the gradient at every n, k, L);
    # total makes GLD ~ n^-4 (DESIGN §2.2), kept for comparison.
    normalize: Literal["rms", "total", "row", "none"] = "rms"
    weights: Literal["uniform", "mass"] = "uniform"
    order: Literal[1, 2] = 2
    mode: Literal["quantile", "paper"] = "quantile"


@dataclass
class LossConfig:
    """Weights of ``L = (1-λ)·CE + λ·Σ_s w_s (α·WD_s + β·GLD_s)`` (DESIGN §2.7)."""

    lambda_: float = 0.5
    alpha: float = 1.0
    beta: float = 1.0
    k: int = 10
    alignment: Literal["offsets", "index"] = "offsets"
    gld: GLDConfig = field(default_factory=GLDConfig)


@dataclass
class TrainingConfig:
    """Optimisation settings, mapped onto ``transformers.TrainingArguments``."""

    max_steps: int = 20
    per_device_batch_size: int = 4
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-4
    lr_scheduler: Literal["constant", "linear", "cosine", "constant_with_warmup"] = "constant"
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    logging_steps: int = 1
    save_steps: int = 10
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    dataloader_num_workers: int = 0
    gradient_checkpointing: bool = False
    # The pivot's head without materialising (B, T, V) logits (fusion.fused_head): true,
    # false, or auto (on where eligible and the sequence is long enough that it helps; see
    # fusion.trainer.use_fused_head). fused_head_chunk: rows per chunk (None: ~512 MiB fp32).
    fused_head: bool | Literal["auto"] = "auto"
    fused_head_chunk: int | None = None


@dataclass
class EvalConfig:
    """Auto-evaluation of checkpoints: ``off``; ``queue`` (append to
    ``eval_queue.jsonl`` only); ``subprocess`` (also start ``workbench eval --run DIR``
    in a separate process so training is not blocked)."""

    mode: Literal["off", "queue", "subprocess"] = "queue"
    benchmarks: list[str] = field(default_factory=list)
    limit: int | None = None
    data_dir: str | None = None  # benchmark data (None: the eval command's default)


@dataclass
class FusionConfig:
    """A whole fusion run."""

    run_name: str
    output_dir: str
    pivot: ModelConfig
    sources: list[SourceConfig]
    data: DataConfig
    cache: CacheConfig
    loss: LossConfig = field(default_factory=LossConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The config as plain YAML-ready data (``lambda_`` written as ``lambda``)."""
        return _to_plain(self)

    def source_cache_dir(self, source: SourceConfig) -> Path:
        """The teacher-cache folder of one source."""
        return Path(self.cache.dir) / source.name


# YAML keys that are Python keywords map to a trailing-underscore field name.
_KEY_ALIASES = {"lambda": "lambda_"}


class ConfigError(ValueError):
    """A config file is malformed; the message names the file and the key."""


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> FusionConfig:
    """Read and validate a fusion YAML config.

    ``overrides`` maps dotted keys (``training.max_steps``) to values applied on top of
    the file before validation. Raises :class:`FileNotFoundError` for a missing file and
    :class:`ConfigError` (a ``ValueError``) naming the file and the key for bad content.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    raw = parse_yaml(text, str(path))
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    cfg = config_from_dict(raw, source=str(path))
    cfg.source_file = str(path)  # type: ignore[attr-defined]  # for later errors; not a setting
    return cfg


class _UniqueKeyLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(f"{loader.name}:{line}: duplicate key {key!r} (first given at line {seen[key]}); "
                              "YAML would silently keep only the last one")
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def parse_yaml(text: str, name: str) -> Any:
    """YAML ``text`` (``name`` is the file, for errors) with duplicate keys refused:
    :class:`ConfigError` ``"<file>:<line>: ..."``."""
    loader = _UniqueKeyLoader(text)
    loader.name = name
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()


def config_from_dict(raw: dict[str, Any], source: str = "<config>") -> FusionConfig:
    """Build and validate a :class:`FusionConfig` from plain data (``source`` names it in errors)."""
    cfg = _build(FusionConfig, raw, source, "")
    _validate(cfg, source)
    return cfg


def save_config(cfg: FusionConfig, path: str | Path) -> None:
    """Write ``cfg`` as YAML (round-trips through :func:`load_config`)."""
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _build(cls: type, raw: Any, source: str, where: str) -> Any:
    """Recursively build dataclass ``cls`` from ``raw``, checking keys and types."""
    label = where or "<top level>"
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {label}: expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        name = _KEY_ALIASES.get(key, key)
        if name not in fields:
            known = ", ".join(sorted(k.rstrip("_") for k in fields))
            raise ConfigError(f"{source}: {_join(where, key)}: unknown key (known: {known})")
        kwargs[name] = _coerce(hints[name], value, source, _join(where, key))
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{source}: {label}: missing required key(s): {', '.join(missing)}")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, source: str, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, source, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{source}: {where}: bad value {value!r}")
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{source}: {where}: must be one of {choices}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{source}: {where}: expected a list, got {value!r}")
        return [_coerce(args[0], v, source, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(hint):
        return _build(cast(type, hint), value, source, where)  # a type hint: a dataclass, not an instance
    if hint is float:
        # YAML reads "1e-4" as a string; accept numeric strings and ints for floats.
        if isinstance(value, bool):
            raise ConfigError(f"{source}: {where}: expected a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {where}: expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ConfigError(f"{source}: {where}: must be a finite number, got {value!r}")
        return number
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {where}: expected an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {where}: expected true/false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{source}: {where}: unsupported type {hint!r}")


def _validate(cfg: FusionConfig, source: str) -> None:
    def need(ok: bool, where: str, msg: str) -> None:
        if not ok:
            raise ConfigError(f"{source}: {where}: {msg}")

    need(bool(cfg.run_name), "run_name", "must not be empty")
    need(len(cfg.sources) >= 1, "sources", "at least one source model is required")
    names = [s.name for s in cfg.sources]
    need(len(set(names)) == len(names), "sources", f"source names must be unique, got {names}")
    for i, s in enumerate(cfg.sources):
        need(s.name.replace("-", "").replace("_", "").isalnum(), f"sources[{i}].name",
             f"use letters, digits, '-' or '_' (it names a cache folder), got {s.name!r}")
        need(s.weight >= 0, f"sources[{i}].weight", f"must be >= 0, got {s.weight}")
    loss, tr = cfg.loss, cfg.training
    need(0.0 <= loss.lambda_ <= 1.0, "loss.lambda", f"must be in [0, 1], got {loss.lambda_}")
    need(loss.alpha >= 0, "loss.alpha", f"must be >= 0, got {loss.alpha}")
    need(loss.beta >= 0, "loss.beta", f"must be >= 0, got {loss.beta}")
    need(loss.k >= 1, "loss.k", f"must be >= 1, got {loss.k}")
    if loss.beta > 0:
        try:
            check_degree_options(loss.gld.value, loss.gld.normalize, loss.gld.weights)
        except ValueError as exc:
            need(False, "loss.gld", str(exc))
    need(cfg.cache.k >= loss.k, "cache.k",
         f"the cache keeps {cfg.cache.k} entries per position but loss.k asks for {loss.k}")
    need(cfg.cache.batch_size >= 1, "cache.batch_size", "must be >= 1")
    need(cfg.cache.shard_size >= 1, "cache.shard_size", "must be >= 1")
    need(cfg.data.max_prompt_tokens >= 1, "data.max_prompt_tokens", "must be >= 1")
    need(cfg.data.max_response_tokens >= 1, "data.max_response_tokens", "must be >= 1")
    if cfg.data.demo is not None:
        need(cfg.data.demo.n >= 1, "data.demo.n", "must be >= 1")
    need(tr.max_steps >= 1, "training.max_steps", "must be >= 1")
    need(tr.per_device_batch_size >= 1, "training.per_device_batch_size", "must be >= 1")
    need(tr.gradient_accumulation_steps >= 1, "training.gradient_accumulation_steps", "must be >= 1")
    need(tr.learning_rate > 0, "training.learning_rate", f"must be > 0, got {tr.learning_rate}")
    need(tr.weight_decay >= 0, "training.weight_decay", f"must be >= 0, got {tr.weight_decay}")
    need(tr.max_grad_norm >= 0, "training.max_grad_norm", f"must be >= 0 (0: no clipping), got {tr.max_grad_norm}")
    need(tr.warmup_steps >= 0, "training.warmup_steps", f"must be >= 0, got {tr.warmup_steps}")
    need(tr.dataloader_num_workers >= 0, "training.dataloader_num_workers",
         f"must be >= 0, got {tr.dataloader_num_workers}")
    need(cfg.cache.k >= 1, "cache.k", f"must be >= 1, got {cfg.cache.k}")
    need(tr.logging_steps >= 1, "training.logging_steps", "must be >= 1")
    need(tr.save_steps >= 1, "training.save_steps", "must be >= 1")
    if tr.fused_head_chunk is not None:
        need(tr.fused_head_chunk >= 1, "training.fused_head_chunk", f"must be >= 1, got {tr.fused_head_chunk}")
    if cfg.eval.limit is not None:
        need(cfg.eval.limit >= 1, "eval.limit", "must be >= 1")
    if cfg.eval.mode == "subprocess":
        need(bool(cfg.eval.benchmarks), "eval.benchmarks", "name at least one benchmark for mode: subprocess")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        out = {}
        for f in dataclasses.fields(obj):
            key = {v: k for k, v in _KEY_ALIASES.items()}.get(f.name, f.name)
            out[key] = _to_plain(getattr(obj, f.name))
        return out
    if isinstance(obj, list):
        return [_to_plain(v) for v in obj]
    return obj
