"""lm-eval's own prompt templates, read from its installed task YAMLs (not copied here).

The ``lm-eval`` prompt style renders the ``doc_to_text``/``description`` of lm-eval's task
config with lm-eval's Jinja renderer, so prompts stay identical to published lm-eval runs.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import lm_eval.tasks
import yaml
from lm_eval.utils import apply_template

TASKS_DIR = Path(lm_eval.tasks.__file__).parent


class _TolerantLoader(yaml.SafeLoader):
    """Safe YAML loader that maps lm-eval's ``!function`` tags to None (we only read text)."""


_TolerantLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


@cache
def task_config(relpath: str) -> dict[str, Any]:
    """lm-eval task YAML at ``relpath`` (under lm_eval/tasks), with its ``include`` merged."""
    path = TASKS_DIR / relpath
    with open(path, encoding="utf-8") as fh:
        cfg = yaml.load(fh, Loader=_TolerantLoader) or {}
    if "include" in cfg:
        base = task_config(str(Path(relpath).parent / cfg["include"]))
        cfg = {**base, **cfg}
    return cfg


def render(template: str, doc: dict[str, Any]) -> str:
    """Render an lm-eval Jinja template on ``doc`` exactly as lm-eval does."""
    return apply_template(template, doc)


def prompt(relpath: str, doc: dict[str, Any], with_description: bool = True) -> str:
    """``description + doc_to_text`` of the lm-eval task at ``relpath`` rendered on ``doc``."""
    cfg = task_config(relpath)
    text = render(cfg["doc_to_text"], doc)
    description = render(cfg.get("description") or "", doc) if with_description else ""
    return description + text
