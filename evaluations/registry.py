"""Benchmark registry: name -> :class:`~evaluations.base.Benchmark` instance.

The paper's 11 benchmarks in the paper's order. Code benchmarks (HumanEval(+), MBPP(+))
live in modules owned by the EvalPlus work and are imported lazily, so the rest of the
registry works before they exist.
"""

from __future__ import annotations

import importlib

from evaluations.base import Benchmark

# name -> (module, class). Order = the paper's benchmark list.
_ENTRIES: dict[str, tuple[str, str]] = {
    "bbh": ("evaluations.benchmarks.bbh", "BBH"),
    "arc": ("evaluations.benchmarks.arc", "ARCChallenge"),
    "mmlu": ("evaluations.benchmarks.mmlu", "MMLU"),
    "gsm8k": ("evaluations.benchmarks.gsm8k", "GSM8K"),
    "math": ("evaluations.benchmarks.math", "MATH"),
    "theoremqa": ("evaluations.benchmarks.theoremqa", "TheoremQA"),
    "mbpp": ("evaluations.benchmarks.mbpp", "MBPP"),
    "humaneval": ("evaluations.benchmarks.humaneval", "HumanEval"),
    "drop": ("evaluations.benchmarks.drop", "DROP"),
    "hellaswag": ("evaluations.benchmarks.hellaswag", "HellaSwag"),
    "ifeval": ("evaluations.benchmarks.ifeval", "IFEval"),
}
ALIASES = {"arc_challenge": "arc", "arc-challenge": "arc", "mbppplus": "mbpp", "humanevalplus": "humaneval"}


def names() -> list[str]:
    """All registered benchmark names, in the paper's order."""
    return list(_ENTRIES)


def get(name: str) -> Benchmark:
    """A fresh instance of benchmark ``name``; a clear ValueError when unknown or not installed."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in _ENTRIES:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(_ENTRIES)} or 'all'")
    module_name, class_name = _ENTRIES[key]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ValueError(f"benchmark {key!r} is not available yet: module {module_name} is missing") from exc
    return getattr(module, class_name)()


def available() -> list[str]:
    """Registered benchmarks whose module can be imported now."""
    out = []
    for key in _ENTRIES:
        try:
            get(key)
        except ValueError:
            continue
        out.append(key)
    return out


def resolve(spec: str) -> list[str]:
    """``"all"`` -> every available benchmark; ``"a,b"`` -> those names (validated, deduplicated)."""
    if spec.strip().lower() == "all":
        return available()
    chosen: list[str] = []
    for part in spec.split(","):
        if part.strip():
            key = ALIASES.get(part.strip().lower(), part.strip().lower())
            get(key)  # validates
            if key not in chosen:
                chosen.append(key)
    if not chosen:
        raise ValueError("no benchmark named; use --benchmarks all or a comma-separated list")
    return chosen
