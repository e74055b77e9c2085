"""Content hashes that decide what a resumed evaluation may reuse.

- ``scorer``: the source of the benchmark's module and of every ``evaluations`` module
  it imports (transitively: prompts, extraction, metrics), plus the versions of the
  packages whose code scores or renders prompts (lm-eval's task YAMLs and metrics,
  math-verify, latex2sympy, EvalPlus). Any edit of that code changes it.
- ``generation``: the generation settings and the model (live runs), or the output
  text itself (``--predictions``): what an output was produced from.
- ``prompts``: the prompts rendered for the evaluated documents.

A stored sample keeps its ``generation`` and ``scorer`` hashes; it is reused as is only
when its prompt, generation hash and scorer hash all equal the current ones, re-scored
(output kept) when only the scorer changed, and regenerated otherwise.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import Any

from evaluations.base import Benchmark

PACKAGES = ("lm_eval", "math-verify", "latex2sympy2_extended", "evalplus")


def sha(text: str) -> str:
    """Short sha256 hex digest of ``text`` (16 hex digits: collisions are not a concern here)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # "pkg.module.Name": a class imported from a module
        return None
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


@cache
def source_closure(module: str) -> tuple[str, ...]:
    """``module`` and every ``evaluations.*`` module it imports, transitively (sorted names)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            continue
        seen.add(name)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            todo += [t for t in targets if t.startswith("evaluations.") and _module_file(t) is not None]
    return tuple(sorted(seen))


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


@cache
def scorer_hash(module: str) -> str:
    """Hash of the scoring/prompt code of the benchmark defined in ``module`` (see module doc)."""
    parts = [f"{name}\n{_module_file(name).read_text(encoding='utf-8')}" for name in source_closure(module)]  # type: ignore[union-attr]
    parts += [f"{p}=={_version(p)}" for p in PACKAGES]
    return sha("\n\0".join(parts))


def bench_scorer_hash(bench: Benchmark) -> str:
    """:func:`scorer_hash` of ``bench``'s class, with its declared version folded in."""
    return sha(f"{type(bench).__module__}:{type(bench).__name__}:{bench.version}:{scorer_hash(type(bench).__module__)}")


def generation_hash(settings: dict[str, Any]) -> str:
    """Hash of what produced an output (generation settings + model, or the output text)."""
    return sha(json.dumps(settings, sort_keys=True, default=str))


def prompts_hash(prompts: list[str]) -> str:
    """Hash of the rendered prompts, in document order."""
    return sha("\0".join(sha(p) for p in prompts))
