"""Step time, tokens/s and peak memory of the fusion objectives, unfused vs fused, beside
two peers, interleaved round by round in one run.

A random-init pivot of the requested shape (a real transformers architecture) trains on a
synthetic batch; the sources are synthetic cached top-k tensors (exactly what the teacher
cache holds) on the device, aligned to the pivot by the real character-offset alignment
of synthetic spans (index alignment above 16k tokens, where the dense overlap test is too
big). Each timed step is forward + loss + backward + AdamW step, synchronised on GPU.

Modes (``--modes``, comma-separated; default all):

* ``SFT``, ``SFT+WD``, ``SFT+WD+GLD`` — ours, unfused: full (B, T, V) logits, then
  ``fusion.trainer.fusion_terms`` (the trainer's loss code); only λ, α, β change.
* ``fused SFT``, ``fused SFT+WD``, ``fused SFT+WD+GLD`` — ours, fused: the decoder's
  hidden states (``fusion.pivot_head.forward_hidden``, logits of one position only), then
  ``head_from_hidden`` (chunked CE + logsumexp + top-k, ``fusion.fused_head``) and
  ``head_terms``.
* ``Liger SFT`` — peer floor: Liger-Kernel's ``LigerFusedLinearCrossEntropyLoss`` on the
  same hidden states and head weight.
* ``TRL GOLD ULD`` — peer: TRL's ``GOLDTrainer`` loss with ``use_uld_loss`` (its
  ``ULDLoss``: CE weight 1 on the first source, sorted full-vocabulary probabilities,
  byte-offset alignment — the GOLD default ``use_extended_uld``) on the full student logits
  against one synthetic full-vocabulary teacher logit tensor per source (made on the GPU
  before the timer: no teacher forward is timed, which favours TRL).

``--probe-seqs`` additionally finds the longest sequence that fits (one step per length,
ascending, until out of memory) for ``--probe-modes``.

CPU example (tiny)::

    python bench/train_step.py --device cpu --vocab 4096 --source-vocab 8192 \\
        --seq-len 128 --hidden 64 --layers 2 --heads 4 --steps 2 --warmup 1

GPU example (1.8B shape, vocab 152k, seq 2048, k = 10, 2 sources)::

    python bench/train_step.py --device cuda --family qwen2 --vocab 151936 --source-vocab 262144 \\
        --seq-len 2048 --k 10 --sources 2 --hidden 1536 --layers 28 --heads 12 --kv-heads 2 \\
        --intermediate 8960 --precision bf16 --out $OUT/s2048
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import platform
import statistics
import sys
import tempfile
import time
import typing
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fusion.align import alignment_tensors, index_alignment, offset_alignment  # noqa: E402
from fusion.config import LossConfig  # noqa: E402
from fusion.pivot_head import forward_hidden, head_from_hidden  # noqa: E402
from fusion.teacher_cache import CacheEntry, TeacherCache, cache_meta  # noqa: E402
from fusion.trainer import distill_k, fusion_terms, head_terms  # noqa: E402

OBJECTIVES = {
    "SFT": dict(lambda_=0.0, alpha=0.0, beta=0.0),
    "SFT+WD": dict(lambda_=0.5, alpha=1.0, beta=0.0),
    "SFT+WD+GLD": dict(lambda_=0.5, alpha=1.0, beta=1.0),
}
#: mode -> (how the step computes its loss, objective weights)
MODES: dict[str, tuple[str, dict]] = {
    **{name: ("unfused", w) for name, w in OBJECTIVES.items()},
    **{f"fused {name}": ("fused", w) for name, w in OBJECTIVES.items()},
    "Liger SFT": ("liger", OBJECTIVES["SFT"]),
    "TRL GOLD ULD": ("trl", OBJECTIVES["SFT+WD"]),
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
    p.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of: " + ", ".join(MODES))
    p.add_argument("--trl-steps", type=int, default=3,
                   help="timed rounds of the TRL mode (seconds per step: it would dominate the run)")
    p.add_argument("--chunk-rows", type=int, default=None, help="fused head rows per chunk (default: ~512 MiB fp32)")
    p.add_argument("--probe-seqs", default="", help="comma-separated sequence lengths for the fit probe")
    p.add_argument("--probe-modes", default="SFT,fused SFT+WD+GLD")
    p.add_argument("--probe-budget-s", type=float, default=120.0, help="stop probing after this long")
    p.add_argument("--out", type=Path, help="write results.json and results.csv into this folder")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--append-results", type=Path,
                   help="append a markdown block under '## Training' of this file (e.g. bench/RESULTS.md)")
    return p.parse_args(argv)


def build_model(args: argparse.Namespace, max_seq: int | None = None) -> torch.nn.Module:
    """A random-init causal LM of the requested shape, built on the device."""
    import transformers as tf

    cls = {"llama": tf.LlamaConfig, "qwen2": tf.Qwen2Config, "mistral": tf.MistralConfig}[args.family]
    config = cls(vocab_size=args.vocab, hidden_size=args.hidden, num_hidden_layers=args.layers,
                 num_attention_heads=args.heads, num_key_value_heads=args.kv_heads or args.heads,
                 intermediate_size=args.intermediate or 4 * args.hidden,
                 max_position_embeddings=max(4096, max_seq or args.seq_len), tie_word_embeddings=False)
    torch.manual_seed(0)
    with torch.device(args.device):
        model = tf.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    if args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return model.train()


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


def build_batch(args: argparse.Namespace, cache_dir: Path, seq_len: int | None = None) -> tuple[dict, dict]:
    """The synthetic batch on the device, and the cache size report of its entries.

    The batch also carries what the TRL peer needs (``_trl``: per-token byte offsets of the
    pivot and of each source, the sources' lengths)."""
    gen = torch.Generator().manual_seed(0)
    bsz, seq = args.batch, seq_len or args.seq_len
    resp = max(2, int(seq * args.response_frac))
    prompt = seq - resp - 1  # + eos
    src_len = max(2, int(resp * args.source_ratio))
    chars = 4 * resp
    input_ids = torch.randint(0, args.vocab, (bsz, seq), generator=gen)
    labels = torch.full((bsz, seq), -100)
    labels[:, prompt:] = input_ids[:, prompt:]
    pivot_spans = [spans_of(resp, chars, gen) for _ in range(bsz)]
    student_offsets = torch.zeros(bsz, seq, 2, dtype=torch.long)
    for b in range(bsz):
        student_offsets[b, prompt : prompt + resp] = torch.tensor(pivot_spans[b])
    teachers, report, source_offsets = [], None, []
    for s in range(args.sources):
        entries = [synthetic_entry(src_len, args.k, args.source_vocab, gen, f"ex{b}", spans_of(src_len, chars, gen))
                   for b in range(bsz)]
        cache = TeacherCache(cache_dir / f"s{s}", cache_meta("synthetic", None, args.k, args.source_vocab, 0, 0))
        cache.write_shard(entries, {e.id: "-" for e in entries})
        report = cache.size_report()
        if resp <= 16384:
            pairs = [offset_alignment(pivot_spans[b], entries[b].offsets.numpy()) for b in range(bsz)]
        else:  # the dense span-overlap test is O(L²) memory: index alignment at probe lengths
            pairs = [index_alignment(resp, src_len) for _ in range(bsz)]
        ai, aw = alignment_tensors(pairs, resp)
        teachers.append({
            "logprobs": torch.stack([e.logprobs.float() for e in entries]),
            "indices": torch.stack([e.indices.long() for e in entries]),
            "lse": torch.stack([e.lse for e in entries]),
            "mask": torch.ones(bsz, src_len, dtype=torch.bool),
            "align_index": ai, "align_weight": aw,
        })
        offsets = torch.zeros(bsz, src_len + 1, 2, dtype=torch.long)  # + the teacher's eos
        offsets[:, :src_len] = torch.stack([e.offsets.long() for e in entries])
        source_offsets.append(offsets)
    batch = {
        "input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": labels,
        "distill_pos": torch.arange(prompt - 1, prompt - 1 + resp).repeat(bsz, 1),
        "distill_mask": torch.ones(bsz, resp, dtype=torch.bool), "teachers": teachers,
        "_trl": {"student_offsets": student_offsets, "source_offsets": source_offsets, "src_len": src_len},
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


class Peers:
    """The peer losses, loaded once: Liger's fused linear CE and TRL's GOLD ``ULDLoss``
    (``None`` with the reason in ``errors`` when a library is missing)."""

    def __init__(self, args: argparse.Namespace, kinds: set[str]) -> None:
        self.errors: dict[str, str] = {}
        self.notes: dict[str, str] = {}
        self.liger = self.uld = None
        if "liger" in kinds:
            try:
                import importlib.metadata

                from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

                self.liger = LigerFusedLinearCrossEntropyLoss()
                self.notes["liger"] = f"liger-kernel {importlib.metadata.version('liger-kernel')}"
            except Exception as exc:  # reported, the mode is skipped
                self.errors["liger"] = f"{type(exc).__name__}: {exc}"
        if "trl" in kinds:
            try:
                self.uld = self._load_uld(args)
            except Exception as exc:
                self.errors["trl"] = f"{type(exc).__name__}: {exc}"

    def _load_uld(self, args: argparse.Namespace):
        """TRL's ``ULDLoss`` for the CE-carrying first source and for the others."""
        import trl

        try:
            from trl.experimental.gold.gold_config import GOLDConfig
            from trl.experimental.gold.gold_trainer import ULDLoss
            how = "imported trl.experimental.gold.gold_trainer"
        except ImportError as exc:
            ULDLoss, GOLDConfig = _uld_from_source(), None
            how = f"gold_trainer import failed ({exc}); ULDLoss class source loaded from TRL's file"
        fields = dict(uld_distillation_weight=1.0, uld_student_temperature=1.0, uld_teacher_temperature=1.0,
                      uld_skip_student_eos=True, uld_skip_teacher_eos=True, use_extended_uld=True,
                      uld_token_merge_strategy="observed", uld_use_hybrid_loss=False)
        losses = []
        for ce_weight in (1.0, 0.0):
            if GOLDConfig is not None:
                cfg = GOLDConfig(output_dir=tempfile.mkdtemp(), use_uld_loss=True,
                                 uld_crossentropy_weight=ce_weight, report_to="none",
                                 bf16=args.precision == "bf16", use_cpu=args.device == "cpu")
            else:
                import types

                cfg = types.SimpleNamespace(uld_crossentropy_weight=ce_weight, beta=1.0, **fields)
            losses.append(ULDLoss(cfg, device=args.device))
        self.notes["trl"] = f"trl {trl.__version__}: {how}; use_extended_uld={losses[0].use_extended_uld}"
        return losses


def _uld_from_source():
    """``ULDLoss`` from TRL's installed ``gold_trainer.py`` without importing that module's
    trainer dependencies (datasets, ...): the class's own source, compiled alone."""
    import ast
    import importlib.util

    import torch.nn as nn
    import torch.nn.functional as F

    spec = importlib.util.find_spec("trl")
    path = Path(spec.origin).parent / "experimental" / "gold" / "gold_trainer.py"
    tree = ast.parse(path.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ULDLoss")
    namespace = {"torch": torch, "nn": nn, "F": F, "Optional": typing.Optional, "Any": typing.Any, "GOLDConfig": object}
    exec(compile(ast.Module([node], []), str(path), "exec"), namespace)  # TRL's own code
    return namespace["ULDLoss"]


def loss_of(kind: str, model, batch, loss_cfg, names, args, peers: Peers, extra: dict) -> dict:
    """Forward the pivot and return the loss terms of one mode."""
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    weights = {n: 1.0 for n in names}
    if kind == "unfused":
        logits = model(**inputs, use_cache=False).logits
        return fusion_terms(logits, batch, loss_cfg, names, weights)
    if kind == "fused":
        hidden, weight = forward_hidden(model, model, **inputs)
        dtype = torch.bfloat16 if args.precision == "bf16" else None
        head = head_from_hidden(hidden, weight, batch, distill_k(loss_cfg), chunk_rows=args.chunk_rows,
                                compute_dtype=dtype)
        return head_terms(head, batch, loss_cfg, names, weights)
    if kind == "liger":
        hidden, weight = forward_hidden(model, model, **inputs)
        h = hidden[:, :-1].reshape(-1, hidden.shape[-1])
        ce = peers.liger(weight, h, batch["labels"][:, 1:].reshape(-1))
        return {"ce": ce, "loss": ce}
    if kind == "trl":
        logits = model(**inputs, use_cache=False).logits
        trl = batch["_trl"]
        loss = logits.new_zeros(())
        for s, uld in enumerate(peers.uld[:1] + peers.uld[1:] * (len(names) - 1)):
            teacher_labels = torch.zeros(args.batch, trl["src_len"] + 1, dtype=torch.long, device=logits.device)
            loss = loss + uld(student_logits=logits, teacher_logits=extra["teacher_logits"][s],
                              student_labels=batch["labels"], teacher_labels=teacher_labels,
                              student_input_ids=batch["input_ids"], teacher_input_ids=teacher_labels,
                              student_byte_offsets=trl["student_offsets"],
                              teacher_byte_offsets=trl["source_offsets"][s])
        return {"loss": loss}
    raise ValueError(kind)


def step(model, optimizer, batch, mode: str, cfgs, names, args, peers: Peers) -> tuple[float, dict]:
    """One optimisation step of ``mode``; returns its wall time and the loss terms."""
    kind = MODES[mode][0]
    extra = {}
    if kind == "trl":  # the teacher's logits exist before GOLD's loss; made outside the timer
        gen = torch.Generator(device=args.device).manual_seed(1)
        extra["teacher_logits"] = [
            3 * torch.randn(args.batch, batch["_trl"]["src_len"] + 1, args.source_vocab, generator=gen,
                            device=args.device, dtype=torch.bfloat16) for _ in names]
    _sync(args.device)
    t0 = time.perf_counter()
    with torch.autocast(device_type="cuda" if args.device.startswith("cuda") else "cpu",
                        dtype=torch.bfloat16, enabled=args.precision == "bf16"):
        terms = loss_of(kind, model, batch, cfgs[mode], names, args, peers, extra)
    terms["loss"].backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    _sync(args.device)
    return time.perf_counter() - t0, {k: float(v.detach()) for k, v in terms.items()}


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def _free(device: str) -> None:
    import gc

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def run(args: argparse.Namespace) -> dict:
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise SystemExit(f"unknown mode(s) {unknown}; known: {list(MODES)}")
    probe_seqs = [int(x) for x in args.probe_seqs.split(",") if x.strip()]
    probe_modes = [m.strip() for m in args.probe_modes.split(",") if m.strip()] if probe_seqs else []
    peers = Peers(args, {MODES[m][0] for m in modes + probe_modes})
    modes = [m for m in modes if MODES[m][0] not in peers.errors]
    model = build_model(args, max(probe_seqs + [args.seq_len]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    names = [f"s{i}" for i in range(args.sources)]
    with tempfile.TemporaryDirectory() as tmp:
        batch, cache_report = build_batch(args, Path(tmp))
    cfgs = {m: LossConfig(k=args.k, **MODES[m][1]) for m in MODES}
    cuda = args.device.startswith("cuda")
    failed: dict[str, str] = {}
    times: dict[str, list[float]] = {m: [] for m in modes}
    peak: dict[str, float] = {}
    last_terms: dict[str, dict] = {}
    for r in range(args.warmup + args.steps):  # interleaved rounds: drift hits every mode alike
        for m in modes:
            if m in failed or (MODES[m][0] == "trl" and r >= args.warmup + args.trl_steps):
                continue
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            try:
                t, last_terms[m] = step(model, optimizer, batch, m, cfgs, names, args, peers)
            except RuntimeError as exc:
                if not _is_oom(exc):
                    raise
                failed[m] = "out of memory"
                optimizer.zero_grad(set_to_none=True)
                _free(args.device)
                continue
            if r >= args.warmup:
                times[m].append(t)
                if cuda:
                    peak[m] = max(peak.get(m, 0.0), torch.cuda.max_memory_allocated() / 2**30)
    tokens = args.batch * args.seq_len
    rows = []
    for m in modes:
        v = sorted(times[m])
        med = statistics.median(v) if v else None
        rows.append({
            "mode": m, "kind": MODES[m][0], "seq_len": args.seq_len, "vocab": args.vocab,
            "median_s": med, "p25_s": v[len(v) // 4] if v else None, "p75_s": v[(3 * len(v)) // 4] if v else None,
            "min_s": v[0] if v else None, "rounds": len(v),
            "tokens_per_s": tokens / med if med else None, "peak_gib": peak.get(m),
            "status": failed.get(m, "ok"),
        })
    del batch
    _free(args.device)
    probe = probe_fit(model, optimizer, args, probe_seqs, probe_modes, cfgs, names, peers) if probe_seqs else {}
    params = sum(p.numel() for p in model.parameters())
    return {
        "device": torch.cuda.get_device_name() if cuda else platform.processor() or "cpu",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "torch": torch.__version__, "transformers": __import__("transformers").__version__,
        "threads": torch.get_num_threads(),
        "shape": {"params_M": round(params / 1e6, 1), "vocab": args.vocab, "source_vocab": args.source_vocab,
                  "seq_len": args.seq_len, "batch": args.batch, "k": args.k, "sources": args.sources,
                  "hidden": args.hidden, "layers": args.layers, "precision": args.precision,
                  "gradient_checkpointing": args.gradient_checkpointing, "chunk_rows": args.chunk_rows},
        "rows": rows, "all_step_s": times, "terms": last_terms, "cache": cache_report,
        "peers": {"notes": peers.notes, "errors": peers.errors}, "probe": probe,
    }


def probe_fit(model, optimizer, args, seqs, modes, cfgs, names, peers) -> dict:
    """The longest of ``seqs`` (ascending) at which one step of each mode runs, or OOM."""
    out: dict[str, dict] = {}
    start = time.perf_counter()
    for m in modes:
        fits, first_oom = None, None
        for seq in sorted(seqs):
            if time.perf_counter() - start > args.probe_budget_s:
                break
            with tempfile.TemporaryDirectory() as tmp:
                batch, _ = build_batch(args, Path(tmp), seq_len=seq)
            probe_args = argparse.Namespace(**{**vars(args), "seq_len": seq})
            if args.device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            try:
                t, _ = step(model, optimizer, batch, m, cfgs, names, probe_args, peers)
                peak = torch.cuda.max_memory_allocated() / 2**30 if args.device.startswith("cuda") else None
                fits = {"seq_len": seq, "step_s": t, "peak_gib": peak}
            except RuntimeError as exc:
                if not _is_oom(exc):
                    raise
                first_oom = seq
            finally:
                del batch
                optimizer.zero_grad(set_to_none=True)
                _free(args.device)
            if first_oom is not None:
                break
        out[m] = {"longest_fitting": fits, "first_oom": first_oom}
    return out


def markdown(res: dict) -> str:
    s = res["shape"]
    lines = [
        f"### {res['device']} — {res['date']}",
        "",
        f"torch {res['torch']}, transformers {res['transformers']}; pivot {s['params_M']}M params "
        f"(hidden {s['hidden']}, {s['layers']} layers, vocab {s['vocab']}), seq {s['seq_len']} x batch "
        f"{s['batch']}, k = {s['k']}, {s['sources']} source(s) (vocab {s['source_vocab']}), {s['precision']}, "
        f"gradient checkpointing {'on' if s['gradient_checkpointing'] else 'off'}.",
        "",
        "| mode | median step (s) | vs fused SFT | tokens/s | peak GPU mem (GiB) | rounds |",
        "|---|---|---|---|---|---|",
    ]
    floor = next((r["median_s"] for r in res["rows"] if r["mode"] == "fused SFT" and r["median_s"]), None)
    for r in res["rows"]:
        if r["median_s"] is None:
            lines.append(f"| {r['mode']} | {r['status']} | | | | 0 |")
            continue
        rel = f"{100 * (r['median_s'] / floor - 1):+.1f}%" if floor else "-"
        mem = f"{r['peak_gib']:.2f}" if r["peak_gib"] is not None else "-"
        lines.append(f"| {r['mode']} | {r['median_s']:.4f} | {rel} | {r['tokens_per_s']:,.0f} | {mem} "
                     f"| {r['rounds']} |")
    for m, p in res["probe"].items():
        fit = p["longest_fitting"]
        lines.append("")
        lines.append(f"Longest fitting sequence, {m}: {fit['seq_len'] if fit else 'none tried fits'}"
                     + (f" ({fit['step_s']:.2f} s, {fit['peak_gib']:.1f} GiB)" if fit and fit['peak_gib'] else "")
                     + (f"; first OOM at {p['first_oom']}" if p["first_oom"] else "; no OOM up to the largest tried"))
    for who, note in res["peers"]["notes"].items():
        lines.append(f"\n{who}: {note}")
    for who, err in res["peers"]["errors"].items():
        lines.append(f"\n{who} skipped: {err}")
    return "\n".join(lines) + "\n"


def write_out(res: dict, out: Path) -> None:
    """``results.json`` (everything) and ``results.csv`` (one row per mode) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=2))
    keys = list(res["rows"][0]) if res["rows"] else []
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(res["rows"])
    (out / "results.md").write_text(markdown(res))


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
    print(block, flush=True)
    if args.out:
        write_out(res, args.out)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    if args.append_results:
        append_results(args.append_results, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
