"""Training data: JSONL examples and their per-model tokenisation (DESIGN §3).

One example per line: ``id`` (unique string), ``messages`` (a chat, list of
``{"role", "content"}``) or ``prompt`` (a string), and ``response`` (a string). Each model
renders the prompt with its *own* chat template; the response text is the shared
reference for alignment across tokenizers.

Tokenisation keeps response character offsets recoverable: the rendered prompt and the
response are tokenised separately and concatenated (``prompt ids + response ids + eos``),
so the offsets of the response tokens are relative to the response text itself,
whatever wrapping the template adds. Loss is taken only on response tokens (and the
closing eos); distillation uses the response-text tokens only (eos has no characters).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Prompt = str | list[dict[str, str]]


@dataclass(frozen=True)
class Example:
    """One training example: ``prompt`` is a string or a list of chat messages."""

    id: str
    prompt: Prompt
    response: str


@dataclass(frozen=True)
class TokenizedExample:
    """An example tokenised for one model.

    ``input_ids`` = prompt ids + response ids (+ eos); ``prompt_len`` counts the prompt
    ids; ``response_offsets[i]`` is the (start, end) character span, in the response text,
    of response token i (len = number of response-text tokens, eos excluded).
    """

    id: str
    input_ids: list[int]
    prompt_len: int
    response_offsets: list[tuple[int, int]]
    has_eos: bool

    @property
    def num_response_tokens(self) -> int:
        """Number of response-text tokens (the distillation positions)."""
        return len(self.response_offsets)

    def distill_positions(self) -> list[int]:
        """Sequence positions whose logits predict the response-text tokens
        (position t predicts token t + 1)."""
        return [self.prompt_len - 1 + i for i in range(self.num_response_tokens)]


class DataError(ValueError):
    """A training-data file is malformed; the message names ``file:line``."""


def load_examples(path: str | Path) -> list[Example]:
    """Read a JSONL training set, validating every line.

    Raises :class:`FileNotFoundError` for a missing file and :class:`DataError` naming
    ``file:line`` for invalid JSON, missing/ill-typed fields, both or neither of
    ``messages``/``prompt``, an empty response, or a duplicate ``id`` (with the line of
    its first occurrence). Blank lines are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training data not found: {path}")
    examples: list[Example] = []
    first_line: dict[str, int] = {}
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        import gzip
        import zlib

        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: not a readable gzip file ({exc})") from None
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        where = f"{path}:{lineno}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{where}: not UTF-8 text "
                            f"(byte 0x{raw[exc.start]:02x} at column {exc.start + 1})") from None
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
        example = _parse_example(obj, where)
        if example.id in first_line:
            raise DataError(
                f"{where}: duplicate id {example.id!r} (first seen at line {first_line[example.id]})"
            )
        first_line[example.id] = lineno
        examples.append(example)
    if not examples:
        raise DataError(f"{path}: no examples")
    return examples


def _parse_example(obj: Any, where: str) -> Example:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    unknown = set(obj) - {"id", "messages", "prompt", "response"}
    if unknown:
        raise DataError(f"{where}: unknown field(s) {sorted(unknown)}")
    ex_id = obj.get("id")
    if not isinstance(ex_id, str) or not ex_id:
        raise DataError(f"{where}: 'id' must be a non-empty string, got {ex_id!r}")
    response = obj.get("response")
    if not isinstance(response, str) or not response.strip():
        raise DataError(f"{where}: 'response' must be a non-empty string")
    has_messages, has_prompt = "messages" in obj, "prompt" in obj
    if has_messages == has_prompt:
        raise DataError(f"{where}: give exactly one of 'messages' or 'prompt'")
    if has_prompt:
        prompt = obj["prompt"]
        if not isinstance(prompt, str) or not prompt.strip():
            raise DataError(f"{where}: 'prompt' must be a non-empty string")
        return Example(id=ex_id, prompt=prompt, response=response)
    messages = obj["messages"]
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: 'messages' must be a non-empty list")
    for i, msg in enumerate(messages):
        if (
            not isinstance(msg, dict)
            or set(msg) != {"role", "content"}
            or msg["role"] not in ("system", "user", "assistant")
            or not isinstance(msg["content"], str)
        ):
            raise DataError(
                f"{where}: messages[{i}] must be {{'role': system|user|assistant, 'content': str}}"
            )
    if messages[-1]["role"] != "user":
        raise DataError(f"{where}: the last message must be from the user (the response answers it)")
    return Example(id=ex_id, prompt=[dict(m) for m in messages], response=response)


def write_examples(examples: list[Example] | list[dict[str, Any]], path: str | Path) -> None:
    """Write examples (``Example`` or plain dicts) as JSONL."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for ex in examples:
            if isinstance(ex, Example):
                key = "prompt" if isinstance(ex.prompt, str) else "messages"
                ex = {"id": ex.id, key: ex.prompt, "response": ex.response}
            fh.write(json.dumps(ex, ensure_ascii=False) + "\n")


def tokenize_example(
    tokenizer: Any,
    example: Example,
    *,
    template: str | None = None,
    max_prompt_tokens: int = 256,
    max_response_tokens: int = 256,
) -> TokenizedExample:
    """Tokenise ``example`` for one model with that model's own chat template.

    The prompt is rendered by ``fusion.models.render_prompt`` (generation prompt
    included) and tokenised without extra special tokens, except a BOS the tokenizer
    would add by default; long prompts keep their last ``max_prompt_tokens`` ids (the
    part next to the response). The response is tokenised on its own with
    ``return_offsets_mapping`` (fast tokenizers only) and cut to ``max_response_tokens``;
    eos closes it when it was not cut.
    """
    from fusion.models import render_prompt

    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("character-offset alignment needs a fast tokenizer (offset_mapping)")
    prompt_text = render_prompt(tokenizer, example.prompt, template=template, add_generation_prompt=True)
    prompt_ids = list(tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
    bos = tokenizer.bos_token_id
    default_special = list(tokenizer("", add_special_tokens=True)["input_ids"])
    if bos is not None and bos in default_special and (not prompt_ids or prompt_ids[0] != bos):
        prompt_ids = [bos] + prompt_ids
    if len(prompt_ids) > max_prompt_tokens:
        prompt_ids = prompt_ids[-max_prompt_tokens:]
    if not prompt_ids:
        raise ValueError(f"example {example.id!r}: the rendered prompt has no tokens")
    enc = tokenizer(example.response, add_special_tokens=False, return_offsets_mapping=True)
    response_ids = list(enc["input_ids"])[:max_response_tokens]
    offsets = [(int(s), int(e)) for s, e in enc["offset_mapping"]][:max_response_tokens]
    if not response_ids:
        raise ValueError(f"example {example.id!r}: the response has no tokens")
    has_eos = len(enc["input_ids"]) <= max_response_tokens and tokenizer.eos_token_id is not None
    input_ids = prompt_ids + response_ids + ([tokenizer.eos_token_id] if has_eos else [])
    return TokenizedExample(
        id=example.id,
        input_ids=input_ids,
        prompt_len=len(prompt_ids),
        response_offsets=offsets,
        has_eos=has_eos,
    )
