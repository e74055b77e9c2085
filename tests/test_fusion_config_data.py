"""Fusion config validation and training-data parsing: clear errors, round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fusion.config import ConfigError, load_config, save_config
from fusion.data import DataError, Example, load_examples, write_examples
from fusion.demo_data import demo_examples, write_demo_data

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["tiny.yaml", "smollm2-gemma3.yaml"])
def test_shipped_configs_load_and_round_trip(tmp_path: Path, name: str) -> None:
    cfg = load_config(REPO / "configs" / name)
    save_config(cfg, tmp_path / "again.yaml")
    assert load_config(tmp_path / "again.yaml") == cfg
    assert yaml.safe_load((tmp_path / "again.yaml").read_text())["loss"]["lambda"] == cfg.loss.lambda_


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    mutate(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("mutate,message", [
    (lambda r: r["loss"].__setitem__("lambda", 1.5), "loss.lambda: must be in [0, 1]"),
    (lambda r: r["training"].__setitem__("max_stepz", 3), "training.max_stepz: unknown key"),
    (lambda r: r["loss"]["gld"].__setitem__("value", "softmax"), "loss.gld.value: must be one of"),
    (lambda r: r.__setitem__("sources", []), "sources: at least one"),
    (lambda r: r["training"].__setitem__("max_steps", "ten"), "training.max_steps: expected an integer"),
    (lambda r: r["cache"].__setitem__("k", 4), "cache.k"),
    (lambda r: r.pop("pivot"), "missing required key(s): pivot"),
    (lambda r: r["sources"].append(dict(r["sources"][0])), "source names must be unique"),
])
def test_config_errors_name_file_and_key(tmp_path: Path, mutate, message: str) -> None:
    path = _write(tmp_path, mutate)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_config_overrides_and_missing_file(tmp_path: Path) -> None:
    cfg = load_config(REPO / "configs" / "tiny.yaml", {"training.max_steps": 3, "loss.lambda": 0.0})
    assert cfg.training.max_steps == 3 and cfg.loss.lambda_ == 0.0
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "nope.yaml")


def _lines(tmp_path: Path, *objs) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs))
    return path


GOOD = {"id": "a", "prompt": "Say hi.", "response": "Hi."}


@pytest.mark.parametrize("bad,message", [
    ("{not json", "invalid JSON"),
    ({"id": "b", "response": "x"}, "exactly one of 'messages' or 'prompt'"),
    ({"id": "b", "prompt": "p", "messages": [{"role": "user", "content": "c"}], "response": "x"},
     "exactly one of"),
    ({"id": "", "prompt": "p", "response": "x"}, "'id' must be a non-empty string"),
    ({"id": "b", "prompt": "p", "response": ""}, "'response' must be a non-empty string"),
    ({"id": "b", "messages": [{"role": "bot", "content": "c"}], "response": "x"}, "messages[0]"),
    ({"id": "b", "messages": [{"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}],
      "response": "x"}, "last message must be from the user"),
    ({"id": "a", "prompt": "again", "response": "x"}, "duplicate id 'a' (first seen at line 1)"),
    ({"id": "b", "prompt": "p", "response": "x", "extra": 1}, "unknown field"),
])
def test_bad_line_reports_file_and_line(tmp_path: Path, bad, message: str) -> None:
    path = _lines(tmp_path, GOOD, "", bad)
    with pytest.raises(DataError) as info:
        load_examples(path)
    assert f"{path}:3:" in str(info.value) and message in str(info.value)


def test_examples_round_trip(tmp_path: Path) -> None:
    examples = [Example("x1", "Prompt one", "Answer one"),
                Example("x2", [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}], "r")]
    write_examples(examples, tmp_path / "d.jsonl")
    assert load_examples(tmp_path / "d.jsonl") == examples


def test_demo_data_is_deterministic_and_valid(tmp_path: Path) -> None:
    a = write_demo_data(tmp_path / "a.jsonl", n=120, seed=7)
    b = write_demo_data(tmp_path / "b.jsonl", n=120, seed=7)
    assert a.read_bytes() == b.read_bytes()
    examples = load_examples(a)
    assert len(examples) == 120 and len({e.id for e in examples}) == 120
    assert any(isinstance(e.prompt, list) for e in examples) and any(isinstance(e.prompt, str) for e in examples)
    # Arithmetic answers are right (an independent check of the generator).
    for e in examples:
        if isinstance(e.prompt, str) and e.prompt.startswith("What is ") and " plus " in e.prompt:
            a_, b_ = e.prompt[len("What is "):-1].split(" plus ")
            assert e.response.endswith(f"The answer is {int(a_) + int(b_)}.")
    assert demo_examples(10, seed=1) != demo_examples(10, seed=2)


def test_tokenize_example_loss_only_on_response() -> None:
    """Each model renders its own template; response offsets index the response text."""
    from transformers import AutoTokenizer

    from fusion.data import tokenize_example
    from fusion.gguf_builtins import tokenizer_dir
    from fusion.models import render_prompt

    ex = Example("t", [{"role": "user", "content": "What is 2 plus 2?"}], "2 + 2 = 4. The answer is 4.")
    for name in ("smollm2-135m-instruct", "gemma3-270m"):
        tok = AutoTokenizer.from_pretrained(str(tokenizer_dir(name)))
        t = tokenize_example(tok, ex)
        prompt_ids = t.input_ids[: t.prompt_len]
        assert tok.decode(prompt_ids, skip_special_tokens=False).endswith(
            render_prompt(tok, ex.prompt).split("<bos>")[-1])
        resp_ids = t.input_ids[t.prompt_len : t.prompt_len + t.num_response_tokens]
        assert tok.decode(resp_ids) == ex.response
        assert "".join(ex.response[a:b] for a, b in t.response_offsets).replace(" ", "") == \
            ex.response.replace(" ", "")
        assert t.has_eos and t.input_ids[-1] == tok.eos_token_id
        assert t.distill_positions()[0] == t.prompt_len - 1


def test_fused_head_options_are_validated(tmp_path) -> None:
    import yaml as _yaml

    from fusion.config import ConfigError
    from fusion.config import load_config as _load

    base = _yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml").read_text())
    for value, ok in (("auto", True), (True, True), (False, True), ("yes", False), (1, False)):
        base["training"]["fused_head"] = value
        path = tmp_path / "c.yaml"
        path.write_text(_yaml.safe_dump(base))
        if ok:
            assert _load(path).training.fused_head == value
        else:
            with pytest.raises(ConfigError, match="training.fused_head"):
                _load(path)
    base["training"]["fused_head"] = "auto"
    base["training"]["fused_head_chunk"] = 0
    path.write_text(_yaml.safe_dump(base))
    with pytest.raises(ConfigError, match="training.fused_head_chunk: must be >= 1"):
        _load(path)
