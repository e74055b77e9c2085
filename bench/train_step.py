"""Step time of SFT-only vs SFT+WD vs SFT+WD+GLD, side by side, with cached teachers.

A random-init pivot of the requested shape (a real transformers architecture) trains on a
synthetic batch; the sources are synthetic cached top-k tensors (exactly what the teacher
cache holds) on the device, aligned to the pivot by the real character-offset alignment
of synthetic spans. The three objectives share the model, the optimizer and the loss code
of the trainer (``fusion.trainer.fusion_terms``); only λ, α, β change. Each timed step is
forward + loss + backward + AdamW step, synchronised on GPU.

Also writes a teacher cache of the synthetic entries and reports its bytes per token vs
storing the full fp16 logits.

CPU example (tiny)::

    python bench/train_step.py --device cpu --vocab 49152 --source-vocab 262144 \\
        --seq-len 256 --hidden 64 --layers 2 --heads 4 --steps 5

GPU example (realistic: vocab >= 150k, seq 2048, k = 10, 2 sources)::

    python bench/train_step.py --device cuda --vocab 151936 --source-vocab 262144 \\
        --seq-len 2048 --k 10 --sources 2 --hidden 1536 --layers 16 --heads 12 --precision bf16
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fusion.align import alignment_tensors, offset_alignment  # noqa: E402
from fusion.config import LossConfig  # noqa: E402
from fusion.teacher_cache import CacheEntry, TeacherCache, cache_meta  # noqa: E402
from fusion.trainer import fusion_terms  # noqa: E402

MODES = {
    "SFT": dict(lambda_=0.0, alpha=0.0, beta=0.0),
    "SFT+WD": dict(lambda_=0.5, alpha=1.0, beta=0.0),
    "SFT+WD+GLD": dict(lambda_=0.5, alpha=1.0, beta=1.0),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--vocab", type=int, default=49152, help="pivot vocabulary size")
    p.add_argument("--source-vocab", type=int, default=262144, help="source vocabulary size (token ids of the cache)")
    p.add_argument("--seq-len", type=int, default=256, help="tokens per sequence (prompt + response)")
    p.add_argument("--response-frac", type=float, default=0.75, help="fraction of the sequence that is response")
    p.add_argument("--source-ratio", type=float, default=0.9, help="source tokens per pivot token on the response")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--sources", type=int, default=2)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--family", default="llama", choices=["llama", "qwen2", "mistral"])
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=None)
    p.add_argument("--intermediate", type=int, default=None)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5, help="timed steps per mode (modes interleaved per round)")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--append-results", type=Path,
                   help="append a markdown block under '## Training' of this file (e.g. bench/RESULTS.md)")
    return p.parse_args(argv)


def build_model(args: argparse.Namespace) -> torch.nn.Module:
    """A random-init causal LM of the requested shape (weights never leave memory)."""
    import transformers as tf

    cls = {"llama": tf.LlamaConfig, "qwen2": tf.Qwen2Config, "mistral": tf.MistralConfig}[args.family]
    config = cls(vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                 num_attention_heads=args.heads, num_key_value_heads=args.kv_heads or args.heads,
                 intermediate_size=args.intermediate or 4 * args.hidden,
                 max_position_embeddings=max(4096, args.seq_len), tie_word_embeddings=False)
    torch.manual_seed(0)
    model = tf.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return model.to(args.device).train()


def synthetic_entry(length: int, k: int, vocab: int, gen: torch.Generator, example_id: str,
                    spans: list[tuple[int, int]]) -> CacheEntry:
    """A plausible cached source entry: sorted top-k log-probs, distinct token ids."""
    logits = torch.randn(length, k, generator=gen) * 2 + 4
    lse = torch.logsumexp(logits, -1) + torch.rand(length, generator=gen) * 3
    logprobs = torch.sort(logits - lse.unsqueeze(-1), -1, descending=True).values
    ids = torch.stack([torch.randperm(vocab, generator=gen)[:k] for _ in range(length)]) if vocab <= 4096 else \
        (torch.randint(0, vocab // k, (length, k), generator=gen) * k + torch.arange(k))
    return CacheEntry(example_id, logprobs.half(), ids.int(), lse.float(),
                      torch.tensor(spans, dtype=torch.int32).reshape(-1, 2))


def spans_of(n_tokens: int, n_chars: int, gen: torch.Generator) -> list[tuple[int, int]]:
    """Contiguous character spans of random widths covering ``n_chars`` characters."""
    cuts = torch.sort(torch.randperm(n_chars - 1, generator=gen)[: n_tokens - 1] + 1).values.tolist()
    bounds = [0] + cuts + [n_chars]
    return list(zip(bounds[:-1], bounds[1:]))


def build_batch(args: argparse.Namespace, cache_dir: Path) -> tuple[dict, dict]:
    """The synthetic batch on the device, and the cache size report of its entries."""
    gen = torch.Generator().manual_seed(0)
    bsz, seq = args.batch, args.seq_len
    resp = max(2, int(seq * args.response_frac))
    prompt = seq - resp - 1  # + eos
    src_len = max(2, int(resp * args.source_ratio))
    chars = 4 * resp
    input_ids = torch.randint(0, args.vocab, (bsz, seq), generator=gen)
    labels = torch.full((bsz, seq), -100)
    labels[:, prompt:] = input_ids[:, prompt:]
    pivot_spans = [spans_of(resp, chars, gen) for _ in range(bsz)]
    teachers, report = [], None
    for s in range(args.sources):
        entries = [synthetic_entry(src_len, args.k, args.source_vocab, gen, f"ex{b}", spans_of(src_len, chars, gen))
                   for b in range(bsz)]
        cache = TeacherCache(cache_dir / f"s{s}", cache_meta("synthetic", None, args.k, args.source_vocab, 0, 0))
        cache.write_shard(entries, {e.id: "-" for e in entries})
        report = cache.size_report()
        pairs = [offset_alignment(pivot_spans[b], entries[b].offsets.numpy()) for b in range(bsz)]
        ai, aw = alignment_tensors(pairs, resp)
        teachers.append({
            "logprobs": torch.stack([e.logprobs.float() for e in entries]),
            "indices": torch.stack([e.indices.long() for e in entries]),
            "lse": torch.stack([e.lse for e in entries]),
            "mask": torch.ones(bsz, src_len, dtype=torch.bool),
            "align_index": ai, "align_weight": aw,
        })
    batch = {
        "input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": labels,
        "distill_pos": torch.arange(prompt - 1, prompt - 1 + resp).repeat(bsz, 1),
        "distill_mask": torch.ones(bsz, resp, dtype=torch.bool), "teachers": teachers,
    }
    return _to(batch, args.device), report or {}


def _to(obj, device):
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to(v, device) for v in obj]
    return obj.to(device) if isinstance(obj, torch.Tensor) else obj


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def step(model, optimizer, batch, loss_cfg, names, args) -> tuple[float, dict]:
    """One optimisation step; returns its wall time and the loss terms."""
    _sync(args.device)
    t0 = time.perf_counter()
    with torch.autocast(device_type="cuda" if args.device.startswith("cuda") else "cpu",
                        dtype=torch.bfloat16, enabled=args.precision == "bf16"):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    terms = fusion_terms(logits, batch, loss_cfg, names, {n: 1.0 for n in names})
    terms["loss"].backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    _sync(args.device)
    return time.perf_counter() - t0, {k: float(v) for k, v in terms.items()}


def run(args: argparse.Namespace) -> dict:
    model = build_model(args)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    names = [f"s{i}" for i in range(args.sources)]
    with tempfile.TemporaryDirectory() as tmp:
        batch, cache_report = build_batch(args, Path(tmp))
    cfgs = {m: LossConfig(k=args.k, **w) for m, w in MODES.items()}
    for _ in range(args.warmup):
        for m in MODES:
            step(model, optimizer, batch, cfgs[m], names, args)
    times: dict[str, list[float]] = {m: [] for m in MODES}
    peak: dict[str, float] = {}
    last_terms = {}
    for _ in range(args.steps):  # interleaved rounds: drift in machine load hits every mode alike
        for m in MODES:
            if args.device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            t, last_terms[m] = step(model, optimizer, batch, cfgs[m], names, args)
            times[m].append(t)
            if args.device.startswith("cuda"):
                peak[m] = max(peak.get(m, 0.0), torch.cuda.max_memory_allocated() / 2**30)
    med = {m: statistics.median(v) for m, v in times.items()}
    params = sum(p.numel() for p in model.parameters())
    return {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "shape": {"params_M": round(params / 1e6, 1), "vocab": args.vocab, "source_vocab": args.source_vocab,
                  "seq_len": args.seq_len, "batch": args.batch, "k": args.k, "sources": args.sources,
                  "hidden": args.hidden, "layers": args.layers, "precision": args.precision},
        "median_step_s": med, "all_step_s": times, "peak_mem_gib": peak,
        "overhead_vs_sft": {m: med[m] / med["SFT"] - 1.0 for m in MODES},
        "terms": last_terms, "cache": cache_report,
    }


def markdown(res: dict) -> str:
    s = res["shape"]
    lines = [
        f"### {res['device']} — {res['date']}",
        "",
        f"torch {res['torch']}, {res['threads']} threads; pivot {s['params_M']}M params "
        f"(hidden {s['hidden']}, {s['layers']} layers, vocab {s['vocab']}), seq {s['seq_len']} x batch "
        f"{s['batch']}, k = {s['k']}, {s['sources']} source(s) (vocab {s['source_vocab']}), {s['precision']}.",
        "",
        "| objective | median step (s) | overhead vs SFT | peak GPU mem (GiB) |",
        "|---|---|---|---|",
    ]
    for m, t in res["median_step_s"].items():
        mem = f"{res['peak_mem_gib'][m]:.2f}" if m in res["peak_mem_gib"] else "-"
        lines.append(f"| {m} | {t:.4f} | {100 * res['overhead_vs_sft'][m]:+.1f}% | {mem} |")
    c = res["cache"]
    if c:
        lines += ["", f"Teacher cache: {c['bytes_per_token']:.1f} bytes/token (top-{s['k']} fp16 log-probs + int32 ids "
                  f"+ fp32 logsumexp + int32 offsets, safetensors) vs {c['full_logits_fp16_bytes_per_token']:.0f} "
                  f"bytes/token for full fp16 logits: {c['compression']:.0f}x smaller."]
    return "\n".join(lines) + "\n"


def append_results(path: Path, block: str) -> None:
    """Insert ``block`` at the end of the '## Training' section (created if missing)."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    header = "## Training"
    if header not in text:
        text = text.rstrip("\n") + f"\n\n{header}\n\n(`bench/train_step.py`)\n"
    start = text.index(header) + len(header)
    nxt = text.find("\n## ", start)
    end = len(text) if nxt < 0 else nxt + 1
    section = text[:end].rstrip("\n") + "\n\n" + block
    path.write_text(section + ("\n" + text[end:] if end < len(text) else ""))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    res = run(args)
    block = markdown(res)
    print(block)
    print(json.dumps({k: res[k] for k in ("median_step_s", "overhead_vs_sft", "terms")}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    if args.append_results:
        append_results(args.append_results, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
