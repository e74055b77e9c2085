"""lm-eval's stock task definitions, loaded by lm-eval's ``TaskManager``, reading local data.

For each benchmark a :class:`StockSpec` names the stock task or group shipped in the
installed ``lm_eval/tasks`` (``arc_challenge``, the ``mmlu`` group, ``hellaswag``,
``gsm8k``, the ``bbh`` CoT few-shot group, the seven ``minerva_math_*`` tasks). They are
loaded through a one-member wrapper group whose member entry overrides ``dataset_path``
(lm-eval's own group-member override mechanism), so every subtask keeps its stock YAML
(prompts, few-shot settings, filters, stop sequences, metrics, version) and only reads
the local folder of :mod:`evaluations.lm_eval_stock.data`. ``overrides`` lists the other
keys we have to change, each for a stated reason (recorded in results.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WRAPPER = "workbench_local_data"


class StockTaskError(ValueError):
    """A stock lm-eval task that cannot run here (missing optional dependency, ...)."""


@dataclass(frozen=True)
class StockSpec:
    """How one benchmark maps to lm-eval's stock task(s)."""

    benchmark: str
    task: str  # stock task or group name
    task_dirs: tuple[str, ...]  # folders under lm_eval/tasks that TaskManager indexes
    hub_dataset: str  # the stock dataset_path that the local folder replaces
    metric: str  # headline metric
    headline_filter: str = "none"
    overrides: dict[str, Any] = field(default_factory=dict)
    # For a list of stock tasks without a stock group: the group we wrap them in.
    members: tuple[str, ...] = ()


MATH_TASKS = ("minerva_math_algebra", "minerva_math_counting_and_prob", "minerva_math_geometry",
              "minerva_math_intermediate_algebra", "minerva_math_num_theory", "minerva_math_prealgebra",
              "minerva_math_precalc")

SPECS: dict[str, StockSpec] = {
    "arc": StockSpec("arc", "arc_challenge", ("arc",), "allenai/ai2_arc", "acc"),
    "mmlu": StockSpec("mmlu", "mmlu", ("mmlu/default",), "cais/mmlu", "acc"),
    "hellaswag": StockSpec("hellaswag", "hellaswag", ("hellaswag",), "Rowan/hellaswag", "acc",
                           overrides={"training_split": None}),
    "gsm8k": StockSpec("gsm8k", "gsm8k", ("gsm8k",), "openai/gsm8k", "exact_match", "strict-match"),
    "bbh": StockSpec("bbh", "bbh", ("bbh/cot_fewshot",), "SaylorTwift/bbh", "exact_match", "get-answer"),
    "math": StockSpec("math", "minerva_math", ("minerva_math",), "EleutherAI/hendrycks_math", "exact_match",
                      overrides={"training_split": None}, members=MATH_TASKS),
}


def stock_spec(benchmark: str) -> StockSpec | None:
    """The stock-task mapping of ``benchmark`` (None: ``--style lm-eval`` keeps our rules)."""
    return SPECS.get(benchmark)


def tasks_dir() -> Path:
    """The installed lm-eval's ``tasks`` folder (the stock YAMLs)."""
    import lm_eval.tasks

    return Path(lm_eval.tasks.__file__).parent


def check_dependencies(spec: StockSpec) -> None:
    """Raise :class:`StockTaskError` (one line) when the stock task's own imports fail."""
    if spec.benchmark != "math":
        return
    try:
        import lm_eval.tasks.minerva_math.utils  # noqa: F401  (asserts antlr4-python3-runtime 4.11)
    except (AssertionError, ImportError) as exc:
        from importlib.metadata import PackageNotFoundError, version

        try:
            antlr = version("antlr4-python3-runtime")
        except PackageNotFoundError:
            antlr = "not installed"
        raise StockTaskError(
            "math: lm-eval's stock minerva_math task cannot run here: its utils need sympy, math_verify and "
            f"antlr4-python3-runtime==4.11 (installed: {antlr}); pip install 'antlr4-python3-runtime==4.11.0' "
            "or use --style paper"
        ) from exc


def _manager(spec: StockSpec, extra: Path | None = None) -> Any:
    from lm_eval.tasks import TaskManager

    root = tasks_dir()
    paths = [str(root / d) for d in spec.task_dirs] + ([str(extra)] if extra else [])
    return TaskManager(include_defaults=False, include_path=paths)


def wrapper_yaml(spec: StockSpec, dataset_dir: Path) -> dict[str, Any]:
    """The task YAML we add: one group whose member entries are the stock task/group with
    ``dataset_path`` (and ``spec.overrides``) overridden -- nothing else."""
    override = {"dataset_path": str(dataset_dir), **spec.overrides}
    if spec.members:
        return {"group": spec.task, "task": [{"task": t, **override} for t in spec.members],
                "aggregate_metric_list": [{"metric": spec.metric, "weight_by_size": True}],
                "metadata": {"version": 1.0}}
    kind = "group" if spec.task in _manager(spec).all_groups else "task"
    return {"group": WRAPPER, "task": [{kind: spec.task, **override}]}


def _prune(group: Any, keep: set[str]) -> None:
    from lm_eval.api.group import Group

    for child in list(group):
        if isinstance(child, Group):
            _prune(child, keep)
            if not len(child):
                group.pop(child.name)
        elif child.task_name not in keep:
            group.pop(child.task_name)


def load_stock(spec: StockSpec, dataset_dir: Path, keep: set[str] | None = None) -> tuple[dict[str, Any], Any]:
    """Build the stock task(s) of ``spec`` reading ``dataset_dir``; returns (lm-eval
    ``TaskDict`` for ``evaluate``, the top ``Task``/``Group``). ``keep``: leaf task names
    to keep (lm-eval cannot evaluate a subtask with no documents). The wrapper YAML is
    written to ``<dataset_dir>-tasks/`` and indexed by name (a top-level inline dict would
    hand its own keys to every member as overrides)."""
    import yaml
    from lm_eval.api.group import Group

    check_dependencies(spec)
    wrapper = wrapper_yaml(spec, dataset_dir)
    folder = Path(f"{dataset_dir}-tasks-{spec.benchmark}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{wrapper['group']}.yaml").write_text(yaml.safe_dump(wrapper, sort_keys=False), encoding="utf-8")
    built = _manager(spec, folder).load(wrapper["group"])
    if spec.members:
        top = built["groups"][spec.task]
    else:
        top = built["groups"][spec.task] if "group" in wrapper["task"][0] else built["tasks"][spec.task]
    if isinstance(top, Group) and keep is not None:
        _prune(top, keep)
    return _manager(spec).load([top]), top


def stock_yaml(spec: StockSpec, task: str) -> dict[str, Any]:
    """The stock YAML of leaf ``task`` with its ``include`` chain merged by lm-eval's own
    loader (``!function`` entries left as references): what a run must equal except the
    dataset location and ``spec.overrides``."""
    from lm_eval.tasks._yaml_loader import load_yaml

    entry = _manager(spec).task_index.get(task)
    if entry is None or entry.yaml_path is None:
        raise KeyError(f"{task} is not a stock task of {spec.benchmark}")
    return load_yaml(entry.yaml_path, resolve_func=False)
