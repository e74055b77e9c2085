"""``--style lm-eval`` = lm-eval's stock tasks: the config plumbing, no model.

The tasks lm-eval builds for us must equal the stock YAMLs except the dataset location
(and the stated overrides); HellaSwag's missing ctx_a/ctx_b is stated; MATH runs
lm-eval's minerva_math or stops with one clear line.
"""

from __future__ import annotations

import sys

import pytest
from _eval_common import DATA_DIR, REPO

from evaluations.lm_eval_stock import data, tasks
from evaluations.lm_eval_stock.run import selection

CASES = [("arc", "arc_challenge"), ("mmlu", "mmlu_abstract_algebra"), ("hellaswag", "hellaswag"),
         ("gsm8k", "gsm8k"), ("bbh", "bbh_cot_fewshot_navigate"), ("math", "minerva_math_algebra")]
STRUCTURAL = {"tag", "group", "include", "task_alias", "metadata"}


def _same(stock, ours) -> bool:
    if callable(ours) and callable(stock):  # !function entries: resolved twice, two objects
        return (stock.__module__, stock.__name__) == (ours.__module__, ours.__name__)
    return stock == ours


@pytest.mark.parametrize("bench,task", CASES)
def test_resolved_task_equals_stock_except_the_dataset_location(bench, task, tmp_path):
    from dataclasses import fields

    from lm_eval.config.task import TaskConfig
    from lm_eval.tasks._yaml_loader import load_yaml

    spec = tasks.SPECS[bench]
    folder = data.materialize(data.convert(bench, DATA_DIR), tmp_path)
    task_dict, _ = tasks.load_stock(spec, folder, keep={task})
    assert list(task_dict["tasks"]) == [task]
    ours = task_dict["tasks"][task].config
    raw = tasks.stock_yaml(spec, task)
    assert raw["dataset_path"] == spec.hub_dataset and ours.dataset_path == str(folder)
    # The stock YAML as lm-eval resolves it (includes merged, !function imported), unchanged.
    entry_path = tasks._manager(spec).task_index[task].yaml_path
    stock_cfg = {k: v for k, v in load_yaml(entry_path, resolve_func=True).items() if k not in ("tag", "group")}
    stock = TaskConfig(**stock_cfg)
    differing = {f.name for f in fields(TaskConfig)
                 if f.name != "metadata" and not _same(getattr(stock, f.name), getattr(ours, f.name))}
    assert differing == {"dataset_path", *spec.overrides}, (task, differing)
    assert ours.metadata["version"] == stock.metadata["version"]
    ids = data.convert(bench, DATA_DIR).ids[ours.dataset_name or "default"]
    assert len(task_dict["tasks"][task].eval_docs) == len(ids)


def test_stock_settings_that_matter_are_lm_evals():
    gsm8k = tasks.stock_yaml(tasks.SPECS["gsm8k"], "gsm8k")
    assert gsm8k["num_fewshot"] == 5 and gsm8k["fewshot_split"] == "train"
    assert [f["name"] for f in gsm8k["filter_list"]] == ["strict-match", "flexible-extract"]
    assert gsm8k["generation_kwargs"]["until"] == ["Question:", "</s>", "<|im_end|>"]
    arc = tasks.stock_yaml(tasks.SPECS["arc"], "arc_challenge")
    assert arc["output_type"] == "multiple_choice" and [m["metric"] for m in arc["metric_list"]] == ["acc", "acc_norm"]
    mmlu = tasks.stock_yaml(tasks.SPECS["mmlu"], "mmlu_anatomy")
    assert mmlu["output_type"] == "multiple_choice" and [m["metric"] for m in mmlu["metric_list"]] == ["acc"]


def test_doc_ids_map_to_lm_eval_indices():
    arc = data.convert("arc", DATA_DIR)
    from evaluations import registry

    ours = registry.get("arc").docs(DATA_DIR)
    assert arc.ids["ARC-Challenge"] == [d["doc_id"] for d in ours]
    mmlu = data.convert("mmlu", DATA_DIR)
    assert selection(mmlu, ["anatomy/3", "abstract_algebra/0", "anatomy/1"]) == {"anatomy": [1, 3],
                                                                                "abstract_algebra": [0]}
    with pytest.raises(ValueError, match="not in the local data"):
        selection(mmlu, ["anatomy/99999"])
    assert sum(len(v) for v in mmlu.ids.values()) == 14042 and len(mmlu.ids) == 57


def test_mmlu_group_is_pruned_to_chosen_subjects(tmp_path):
    folder = data.materialize(data.convert("mmlu", DATA_DIR), tmp_path)
    task_dict, top = tasks.load_stock(tasks.SPECS["mmlu"], folder, keep={"mmlu_anatomy", "mmlu_world_religions"})
    assert sorted(task_dict["tasks"]) == ["mmlu_anatomy", "mmlu_world_religions"]
    assert task_dict["group_map"]["mmlu"] == ["mmlu_stem", "mmlu_humanities"]


def test_hellaswag_states_the_missing_ctx_fields():
    local = data.convert("hellaswag", DATA_DIR)
    assert "ctx_a/ctx_b" in local.caveat and "capitalize" in local.caveat
    row = local.configs["default"]["validation"][0]
    assert row["activity_label"] == "Roof shingle removal" and row["ctx_b"] == ""
    assert "ctx_a/ctx_b" in (REPO / "README.md").read_text(encoding="utf-8")


def test_math_runs_lm_evals_minerva_math_when_its_dependencies_are_there():
    tasks.check_dependencies(tasks.SPECS["math"])  # antlr4 4.11 pinned in pyproject
    local = data.convert("math", DATA_DIR)
    assert sorted(local.configs) == sorted(data.MATH_CONFIGS.values())
    assert sum(len(v) for v in local.ids.values()) == 5000


def test_math_without_its_dependencies_is_one_clear_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "lm_eval.tasks.minerva_math.utils", None)  # import now raises ImportError
    with pytest.raises(tasks.StockTaskError, match="antlr4-python3-runtime==4.11"):
        tasks.check_dependencies(tasks.SPECS["math"])
    from workbench.cli import main

    code = main(["eval", "--model", "tiny-random-llama", "--benchmarks", "math", "--limit", "1", "--style", "lm-eval",
                 "--data-dir", str(DATA_DIR), "--out", str(tmp_path / "o"), "--no-index"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "minerva_math" in err and "Traceback" not in err and len(err.splitlines()) == 1, err
