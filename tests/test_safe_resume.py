"""Safe resume on a real tiny run: a changed config is refused
with the diff and accepted only with --allow-config-change (history kept); a torn
metrics.jsonl tail does not block resume; a checkpoint cut short is never listed; a
changed prompt makes the teacher cache recompute exactly that example."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from _bad_inputs import build_base, run_cli, tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return build_base(tmp_path_factory.mktemp("base"))


def _steps(run: Path) -> list[int]:
    return [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]


def test_changed_config_refused_then_accepted_with_history(base: Path, tmp_path: Path) -> None:
    config = tiny_config(tmp_path, base, training={"learning_rate": 0.01, "max_steps": 6})
    before = (tmp_path / "run" / "config.yaml").read_bytes()
    code, err = run_cli(["fuse", "--config", str(config)])
    assert code == 2 and "training.learning_rate: 0.001 -> 0.01" in err
    assert (tmp_path / "run" / "config.yaml").read_bytes() == before  # nothing changed on disk
    assert not (tmp_path / "run" / "checkpoints" / "step-6").exists()
    code, err = run_cli(["fuse", "--config", str(config), "--allow-config-change"])
    assert code == 0, err[-2000:]
    history = [json.loads(x) for x in (tmp_path / "run" / "config_history.jsonl").read_text().splitlines()]
    assert [h["resumed_from_step"] for h in history] == [None, 4]
    assert history[1]["changes"] == ["training.learning_rate: 0.001 -> 0.01"]
    assert history[0]["config"]["training"]["learning_rate"] == 0.001
    assert "learning_rate: 0.01" in (tmp_path / "run" / "config.yaml").read_text()
    assert _steps(tmp_path / "run") == list(range(1, 7))


def test_torn_metrics_tail_and_half_written_checkpoint(base: Path, tmp_path: Path) -> None:
    from evaluations.runner import ready_checkpoints
    from workbench.app.readers import checkpoint_table

    config = tiny_config(tmp_path, base, training={"max_steps": 6})
    run = tmp_path / "run"
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 5, "loss": 1.2, "ce": 0.')  # killed mid-write
    # A kill mid-save: the Trainer's temp folder, and a step folder without its marker.
    shutil.copytree(run / "checkpoints" / "step-4", run / "checkpoints" / "checkpoint-6")
    shutil.copytree(run / "checkpoints" / "step-4", run / "checkpoints" / "step-8")
    (run / "checkpoints" / "step-8" / "checkpoint_complete.json").unlink()
    assert [p.name for p in ready_checkpoints(run)] == ["step-2", "step-4"]
    table = checkpoint_table(run)
    assert dict(zip(table["checkpoint"], table["complete"])) == {"step-2": True, "step-4": True, "step-8": False}
    code, err = run_cli(["fuse", "--config", str(config)])
    assert code == 0, err[-2000:]
    assert "resuming from" in err and "step-4" in err
    assert _steps(run) == list(range(1, 7))
    assert not (run / "checkpoints" / "checkpoint-6").exists()


def test_changed_prompt_recomputes_that_example_only(base: Path, tmp_path: Path) -> None:
    from fusion.config import load_config
    from fusion.data import load_examples
    from fusion.run import open_cache, source_keys
    from fusion.trainer import FusionDataset

    config = tiny_config(tmp_path, base)
    index_path = tmp_path / "cache" / "gemma" / "index.json"
    old = json.loads(index_path.read_text())
    rows = [json.loads(x) for x in (tmp_path / "data.jsonl").read_text().splitlines()]
    field = "prompt" if "prompt" in rows[3] else "messages"
    if field == "prompt":
        rows[3]["prompt"] += " Please answer briefly."
    else:
        rows[3]["messages"][-1]["content"] += " Please answer briefly."
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = load_config(config)
    examples = load_examples(tmp_path / "data.jsonl")
    stale = open_cache(cfg, cfg.sources[0], source_keys(cfg.sources[0], examples))
    assert stale.missing([e.id for e in examples]) == [rows[3]["id"]]
    with pytest.raises(ValueError, match="lacks 1 example"):  # refused before any step
        FusionDataset(examples, [SimpleNamespace(id=e.id) for e in examples], {"gemma": stale})
    code, err = run_cli(["cache-teachers", "--config", str(config)])
    assert code == 0, err[-2000:]
    assert "caching 1 example(s)" in err
    new = json.loads(index_path.read_text())
    changed = {k for k in new if new[k]["key"] != old[k]["key"]}
    assert changed == {rows[3]["id"]}
