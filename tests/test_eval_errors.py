"""Missing or malformed data / predictions -> one clear error naming benchmark, file, format."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys

import pytest
from _eval_common import DATA_DIR, MY_BENCHMARKS, offline_env

from evaluations import registry
from evaluations.base import BenchmarkDataError


@pytest.mark.parametrize("name", MY_BENCHMARKS)
def test_missing_data_names_benchmark_file_and_format(name, tmp_path):
    bench = registry.get(name)
    with pytest.raises(BenchmarkDataError) as err:
        bench.docs(tmp_path)
    message = str(err.value)
    assert message.startswith(f"{name}: missing data file {tmp_path / bench.data_subdir}")
    assert "expected" in message and bench.expected_files.split(" ")[0] in message


def _copy(name: str, tmp_path):
    shutil.copytree(DATA_DIR / registry.get(name).data_subdir, tmp_path / registry.get(name).data_subdir)
    return tmp_path / registry.get(name).data_subdir


def test_malformed_jsonl_line_names_file_and_line(tmp_path):
    folder = _copy("gsm8k", tmp_path)
    path = folder / "test.jsonl"
    path.chmod(0o644)
    lines = path.read_text().splitlines()
    lines[6] = '{"question": "unterminated'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BenchmarkDataError, match=rf"gsm8k: {path}:7: invalid JSON"):
        registry.get("gsm8k").docs(tmp_path)


def test_missing_field_and_bad_gold(tmp_path):
    folder = tmp_path / "arc_challenge"
    folder.mkdir()
    (folder / "ARC-Challenge-Test.jsonl").write_text(json.dumps({"id": "x", "question": {"stem": "q"}}) + "\n")
    with pytest.raises(BenchmarkDataError, match=r"arc: .*:1: missing field\(s\) \['answerKey'\]"):
        registry.get("arc").docs(tmp_path)
    (tmp_path / "drop").mkdir()
    with gzip.open(tmp_path / "drop" / "drop_v0_dev.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"context": "c", "completion": "a"}) + "\n")
    with pytest.raises(BenchmarkDataError, match=r"drop: .*:1: missing field\(s\) \['ref_text'\]"):
        registry.get("drop").docs(tmp_path)


def test_truncated_compressed_file(tmp_path):
    folder = tmp_path / "hellaswag"
    folder.mkdir()
    data = (DATA_DIR / "hellaswag" / "hellaswag_val_full.txt.bz2").read_bytes()
    (folder / "hellaswag_val_full.txt.bz2").write_bytes(data[: len(data) // 2])
    with pytest.raises(BenchmarkDataError, match="hellaswag: cannot read"):
        registry.get("hellaswag").docs(tmp_path)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench.cli", "eval", *args], capture_output=True, text=True,
                          env=offline_env(), timeout=300)


def test_cli_missing_data_is_one_line_exit_2(tmp_path):
    proc = run_cli("--model", "tiny-random-llama", "--benchmarks", "theoremqa", "--data-dir", str(tmp_path),
                   "--out", str(tmp_path / "out"), "--no-index")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "theoremqa: missing data file" in proc.stderr and "theoremqa_test.json" in proc.stderr


@pytest.mark.parametrize(
    "line, expected",
    [
        ("not json", "invalid JSON"),
        ('["gsm8k", "0", "x"]', "expected a JSON object, got list"),
        ('{"benchmark": "gsm8k", "doc_id": "0"}', "missing key(s) output"),
        ('{"benchmark": "nope", "doc_id": "0", "output": "x"}', "unknown benchmark 'nope'"),
        ('{"benchmark": "gsm8k", "doc_id": "999999", "output": "x"}', "gsm8k has no doc_id '999999'"),
    ],
)
def test_cli_bad_prediction_line_names_file_and_line(tmp_path, capsys, line, expected):
    pred = tmp_path / "p.jsonl"
    good = json.dumps({"benchmark": "gsm8k", "doc_id": "0", "output": "\\boxed{18}"})
    pred.write_text(good + "\n" + line + "\n")
    code = main_eval("--predictions", str(pred), "--data-dir", str(DATA_DIR), "--out", str(tmp_path / "o"),
                     "--no-index")
    err = capsys.readouterr().err
    assert code == 2
    assert f"{pred}:2:" in err and expected in err, err


def main_eval(*args: str) -> int:
    """The CLI in-process (same code path as the console script, no interpreter start-up)."""
    from workbench.cli import main

    return main(["eval", *args])


def test_unknown_benchmark_and_resume_with_other_settings(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown benchmark 'bogus'"):
        registry.resolve("gsm8k,bogus")
    pred = tmp_path / "p.jsonl"
    pred.write_text(json.dumps({"benchmark": "gsm8k", "doc_id": "0", "output": "\\boxed{18}"}) + "\n")
    assert main_eval("--predictions", str(pred), "--data-dir", str(DATA_DIR), "--out", str(tmp_path / "o"),
                     "--no-index") == 0
    code = main_eval("--predictions", str(pred), "--data-dir", str(DATA_DIR), "--out", str(tmp_path / "o"),
                     "--no-index", "--style", "lm-eval")
    err = capsys.readouterr().err
    # lm-eval style scores GSM8K predictions with lm-eval's stock task: another kind and prompt style
    assert code == 2 and "different setting (kind, prompt_style)" in err


def test_eval_queue_skips_a_line_being_written_but_not_damage(tmp_path):
    from evaluations.runner import ready_checkpoints
    from fusion.checkpoints import write_complete_marker

    run = tmp_path / "run"
    for step in (2, 4):
        (run / "checkpoints" / f"step-{step}").mkdir(parents=True)
    write_complete_marker(run / "checkpoints" / "step-2", 2)  # step-4 is incomplete: never listed
    queue = run / "eval_queue.jsonl"
    good = json.dumps({"checkpoint": "checkpoints/step-2", "step": 2})
    queue.write_text(good + "\n" + '{"checkpoint": "checkp')  # the trainer is mid-append
    assert ready_checkpoints(run) == [(run / "checkpoints" / "step-2").resolve()]
    queue.write_text(good + "\n" + '{"step": 4}\n' + good + "\n")
    with pytest.raises(ValueError, match=rf"{queue}:2: expected"):
        ready_checkpoints(run)
    queue.write_text('{"checkp\n' + good + "\n")
    with pytest.raises(ValueError, match=rf"{queue}:1: invalid JSON"):
        ready_checkpoints(run)


def test_mbpp_fewshot_file_errors_name_file_and_line(tmp_path):
    from evaluations.benchmarks.mbpp import FEWSHOT_TASK_IDS, fewshot_prefix

    path = tmp_path / "mbpp.jsonl"
    path.write_text(json.dumps({"task_id": 1, "text": "t", "code": "c", "test_list": []}) + "\n{oops\n")
    with pytest.raises(BenchmarkDataError, match=rf"mbpp: {path}:2: invalid JSON"):
        fewshot_prefix(path)
    path = tmp_path / "mbpp2.jsonl"
    path.write_text(json.dumps({"task_id": FEWSHOT_TASK_IDS[0], "text": "t"}) + "\n")  # no code
    with pytest.raises(BenchmarkDataError, match=rf"mbpp: {path}:1: malformed MBPP record \(KeyError"):
        fewshot_prefix(path)


def test_deterministic_flag_is_recorded_and_changes_no_cpu_output(tmp_path):
    common = ("--model", "tiny-random-llama", "--benchmarks", "arc", "--data-dir", str(DATA_DIR),
              "--limit", "2", "--max-gen-toks", "6", "--no-index")
    outs = {}
    for name, extra in (("plain", ()), ("det", ("--deterministic",))):
        proc = run_cli(*common, "--out", str(tmp_path / name), *extra)
        assert proc.returncode == 0, proc.stderr
        folder = tmp_path / name / "tiny-random-llama" / "arc"
        config = json.loads((folder / "results.json").read_text())["config"]
        assert config["deterministic"] is bool(extra)
        outs[name] = [json.loads(line)["output"] for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert outs["plain"] == outs["det"] and len(outs["det"]) == 2
