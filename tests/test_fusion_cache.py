"""Teacher cache: round trip against an independent forward pass, resume, verification on
read, and a shuffled loader that still pairs every example with its own entry.

Uses the tiny-random Gemma-3 source (real Gemma-3 tokenizer, 262k vocab).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from fusion.data import Example, tokenize_example
from fusion.demo_data import demo_examples
from fusion.teacher_cache import TeacherCache, build_cache, cache_meta, response_hash

K = 6
MAXP, MAXR = 40, 24


@pytest.fixture(scope="module")
def source():
    from fusion.models import load_model_and_tokenizer

    return load_model_and_tokenizer("tiny-random-gemma3")


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    raw = demo_examples(6, seed=11)
    return [Example(r["id"], r.get("prompt", r.get("messages")), r["response"]) for r in raw]


def _new_cache(path: Path, model) -> TeacherCache:
    vocab = int(model.get_output_embeddings().weight.shape[0])
    return TeacherCache(path, cache_meta("tiny-random-gemma3", None, K, vocab, MAXP, MAXR))


def _build(cache, model, tok, examples, batch_size=4, shard_size=3) -> int:
    return build_cache(cache, model, tok, examples, template=None, batch_size=batch_size, shard_size=shard_size,
                       max_prompt_tokens=MAXP, max_response_tokens=MAXR)


@torch.no_grad()
def _oracle(model, tok, ex: Example) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One example alone, no padding, full logits: log-softmax then top-k."""
    t = tokenize_example(tok, ex, max_prompt_tokens=MAXP, max_response_tokens=MAXR)
    logits = model(input_ids=torch.tensor([t.input_ids])).logits[0].double()
    z = logits[t.distill_positions()]
    logp = torch.log_softmax(z, -1)
    top, idx = torch.topk(logp, K, -1)
    return top, idx, torch.logsumexp(z, -1)


@pytest.fixture(scope="module")
def oracle(source, examples) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    model, tok = source
    return {ex.id: _oracle(model, tok, ex) for ex in examples}


@pytest.fixture(scope="module")
def built(tmp_path_factory, source, examples):
    model, tok = source
    path = tmp_path_factory.mktemp("cache") / "gemma"
    cache = _new_cache(path, model)
    first = _build(cache, model, tok, examples[:3])
    second = _build(_new_cache(path, model), model, tok, examples)  # resumes: only the rest
    return path, first, second


def test_round_trip_matches_independent_forward(built, source, examples, oracle) -> None:
    model, tok = source
    path, _, _ = built
    cache = TeacherCache(path)
    for ex in examples:
        entry = cache.get(ex.id, response=ex.response)
        top, idx, lse = oracle[ex.id]
        assert entry.logprobs.dtype == torch.float16 and entry.indices.dtype == torch.int32
        # fp16 storage: log-probs near -12 (262k vocab) are exact to ~4e-3.
        torch.testing.assert_close(entry.logprobs.double(), top, atol=8e-3, rtol=1e-3)
        torch.testing.assert_close(entry.lse.double(), lse, atol=1e-4, rtol=1e-5)
        # Indices agree except where two log-probs tie within float32 noise.
        agree = (entry.indices.long() == idx).float().mean().item()
        assert agree > 0.97
        offsets = entry.offsets.tolist()
        t = tokenize_example(tok, ex, max_prompt_tokens=MAXP, max_response_tokens=MAXR)
        assert [tuple(o) for o in offsets] == t.response_offsets


def test_resume_writes_only_missing_examples(built, source, examples) -> None:
    model, tok = source
    path, first, second = built
    assert (first, second) == (3, len(examples) - 3)
    assert _build(_new_cache(path, model), model, tok, examples) == 0
    index = json.loads((path / "index.json").read_text())
    assert sorted(index) == sorted(e.id for e in examples)
    assert all(len(v["key"]) == 32 for v in index.values())  # rendered prompt + response hash
    shards = json.loads((path / "shards.json").read_text())
    assert set(shards) == {v["shard"] for v in index.values()}
    report = TeacherCache(path).size_report()
    # Per token: k fp16 log-probs + k int32 ids + fp32 lse + 2 int32 offsets = 6k+12 bytes,
    # plus safetensors headers.
    assert 6 * K + 12 <= report["bytes_per_token"] < 6 * K + 12 + 200
    assert report["full_logits_fp16_bytes_per_token"] == 2 * 262144


def test_verification_on_read(built, tmp_path: Path, examples) -> None:
    path, _, _ = built
    cache = TeacherCache(path)
    ex = examples[0]
    with pytest.raises(ValueError, match="different response text"):
        cache.get(ex.id, response=ex.response + "!")
    with pytest.raises(KeyError):
        cache.get("no-such-id")
    # A corrupted index (wrong length) is caught by the shape check.
    bad = TeacherCache(path)
    bad.index = {k: dict(v) for k, v in bad.index.items()}
    bad.index[ex.id]["length"] += 1
    with pytest.raises(ValueError, match="shape"):
        bad.get(ex.id)
    # An index entry pointing at the wrong shard is caught by the id check.
    other = next(v["shard"] for k, v in bad.index.items() if v["shard"] != bad.index[ex.id]["shard"])
    bad.index[ex.id] = {**bad.index[ex.id], "shard": other, "length": bad.index[ex.id]["length"] - 1}
    with pytest.raises(ValueError, match="no tensors for id"):
        bad.get(ex.id)
    assert response_hash("a") != response_hash("b")


def test_reopening_with_other_settings_is_refused(built) -> None:
    path, _, _ = built
    with pytest.raises(ValueError, match="k: cached 6 vs wanted 8"):
        TeacherCache(path, cache_meta("tiny-random-gemma3", None, 8, 0, MAXP, MAXR))


def test_shuffled_loader_pairs_each_example_with_its_own_entry(built, source, examples, oracle) -> None:
    """Through FusionDataset + collator under a shuffling DataLoader, every row's source
    tensors equal the independent forward pass of *that row's* example."""
    from fusion.trainer import FusionCollator, FusionDataset

    model, tok = source
    path, _, _ = built
    pivot_tok = tok  # the pivot side only needs offsets here; the Gemma tokenizer serves
    tokenized = [tokenize_example(pivot_tok, e, max_prompt_tokens=MAXP, max_response_tokens=MAXR) for e in examples]
    ds = FusionDataset(examples, tokenized, {"gemma": TeacherCache(path)}, "offsets")
    loader = torch.utils.data.DataLoader(ds, batch_size=2, shuffle=True, collate_fn=FusionCollator(0),
                                         generator=torch.Generator().manual_seed(0))
    by_id = {e.id: e for e in examples}
    seen = []
    for batch in loader:
        t = batch["teachers"][0]
        for row, ex_id in enumerate(batch["ids"]):
            top, _, lse = oracle[ex_id]
            n = top.shape[0]
            torch.testing.assert_close(t["logprobs"][row, :n].double(), top, atol=8e-3, rtol=1e-3)
            torch.testing.assert_close(t["lse"][row, :n].double(), lse, atol=1e-4, rtol=1e-5)
            assert bool(t["mask"][row, :n].all()) and not bool(t["mask"][row, n:].any())
            # Same tokenizer on both sides: offset alignment is the identity.
            assert t["align_index"][row, :n, 0].tolist() == list(range(n))
            seen.append(ex_id)
    assert sorted(seen) == sorted(by_id) and seen != [e.id for e in examples]


def test_non_finite_logits_are_refused_before_anything_is_written(source, examples, tmp_path: Path) -> None:
    """A float16 forward that overflows (as Gemma-3's does) must raise naming the examples
    and the fix, and leave no shard and no index entry behind."""
    import copy

    model, tok = source
    broken = copy.deepcopy(model).to(torch.float16)
    with torch.no_grad():
        broken.model.norm.weight.fill_(6e4)  # final hidden states beyond fp16 range (max 65504)
    cache = _new_cache(tmp_path / "c", model)
    with pytest.raises(ValueError, match=r"float16 forward pass gave non-finite logits.*bfloat16 or float32"):
        build_cache(cache, broken, tok, examples, template=None, batch_size=3, shard_size=2,
                    max_prompt_tokens=MAXP, max_response_tokens=MAXR)
    assert len(cache) == 0 and not list((tmp_path / "c").glob("shard-*"))


def test_float16_is_refused_for_gemma3_sources(source) -> None:
    from fusion.run import refuse_unsafe_cache_dtype

    model, _ = source
    with pytest.raises(ValueError, match="cache.dtype: float16 is refused for source 'g'"):
        refuse_unsafe_cache_dtype("float16", model, "g")
    refuse_unsafe_cache_dtype("bfloat16", model, "g")
