"""One real-model smoke: the real Gemma-3-270M source is cached and the real
SmolLM2-135M-Instruct pivot takes a fusion gradient through every term."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from fusion.config import load_config

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_real_pivot_and_source_fusion_step(tmp_path: Path) -> None:
    from fusion.data import tokenize_example
    from fusion.models import load_model_and_tokenizer
    from fusion.run import ensure_teacher_caches, open_cache, prepare_data
    from fusion.trainer import FusionCollator, FusionDataset, fusion_terms

    cfg = load_config(REPO / "configs" / "smollm2-gemma3.yaml", {
        "data.path": str(tmp_path / "data.jsonl"), "data.demo": {"n": 2, "seed": 5},
        "data.max_prompt_tokens": 48, "data.max_response_tokens": 12, "cache.dir": str(tmp_path / "cache"),
    })
    examples = prepare_data(cfg)
    report = ensure_teacher_caches(cfg, examples)["gemma3"]
    assert report["examples"] == 2 and report["full_logits_fp16_bytes_per_token"] == 2 * 262144
    model, tok = load_model_and_tokenizer(cfg.pivot.model)
    tokenized = [tokenize_example(tok, e, max_prompt_tokens=48, max_response_tokens=12) for e in examples]
    ds = FusionDataset(examples, tokenized, {"gemma3": open_cache(cfg, cfg.sources[0])}, "offsets")
    batch = FusionCollator(tok.pad_token_id)([ds[0], ds[1]])
    # Different tokenizers, same response text: offset alignment pairs every pivot token.
    assert bool((batch["teachers"][0]["align_weight"].sum(-1)[batch["distill_mask"]] > 0).all())
    model.train()
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    terms = fusion_terms(logits, batch, cfg.loss, ["gemma3"], {"gemma3": 1.0})
    assert all(math.isfinite(float(v)) for v in terms.values())
    assert 0 < float(terms["wd/gemma3"]) < 2 and float(terms["gld/gemma3"]) >= 0
    # An instruct pivot already answers these prompts well: low CE on the response.
    assert float(terms["ce"]) < 5
    terms["loss"].backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
