"""``workbench experiment`` end to end on the tiny random models: every stage's outputs, the
report's tables equal to what ``workbench compare`` / ``attribute`` print for the same
folders, resume, and refusal of a changed config."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workbench.cli import main

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "benchmarks"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (DATA / "gsm8k" / "train.jsonl").is_file(),
                                                   reason="needs ../shared/benchmarks")]


def _config(tmp: Path, **changes) -> Path:
    raw = {
        "fusion_config": str(REPO / "configs" / "tiny.yaml"), "out": str(tmp / "exp"),
        "data": {"sets": ["gsm8k", "arc"], "max_per_set": 10, "heldout": 3, "seed": 0,
                 "max_prompt_tokens": 64, "max_response_tokens": 24},
        "training": {"max_steps": 2, "per_device_batch_size": 2, "save_steps": 1},
        "eval": {"benchmarks": ["gsm8k", "arc"], "limit": 4, "batch_size": 4, "max_gen_toks": 6},
        "diagnostics": {"examples": 2, "restarts": 0},
    }
    raw.update(changes)
    path = tmp / "experiment.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("experiment")
    config = _config(tmp)
    assert main(["experiment", "--config", str(config), "--data-dir", str(DATA)]) == 0
    return tmp, config


def test_every_stage_wrote_its_outputs(experiment):
    tmp, _ = experiment
    out = tmp / "exp"
    train = [json.loads(line) for line in (out / "data" / "train.jsonl").read_text().splitlines()]
    heldout = [json.loads(line) for line in (out / "data" / "heldout.jsonl").read_text().splitlines()]
    assert len(train) == 17 and len(heldout) == 3 and not {r["id"] for r in train} & {r["id"] for r in heldout}
    for arm in ("sft-s0", "sft-wd-s0", "sft-wd-gld-s0"):
        assert (out / "runs" / arm / "checkpoints" / "step-2" / "config.json").is_file()
        for bench in ("gsm8k", "arc"):
            assert len((out / "evals" / f"{arm}@step-2" / bench / "samples.jsonl").read_text().splitlines()) == 4
    for baseline in ("pivot", "source-gemma"):
        assert (out / "evals" / baseline / "gsm8k" / "samples.jsonl").is_file()
    traj = pd.read_csv(out / "tables" / "trajectory.csv")
    assert set(traj["arm"]) == {"SFT", "SFT+WD", "SFT+WD+GLD"}
    assert set(traj["step"]) == {0, 1, 2}
    assert (traj["gw_exact_low"] <= traj["gw_exact"] + 1e-12).all()
    assert (traj["gw_exact"] <= traj["gw_exact_high"] + 1e-12).all()
    assert (out / "figures" / "trajectory.png").stat().st_size > 1000
    report = (out / "report.md").read_text()
    assert "## Conclusion" in report
    assert "inconclusive" in report or "reproduced" in report or "contradicted" in report
    # the SFT arm trains on CE alone: its logged WD / GLD terms are zero-weighted, not absent from the run
    metrics = [json.loads(line) for line in (out / "runs" / "sft-s0" / "metrics.jsonl").read_text().splitlines()]
    assert any("loss" in m for m in metrics)


def test_report_tables_equal_the_cli(experiment, tmp_path, capsys):
    tmp, _ = experiment
    out = tmp / "exp"
    deltas = pd.read_csv(out / "tables" / "deltas.csv")
    report = tmp_path / "compare.json"
    assert main(["compare", str(out / "evals" / "sft-s0@step-2"), str(out / "evals" / "sft-wd-gld-s0@step-2"),
                 "--subtasks", "--json", str(report)]) == 0
    for row in json.loads(report.read_text())["benchmarks"]:
        got = deltas[(deltas["arm"] == "SFT+WD+GLD") & (deltas["benchmark"] == row["benchmark"])].iloc[0]
        for key in ("n", "mean_a", "mean_b", "diff", "ci_low", "ci_high", "p_value"):
            assert got[key] == pytest.approx(row[key]), key
    attribution = pd.read_csv(out / "tables" / "attribution.csv")
    report = tmp_path / "attr.json"
    assert main(["attribute", str(out / "evals" / "sft-wd-s0@step-2"), "--pivot", str(out / "evals" / "pivot"),
                 "--sources", f"gemma={out / 'evals' / 'source-gemma'}", "--bootstrap", "2000",
                 "--json", str(report)]) == 0
    for row in json.loads(report.read_text())["rows"]:
        got = attribution[(attribution["arm"] == "SFT+WD") & (attribution["benchmark"] == row["benchmark"])].iloc[0]
        for key in ("n", "transferred", "forgotten", "net_gain", "p_value"):
            assert got[key] == pytest.approx(row[key], nan_ok=True), key


def test_rerun_resumes_and_changed_config_is_refused(experiment, capsys):
    tmp, config = experiment
    out = tmp / "exp"
    before = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("model.safetensors")}
    assert main(["experiment", "--config", str(config), "--data-dir", str(DATA), "--stages", "train,report"]) == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("model.safetensors")} == before
    changed = _config(tmp, seeds=[0, 1])
    capsys.readouterr()
    assert main(["experiment", "--config", str(changed), "--data-dir", str(DATA)]) == 2
    err = capsys.readouterr().err
    assert "another config" in err and "seeds" in err
    # evaluation settings may change: accepted and recorded, nothing retrained
    relimited = _config(tmp, eval={"benchmarks": ["gsm8k", "arc"], "limit": 3, "batch_size": 4, "max_gen_toks": 6})
    assert main(["experiment", "--config", str(relimited), "--data-dir", str(DATA), "--stages", "report"]) == 0
    assert json.loads((out / "experiment.json").read_text())["config"]["limit"] == {"gsm8k": 3, "arc": 3}
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("model.safetensors")} == before


@pytest.mark.parametrize("change, message", [
    ({"arms": {"SFT+WD": {"lambda": 0.5, "alpha": 1.0, "beta": 0.0}}}, "includes 'SFT'"),
    ({"arms": {"SFT": {"lambda": float("inf")}}}, "finite number"),
    ({"data": {"sets": ["squad"]}}, "data.sets"),
    ({"eval": {"benchmarks": ["gsm8k"], "limit": {"arc": 3}}}, "not among eval.benchmarks"),
    ({"diagnostics": {"examples": 50}}, "diagnostics.examples"),
    ({"eval": {"benchmarks": ["gsm8k"], "style": {"arc": "lm-eval"}}}, "eval.style: ['arc'] not among"),
    ({"eval": {"benchmarks": ["gsm8k"], "style": "opencompass"}}, "unknown style"),
    ({"colour": "blue"}, "unknown key"),
])
def test_bad_configs_are_one_line_errors(tmp_path, capsys, change, message):
    config = _config(tmp_path, **change)
    assert main(["experiment", "--config", str(config), "--data-dir", str(DATA)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(config) in err and len(err.strip().splitlines()) == 1


def test_duplicate_key_is_refused(tmp_path, capsys):
    path = tmp_path / "dup.yaml"
    path.write_text(f"fusion_config: {REPO / 'configs' / 'tiny.yaml'}\nseeds: [0]\nseeds: [1]\n")
    assert main(["experiment", "--config", str(path)]) == 2
    assert "given twice" in capsys.readouterr().err


def test_export_holds_the_small_outputs_without_benchmark_text(experiment, tmp_path):
    from evaluations.results import read_samples
    from workbench.experiment_export import export_outputs

    tmp, _ = experiment
    dest = tmp_path / "export"
    files = export_outputs(tmp / "exp", dest)
    assert (dest / "report.md").read_text() == (tmp / "exp" / "report.md").read_text()
    assert (dest / "tables" / "deltas.csv").is_file() and (dest / "runs" / "sft-s0" / "metrics.jsonl").is_file()
    samples = read_samples(dest / "evals" / "sft-s0@step-2" / "gsm8k" / "samples.jsonl")
    original = read_samples(tmp / "exp" / "evals" / "sft-s0@step-2" / "gsm8k" / "samples.jsonl")
    assert [s.score for s in samples] == [s.score for s in original] and all(s.prompt == "" for s in samples)
    assert not any("checkpoints" in f.parts or "cache" in f.parts or f.name == "train.jsonl" for f in files)


def test_jobs_give_the_outputs_of_one_after_another(experiment, tmp_path):
    """--jobs 3 (arms, evaluations, diagnostics as concurrent processes) writes what the
    serial run wrote: the same items with the same outputs and scores, the same trajectory."""
    tmp, _ = experiment
    config = _config(tmp_path)  # the fixture's settings (an earlier test rewrites its file)
    serial, parallel = tmp / "exp", tmp_path / "par"
    assert main(["experiment", "--config", str(config), "--out", str(parallel), "--data-dir", str(DATA),
                 "--jobs", "3"]) == 0
    labels = sorted(p.name for p in (serial / "evals").iterdir() if p.is_dir())
    assert labels == sorted(p.name for p in (parallel / "evals").iterdir() if p.is_dir()) and len(labels) == 5
    for label in labels:
        for bench in ("gsm8k", "arc"):
            rows = [{d["doc_id"]: (d["output"], d["score"]) for d in map(json.loads, (
                root / "evals" / label / bench / "samples.jsonl").read_text().splitlines())}
                    for root in (serial, parallel)]
            assert rows[0] == rows[1], (label, bench)
    a, b = (pd.read_csv(root / "tables" / "trajectory.csv") for root in (serial, parallel))
    pd.testing.assert_frame_equal(a, b, rtol=1e-4)
    units = json.loads((parallel / "logs" / "units.json").read_text())
    assert {u["unit"] for u in units} >= {"train sft-s0", "eval pivot", "diagnose sft-wd-gld-s0"}
    timings = json.loads((parallel / "timings.json").read_text())
    assert "cache sft-s0" in timings and "train sft-wd-gld-s0" in timings


def test_report_from_a_folder_without_checkpoints(experiment, tmp_path):
    """A folder brought back from a GPU machine holds evaluations and diagnostics but no
    checkpoints: its report has the same tables."""
    tmp, _ = experiment
    config = _config(tmp_path)
    copy = tmp_path / "back"
    shutil.copytree(tmp / "exp", copy, ignore=shutil.ignore_patterns("checkpoints", "cache"))
    for name in ("scores.csv", "deltas.csv", "attribution.csv", "trajectory.csv"):
        (copy / "tables" / name).unlink()
    assert main(["experiment", "--config", str(config), "--out", str(copy), "--stages", "report",
                 "--data-dir", str(DATA)]) == 0
    for name in ("scores.csv", "deltas.csv", "attribution.csv", "trajectory.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp / "exp" / "tables" / name), pd.read_csv(copy / "tables" / name))
    assert "## Not finished" not in (copy / "report.md").read_text()
    # An unfinished evaluation (no results.json) is named, and pairs only what was scored.
    (copy / "evals" / "sft-wd-gld-s0@step-2" / "arc" / "results.json").unlink()
    assert main(["experiment", "--config", str(config), "--out", str(copy), "--stages", "report",
                 "--data-dir", str(DATA)]) == 0
    report = (copy / "report.md").read_text()
    assert "evaluation of `sft-wd-gld-s0@step-2` unfinished (items scored so far): arc 4" in report
