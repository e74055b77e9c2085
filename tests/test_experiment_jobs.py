"""``workbench experiment --jobs N``'s scheduler: the units and their order, and a failed
unit stopping only the units that need it (real processes; the units' commands are
replaced by small Python programs so the scheduling itself is what is tested)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from workbench import experiment_jobs as jobs
from workbench.experiment_config import load_experiment_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def cfg(tmp_path: Path):
    path = tmp_path / "experiment.yaml"
    path.write_text(f"fusion_config: {REPO / 'configs' / 'tiny.yaml'}\nout: {tmp_path / 'exp'}\nseeds: [0, 1]\n"
                    "eval: {benchmarks: [gsm8k]}\n")
    return load_experiment_config(path)


def test_units_and_dependencies(cfg):
    units = jobs.plan_units(cfg, ("train", "eval", "diagnose"))
    names = [u.name for u in units]
    arms = ["sft-s0", "sft-wd-s0", "sft-wd-gld-s0", "sft-s1", "sft-wd-s1", "sft-wd-gld-s1"]
    assert names[0] == "cache sft-s0" and units[0].after == ()
    assert names[1:7] == [f"train {a}" for a in arms]
    assert all(u.after == ("cache sft-s0",) for u in units[1:7])  # no training writes the cache
    assert names[7:9] == ["eval pivot", "eval source-gemma"]  # baselines need no training
    assert units[7].after == units[8].after == ()  # ... nor the cache: they run while it is built
    for unit in units[9:]:
        assert unit.stage in ("eval", "diagnose") and unit.after == (f"train {unit.label}",)
        assert names.index(f"train {unit.label}") < names.index(unit.name)  # a unit starts after what it needs
    assert len(units) == 1 + 6 + 2 + 2 * 6
    # Without training among the stages, nothing waits for it.
    assert all(u.after == () for u in jobs.plan_units(cfg, ("eval", "diagnose")))
    cmd = jobs.unit_command(cfg, Path("data"), units[1])
    assert cmd[:3] == [sys.executable, "-m", "workbench.cli"] and cmd[-4:] == ["--stages", "train", "--only", "sft-s0"]


def test_a_failed_unit_stops_only_its_dependents(cfg, monkeypatch):
    marks = cfg.out / "marks"
    marks.mkdir(parents=True)

    def command(_cfg, _data, unit):
        code = 3 if unit.name == "train sft-s0" else 0
        program = f"import pathlib, sys; pathlib.Path({str(marks)!r}, {unit.name!r}).touch(); sys.exit({code})"
        return [sys.executable, "-c", program]

    monkeypatch.setattr(jobs, "unit_command", command)
    units = [jobs.Unit("train", "sft-s0"), jobs.Unit("train", "sft-wd-s0"), jobs.Unit("eval", "pivot"),
             jobs.Unit("eval", "sft-s0", ("train sft-s0",)), jobs.Unit("eval", "sft-wd-s0", ("train sft-wd-s0",))]
    recorded = []
    with pytest.raises(jobs.UnitsFailed) as failed:
        jobs.run_units(cfg, Path("data"), units, 2, lambda name, _t: recorded.append(name), poll_seconds=0.05)
    ran = sorted(p.name for p in marks.iterdir())
    assert ran == ["eval pivot", "eval sft-wd-s0", "train sft-s0", "train sft-wd-s0"]  # never "eval sft-s0"
    assert sorted(recorded) == ["eval pivot", "eval sft-wd-s0", "train sft-wd-s0"]
    message = str(failed.value)
    assert "train sft-s0" in message and "eval sft-s0" in message and "train-sft-s0.log" in message
    assert (cfg.out / "logs" / "train-sft-s0.log").is_file()


def test_jobs_must_be_positive(cfg, tmp_path):
    from workbench.experiment import run_experiment

    with pytest.raises(ValueError, match="--jobs must be at least 1"):
        run_experiment(cfg, tmp_path, jobs=0)


def test_each_unit_gets_its_share_of_gpu_memory(cfg, monkeypatch):
    """Units sharing one GPU get 1/jobs of its memory each (an H200 ran out of memory with
    four uncapped processes holding mostly allocator cache); a set value is kept."""
    from workbench import gpu_share

    seen = cfg.out / "seen"
    seen.mkdir(parents=True)

    def command(_cfg, _data, unit):
        program = (f"import os, pathlib; pathlib.Path({str(seen)!r}, {unit.label!r})"
                   f".write_text(os.environ[{gpu_share.ENV!r}])")
        return [sys.executable, "-c", program]

    monkeypatch.setattr(jobs, "unit_command", command)
    monkeypatch.delenv(gpu_share.ENV, raising=False)
    jobs.run_units(cfg, Path("data"), [jobs.Unit("eval", "a"), jobs.Unit("eval", "b")], 4, lambda *_: None,
                   poll_seconds=0.05)
    assert {p.name: float(p.read_text()) for p in seen.iterdir()} == {"a": 0.25, "b": 0.25}
    monkeypatch.setenv(gpu_share.ENV, "0.5")
    jobs.run_units(cfg, Path("data"), [jobs.Unit("eval", "c")], 4, lambda *_: None, poll_seconds=0.05)
    assert float((seen / "c").read_text()) == 0.5


@pytest.mark.parametrize("raw, expected", [("", None), ("0.25", 0.25), ("1", 1.0)])
def test_memory_fraction_reads_the_variable(raw, expected):
    from workbench import gpu_share

    assert gpu_share.memory_fraction({gpu_share.ENV: raw}) == expected
    assert gpu_share.apply_memory_fraction({gpu_share.ENV: raw}) == expected  # no CUDA here: only parsed


@pytest.mark.parametrize("raw", ["0", "1.5", "-0.1", "half"])
def test_a_bad_memory_fraction_is_one_clear_error(raw, capsys, monkeypatch):
    from workbench import gpu_share
    from workbench.cli import main

    with pytest.raises(ValueError, match=gpu_share.ENV):
        gpu_share.memory_fraction({gpu_share.ENV: raw})
    monkeypatch.setenv(gpu_share.ENV, raw)
    assert main(["models", "list"]) == 2
    assert gpu_share.ENV in capsys.readouterr().err


def test_eval_style_per_benchmark_reaches_every_evaluation(tmp_path):
    """``eval.style`` names a style per benchmark (the rest stay ``paper``); each call of the
    evaluation gets its benchmark's style, and the recorded config says so."""
    from workbench.experiment import stage_eval

    path = tmp_path / "experiment.yaml"
    path.write_text(f"fusion_config: {REPO / 'configs' / 'tiny.yaml'}\nout: {tmp_path / 'exp'}\n"
                    "eval: {benchmarks: [gsm8k, arc, mmlu], style: {arc: lm-eval, mmlu: lm-eval}}\n")
    cfg = load_experiment_config(path)
    assert cfg.raw()["styles"] == {"arc": "lm-eval", "mmlu": "lm-eval"}
    calls = []
    stage_eval(cfg, tmp_path, evaluate=lambda spec, benches, *a, **kw: calls.append((spec, benches[0], kw["style"])),
               only=frozenset({"pivot"}))
    assert [(b, s) for _spec, b, s in calls] == [("gsm8k", "paper"), ("arc", "lm-eval"), ("mmlu", "lm-eval")]
    # One style for all, and "paper" named explicitly, are the same as the default.
    path.write_text(path.read_text().replace("style: {arc: lm-eval, mmlu: lm-eval}", "style: paper"))
    assert load_experiment_config(path).styles == {} and "styles" not in load_experiment_config(path).raw()


def test_export_drops_multiple_choice_options(tmp_path):
    """A loglikelihood sample's options and chosen option are benchmark text: the export
    keeps its scores, gold and loglikelihoods and drops the text; a generated output stays."""
    from workbench.experiment_export import export_outputs

    mc = {"benchmark": "arc", "doc_id": "a", "prompt": "Q?", "output": " the option text", "gold": 1, "score": 0.0,
          "extra": {"metrics": {"acc,none": 0.0}, "loglikelihoods": [-1.0, -2.0], "continuations": [" x", " y"]}}
    gen = {"benchmark": "gsm8k", "doc_id": "g", "prompt": "Q?", "output": "I think 4", "gold": "4", "score": 1.0,
           "extra": {}}
    for bench, row in (("arc", mc), ("gsm8k", gen)):
        folder = tmp_path / "exp" / "evals" / "pivot" / bench
        folder.mkdir(parents=True)
        (folder / "samples.jsonl").write_text(json.dumps(row) + "\n")
    export_outputs(tmp_path / "exp", tmp_path / "out")
    got_mc = json.loads((tmp_path / "out" / "evals" / "pivot" / "arc" / "samples.jsonl").read_text())
    got_gen = json.loads((tmp_path / "out" / "evals" / "pivot" / "gsm8k" / "samples.jsonl").read_text())
    assert got_mc["prompt"] == got_mc["output"] == "" and "continuations" not in got_mc["extra"]
    assert got_mc["extra"]["loglikelihoods"] == [-1.0, -2.0] and got_mc["score"] == 0.0 and got_mc["gold"] == 1
    assert got_gen["prompt"] == "" and got_gen["output"] == "I think 4"
