"""Import OpenCompass's own scoring modules without its package ``__init__`` files.

Runs in a separate venv holding ``opencompass==0.4.2`` (installed ``--no-deps``) plus the few
libraries those modules import (datasets, mmengine-lite, numpy, scipy, latex2sympy2_extended,
evaluate, tqdm). ``opencompass/__init__``-level packages import every dataset of OpenCompass
and with them torch, transformers, jieba, ... so the packages ``opencompass.datasets``,
``opencompass.openicl``, ``opencompass.openicl.icl_evaluator`` and ``opencompass.utils`` are
registered as bare packages pointing at their real directories; the modules that are then
imported (``datasets/math.py``, ``datasets/bbh.py``, ``utils/text_postprocessors.py``, ...)
are OpenCompass's files, executed unchanged. Only two names the scoring code never calls are
placeholders: ``BaseDataset`` (base class of the dataset *loaders*) and ``get_data_path``.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Any


def _bare_package(name: str, path: Path) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = [str(path)]  # submodules load from the real directory
    sys.modules[name] = module
    return module


def load_opencompass() -> dict[str, Any]:
    """The reference modules, keyed by short name, plus ``__version__`` and ``__file__``."""
    import opencompass

    root = Path(opencompass.__file__).parent
    utils = _bare_package("opencompass.utils", root / "utils")
    utils.get_data_path = lambda *a, **k: None  # placeholder: dataset loaders are not used
    logging_mod = importlib.import_module("opencompass.utils.logging")
    utils.get_logger = logging_mod.get_logger
    # Create OpenCompass's logger once, as its full import does before any evaluator module:
    # 0.5.x's icl_base_evaluator calls get_logger(__name__), which only works after that.
    logging_mod.get_logger()
    openicl = _bare_package("opencompass.openicl", root / "openicl")
    evaluators = _bare_package("opencompass.openicl.icl_evaluator", root / "openicl" / "icl_evaluator")
    base_eval = importlib.import_module("opencompass.openicl.icl_evaluator.icl_base_evaluator")
    evaluators.BaseEvaluator = openicl.BaseEvaluator = base_eval.BaseEvaluator
    hf_eval = importlib.import_module("opencompass.openicl.icl_evaluator.icl_hf_evaluator")
    evaluators.AccEvaluator = hf_eval.AccEvaluator
    evaluators.AccwithDetailsEvaluator = hf_eval.AccwithDetailsEvaluator
    datasets_pkg = _bare_package("opencompass.datasets", root / "datasets")
    base = types.ModuleType("opencompass.datasets.base")
    base.BaseDataset = type("BaseDataset", (), {})  # placeholder: dataset loaders are not used
    sys.modules["opencompass.datasets.base"] = base
    datasets_pkg.base = base
    modules = {
        "math": importlib.import_module("opencompass.datasets.math"),
        "gsm8k": importlib.import_module("opencompass.datasets.gsm8k"),
        "bbh": importlib.import_module("opencompass.datasets.bbh"),
        "drop": importlib.import_module("opencompass.datasets.drop_simple_eval"),
        "theoremqa": importlib.import_module("opencompass.datasets.TheoremQA.main"),
        "text_postprocessors": importlib.import_module("opencompass.utils.text_postprocessors"),
        "hf_eval": hf_eval,
    }
    return {**modules, "__version__": opencompass.__version__, "__file__": str(root)}
