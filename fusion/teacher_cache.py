"""Teacher cache: each source's top-k predictions on the training data, computed once
(DESIGN §3).

Layout of one source's folder::

    meta.json                      model spec, template, k, vocab size, storage format
    index.json                     {example id: {"shard", "length", "response_sha1", "key"}}
    shards.json                    {shard name: {"sha256", "size"}} (checked on first read)
    shard-00000.safetensors ...    per id: "<id>/logprobs" (L, k) fp16,
                                   "<id>/indices" (L, k) int32, "<id>/lse" (L,) fp32,
                                   "<id>/offsets" (L, 2) int32

What is stored, and why: the top-k **log-probabilities** in fp16 plus the full-vocabulary
``logsumexp`` of the logits in fp32 per position. ``exp(logprob)`` gives the kept
probabilities (``value: prob``, and WD) with fp16's relative precision where it matters
most (the top log-probs are near 0), and ``logprob + lse`` gives the raw top-k logits
(``value: logit``; ``zscore`` needs only those). Storing fp16 *logits* instead would lose
~3% relative probability precision for logits around 30 (fp16 spacing 1/32 there).

Everything is keyed by example id, never by loader position, so a shuffled loader cannot
attach a teacher's predictions to the wrong example, and each entry records ``key``, a
hash of the source's *rendered* prompt and the response (:func:`content_key`): once the
current keys are given (:meth:`TeacherCache.expect`), an entry whose prompt, template or
response changed counts as missing (recomputed by ``cache-teachers``, refused by the
trainer) instead of silently lending old predictions to new text. Every shard's sha256
is recorded when it is written and checked before it is first read, so flipped or
truncated bytes are refused naming the shard; every read also checks the id and shapes.
Writing is resumable: shards are written to a temp file and renamed, then the checksums
and the index are rewritten atomically; ids already in the index are skipped next time.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor
from tqdm.auto import tqdm

from fusion.data import Example, TokenizedExample, tokenize_example
from fusion.integrity import sha256_file
from fusion.teacher_cache_keys import content_key as content_key
from fusion.teacher_cache_keys import example_keys, response_hash

CACHE_FORMAT = 2


@dataclass
class CacheEntry:
    """One example's cached source predictions at its response positions."""

    id: str
    logprobs: Tensor  # (L, k) float16
    indices: Tensor  # (L, k) int32
    lse: Tensor  # (L,) float32
    offsets: Tensor  # (L, 2) int32

    @property
    def length(self) -> int:
        """Number of response positions."""
        return int(self.logprobs.shape[0])


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: malformed teacher-cache {what} ({exc}); delete the cache folder "
                         f"{path.parent} to rebuild it") from None


class TeacherCache:
    """Reader/writer of one source's cache folder."""

    def __init__(self, directory: str | Path, meta: dict[str, Any] | None = None) -> None:
        """Open (``meta=None``: must exist) or create a cache folder.

        With ``meta`` given, an existing cache must have been built with the same model,
        template and k; otherwise a :class:`ValueError` says what differs.
        """
        self.dir = Path(directory)
        meta_path = self.dir / "meta.json"
        index_path = self.dir / "index.json"
        if meta_path.is_file():
            self.meta = _read_json(meta_path, "meta")
            if not isinstance(self.meta, dict) or not isinstance(self.meta.get("k"), int):
                raise ValueError(f"{meta_path}: malformed teacher-cache meta (expected an object with an integer k); "
                                 f"delete the cache folder {self.dir} to rebuild it")
        if meta_path.is_file() and meta is not None and not index_path.is_file() and "vocab_size" in meta:
            # Settings but no entry (a build that failed before its first shard): nothing to
            # keep, so the corrected settings replace them.
            self.meta = {**meta, "format": CACHE_FORMAT}
            _atomic_write_text(meta_path, json.dumps(self.meta, indent=2, sort_keys=True))
        elif meta_path.is_file():
            if meta is not None:
                wanted = {**meta, "format": CACHE_FORMAT}
                differs = {
                    key: (self.meta.get(key), wanted[key])
                    for key in ("model", "chat_template", "k", "format", "max_response_tokens", "max_prompt_tokens")
                    if key in wanted and self.meta.get(key) != wanted[key]
                }
                if differs:
                    detail = ", ".join(f"{k}: cached {a!r} vs wanted {b!r}" for k, (a, b) in differs.items())
                    raise ValueError(f"teacher cache {self.dir} was built differently ({detail}); "
                                     "delete it or choose another cache.dir")
        elif meta is None:
            raise FileNotFoundError(f"no teacher cache at {self.dir} (run `workbench cache-teachers`)")
        else:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.meta = {**meta, "format": CACHE_FORMAT}
            _atomic_write_text(meta_path, json.dumps(self.meta, indent=2, sort_keys=True))
        self.index: dict[str, dict[str, Any]] = _read_json(index_path, "index") if index_path.is_file() else {}
        if not isinstance(self.index, dict) or not all(
                isinstance(v, dict) and isinstance(v.get("shard"), str) and isinstance(v.get("length"), int)
                for v in self.index.values()):
            raise ValueError(f"{index_path}: malformed teacher-cache index (expected {{id: {{shard, length, ...}}}}); "
                             f"delete the cache folder {self.dir} to rebuild it")
        shards_path = self.dir / "shards.json"
        self.shards: dict[str, dict[str, Any]] = _read_json(shards_path, "checksums") if shards_path.is_file() else {}
        if not isinstance(self.shards, dict):
            raise ValueError(f"{shards_path}: malformed teacher-cache checksums (expected {{shard: {{sha256, size}}}})")
        self.expected: dict[str, str] | None = None
        self._handles: dict[str, Any] = {}

    @property
    def k(self) -> int:
        """Entries kept per position."""
        return int(self.meta["k"])

    def __contains__(self, example_id: str) -> bool:
        return example_id in self.index

    def __len__(self) -> int:
        return len(self.index)

    def expect(self, keys: dict[str, str]) -> None:
        """Give the current :func:`content_key` of each example: from now on an entry with
        another key counts as missing and :meth:`get` refuses it."""
        self.expected = dict(keys)

    def _stale(self, example_id: str) -> bool:
        return self.expected is not None and example_id in self.expected and \
            self.index[example_id].get("key") != self.expected[example_id]

    def missing(self, ids: list[str]) -> list[str]:
        """The ids not cached yet, or cached from another prompt or response (once
        :meth:`expect` was called), in the given order."""
        return [i for i in ids if i not in self.index or self._stale(i)]

    def write_shard(self, entries: list[CacheEntry], hashes: dict[str, str],
                    keys: dict[str, str] | None = None) -> Path:
        """Write one shard of entries, record its checksum, then add the entries to the
        index (each file atomically); ``keys`` are the entries' :func:`content_key`."""
        existing = {p.name for p in self.dir.glob("shard-*.safetensors")}
        number = len(existing)
        while f"shard-{number:05d}.safetensors" in existing:
            number += 1
        name = f"shard-{number:05d}.safetensors"
        tensors: dict[str, Tensor] = {}
        for e in entries:
            _check_entry(e, self.k, e.length, where=f"writing {e.id!r}")
            tensors[f"{e.id}/logprobs"] = e.logprobs.to(torch.float16).contiguous()
            tensors[f"{e.id}/indices"] = e.indices.to(torch.int32).contiguous()
            tensors[f"{e.id}/lse"] = e.lse.to(torch.float32).contiguous()
            tensors[f"{e.id}/offsets"] = e.offsets.to(torch.int32).contiguous()
        tmp = self.dir / f".{name}.tmp"
        save_file(tensors, str(tmp), metadata={"ids": json.dumps([e.id for e in entries])})
        os.replace(tmp, self.dir / name)
        self.shards[name] = {"sha256": sha256_file(self.dir / name), "size": (self.dir / name).stat().st_size}
        _atomic_write_text(self.dir / "shards.json", json.dumps(self.shards, sort_keys=True))
        for e in entries:
            self.index[e.id] = {"shard": name, "length": e.length, "response_sha1": hashes[e.id],
                                **({"key": keys[e.id]} if keys and e.id in keys else {})}
        _atomic_write_text(self.dir / "index.json", json.dumps(self.index, sort_keys=True))
        return self.dir / name

    def adopt(self, entries: dict[str, dict[str, Any]], shards: dict[str, dict[str, Any]]) -> None:
        """Add index ``entries`` whose shards (paths relative to this folder, e.g. a rank's
        sub-folder) are already written, with those shards' checksum records: checksums
        first, then the index (each file atomically), as :meth:`write_shard` does."""
        self.shards.update(shards)
        _atomic_write_text(self.dir / "shards.json", json.dumps(self.shards, sort_keys=True))
        self.index.update(entries)
        _atomic_write_text(self.dir / "index.json", json.dumps(self.index, sort_keys=True))

    def get(self, example_id: str, response: str | None = None) -> CacheEntry:
        """Read one entry, verifying id, shapes and (if given) the response text hash."""
        info = self.index.get(example_id)
        if info is None:
            raise KeyError(f"example {example_id!r} is not in the teacher cache {self.dir}")
        if response is not None and info.get("response_sha1") != response_hash(response):
            raise ValueError(f"teacher cache {self.dir}: entry {example_id!r} was computed from a different "
                             "response text (the data changed; run `workbench cache-teachers` to recompute it)")
        if self._stale(example_id):
            raise ValueError(f"teacher cache {self.dir}: entry {example_id!r} was computed from a different prompt "
                             "or response (run `workbench cache-teachers` to recompute it)")
        opened = self._handles.get(info["shard"])
        if opened is None:
            self.verify_shard(info["shard"])
            try:
                handle = safe_open(str(self.dir / info["shard"]), framework="pt")
            except Exception as exc:  # safetensors raises its own error type for a bad header
                raise ValueError(f"{self.dir / info['shard']}: unreadable teacher-cache shard ({exc})") from None
            opened = self._handles[info["shard"]] = (handle, set(handle.keys()))
        handle, keys = opened
        if f"{example_id}/logprobs" not in keys:
            raise ValueError(f"teacher cache {self.dir}/{info['shard']}: no tensors for id {example_id!r}")
        entry = CacheEntry(
            id=example_id,
            logprobs=handle.get_tensor(f"{example_id}/logprobs"),
            indices=handle.get_tensor(f"{example_id}/indices"),
            lse=handle.get_tensor(f"{example_id}/lse"),
            offsets=handle.get_tensor(f"{example_id}/offsets"),
        )
        _check_entry(entry, self.k, int(info["length"]), where=f"{self.dir}/{info['shard']}")
        return entry

    def verify_shard(self, name: str) -> None:
        """Check shard ``name`` against its recorded size and sha256 (``ValueError`` naming it)."""
        path = self.dir / name
        record = self.shards.get(name)
        if record is None:
            raise ValueError(f"{path}: no checksum recorded in {self.dir / 'shards.json'}; delete the cache "
                             f"folder {self.dir} to rebuild it")
        if not path.is_file():
            raise ValueError(f"{path}: teacher-cache shard missing (listed in {self.dir / 'index.json'})")
        if path.stat().st_size != record.get("size") or sha256_file(path) != record.get("sha256"):
            raise ValueError(f"{path}: teacher-cache shard corrupted (size or sha256 differs from "
                             f"{self.dir / 'shards.json'}); delete the cache folder {self.dir} to rebuild it")

    def verify_all(self) -> None:
        """:meth:`verify_shard` for every shard the index refers to (before training)."""
        for name in sorted({v["shard"] for v in self.index.values()}):
            self.verify_shard(name)

    def size_report(self) -> dict[str, float]:
        """Bytes on disk per cached response token vs storing the full fp16 logits."""
        tokens = sum(int(v["length"]) for v in self.index.values())
        shards = {v["shard"] for v in self.index.values()}
        size = sum((self.dir / s).stat().st_size for s in shards)
        vocab = int(self.meta.get("vocab_size", 0))
        per_token = size / tokens if tokens else 0.0
        full = 2.0 * vocab
        return {
            "examples": len(self.index),
            "tokens": tokens,
            "bytes": size,
            "bytes_per_token": per_token,
            "full_logits_fp16_bytes_per_token": full,
            "compression": full / per_token if per_token else 0.0,
        }


def _check_entry(e: CacheEntry, k: int, length: int, where: str) -> None:
    shapes = {
        "logprobs": (tuple(e.logprobs.shape), (length, k)),
        "indices": (tuple(e.indices.shape), (length, k)),
        "lse": (tuple(e.lse.shape), (length,)),
        "offsets": (tuple(e.offsets.shape), (length, 2)),
    }
    for name, (got, want) in shapes.items():
        if got != want:
            raise ValueError(f"{where}: entry {e.id!r} {name} has shape {got}, expected {want}")


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def cache_meta(model_spec: str, template: str | None, k: int, vocab_size: int,
               max_prompt_tokens: int, max_response_tokens: int) -> dict[str, Any]:
    """The settings a cache is built with (checked when it is reopened)."""
    return {
        "model": model_spec,
        "chat_template": template,
        "k": k,
        "vocab_size": vocab_size,
        "max_prompt_tokens": max_prompt_tokens,
        "max_response_tokens": max_response_tokens,
        "storage": "top-k log-probs fp16 + logsumexp fp32 + response char offsets int32",
    }


@torch.no_grad()
def topk_entries(model: Any, batch: list[TokenizedExample], k: int, pad_id: int) -> list[CacheEntry]:
    """Run ``model`` on a batch (right-padded) and keep the top-k log-probs at each
    example's response positions, plus the logsumexp of the logits."""
    device = next(model.parameters()).device
    longest = max(len(t.input_ids) for t in batch)
    ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), longest), dtype=torch.long)
    for b, t in enumerate(batch):
        ids[b, : len(t.input_ids)] = torch.as_tensor(t.input_ids)
        mask[b, : len(t.input_ids)] = 1
    first = min(t.prompt_len - 1 for t in batch)
    # Only the response part of the logits is needed: skip the prompt's (vocab-sized) rows.
    out = model(input_ids=ids.to(device), attention_mask=mask.to(device), logits_to_keep=longest - first)
    logits = out.logits.float()
    # A non-finite logsumexp means NaN/+inf logits (e.g. Gemma-3 overflows in float16):
    # refuse before anything is written, so no NaN reaches a shard and the loss.
    lse_all = torch.logsumexp(logits, dim=-1)
    if not bool(torch.isfinite(lse_all).all()):
        dtype = next(model.parameters()).dtype
        bad = [t.id for b, t in enumerate(batch) if not bool(torch.isfinite(lse_all[b]).all())]
        raise ValueError(f"the source's {str(dtype).replace('torch.', '')} forward pass gave non-finite logits "
                         f"(NaN or inf) for example(s) {', '.join(map(repr, bad[:3]))}; nothing was cached. "
                         "Use cache.dtype: bfloat16 or float32 (Gemma-3 overflows in float16)")
    entries = []
    for b, t in enumerate(batch):
        pos = torch.as_tensor(t.distill_positions(), device=logits.device) - first
        z = logits[b, pos]  # (L, V)
        lse = torch.logsumexp(z, dim=-1)
        top, idx = torch.topk(z, k, dim=-1)
        entries.append(CacheEntry(
            id=t.id,
            logprobs=(top - lse.unsqueeze(-1)).cpu(),
            indices=idx.to(torch.int32).cpu(),
            lse=lse.cpu(),
            offsets=torch.as_tensor(t.response_offsets, dtype=torch.int32).reshape(-1, 2),
        ))
    return entries


def build_cache(
    cache: TeacherCache,
    model: Any,
    tokenizer: Any,
    examples: list[Example],
    *,
    template: str | None,
    batch_size: int,
    shard_size: int,
    max_prompt_tokens: int,
    max_response_tokens: int,
    desc: str = "caching",
    stats: dict[str, float] | None = None,
) -> int:
    """Cache ``model``'s top-k on every example not yet in ``cache``; returns how many
    were written. Examples are batched by length; a shard is flushed every
    ``shard_size`` examples, so an interrupted run loses at most one shard's work.
    ``stats`` (if given) receives ``examples``, ``tokens`` (input tokens forwarded) and
    ``seconds`` (forward passes, top-k and shard writes; tokenisation excluded)."""
    keys = example_keys(tokenizer, examples, template)
    cache.expect(keys)
    todo_ids = set(cache.missing([e.id for e in examples]))
    todo = [e for e in examples if e.id in todo_ids]
    if not todo:
        return 0
    tokenized = [
        tokenize_example(tokenizer, e, template=template, max_prompt_tokens=max_prompt_tokens,
                         max_response_tokens=max_response_tokens)
        for e in todo
    ]
    hashes = {e.id: response_hash(e.response) for e in todo}
    order = sorted(range(len(tokenized)), key=lambda i: len(tokenized[i].input_ids))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model.eval()
    pending: list[CacheEntry] = []
    written = 0
    started = time.perf_counter()
    with tqdm(total=len(order), desc=desc, unit="ex") as bar:
        for start in range(0, len(order), batch_size):
            batch = [tokenized[i] for i in order[start : start + batch_size]]
            pending.extend(topk_entries(model, batch, cache.k, pad_id))
            bar.update(len(batch))
            if len(pending) >= shard_size:
                cache.write_shard(pending, hashes, keys)
                written += len(pending)
                pending = []
    if pending:
        cache.write_shard(pending, hashes, keys)
        written += len(pending)
    if stats is not None:
        stats.update(examples=written, tokens=sum(len(t.input_ids) for t in tokenized),
                     seconds=time.perf_counter() - started)
    return written
