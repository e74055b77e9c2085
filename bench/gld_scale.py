"""GLD's scale across graph options and shapes: its value, and its gradient share against
the SFT cross-entropy, ``‖∇_θ GLD‖ / ‖∇_θ CE‖`` on the pivot's parameters (β = 1).

For each normalisation × value mode × node definition (DESIGN §2.1–§2.2) and each k, L
and vocabulary, one pivot forward serves every option; each option's GLD then gets its
own backward through the whole pivot. ``1 / ratio`` is the β that would give GLD the same
gradient norm as CE. Options that the config refuses (``fusion.graphs.check_degree_options``)
are measured anyway and marked ``refused``, to show why they are refused.

Two sources of models:

* ``--models real`` (CPU): the real SmolLM2-135M-Instruct pivot and Gemma-3-270M source
  on real text (GSM8K train solutions from ``--data-dir``, never test items), each model
  on its own tokenisation of the same text;
* ``--models random`` (GPU): random-init pivots of SmolLM2-135M's shape with each vocabulary
  of ``--vocabs`` and a random-init source (262k vocabulary, or 49k for a 262k pivot) on
  random token ids — realistic shapes, no files to carry.

Above ``--full-grid-max-len`` only the default option gets a parameter backward (the
logit-gradient ratio, which needs no backward through the model, is reported for all).

Examples::

    python bench/gld_scale.py --models real --device cpu --lengths 64,512,2048,4096
    python bench/gld_scale.py --models random --device cuda --lengths 64,512,2048,4096
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fusion.graphs import (  # noqa: E402
    DEFAULT_NORMALIZE,
    NODE_MODES,
    NORMALIZE_MODES,
    VALUE_MODES,
    check_degree_options,
    topk_sparsify,
)
from fusion.losses import gld_sources, response_cross_entropy, source_topk  # noqa: E402

DEFAULT_OPTION = ("prob", "vocab", DEFAULT_NORMALIZE)
SMOLLM2_SHAPE = dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                     intermediate_size=1536)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", choices=["real", "random"], default="real")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--lengths", default="64,512,2048,4096", help="response tokens of the pivot (comma list)")
    p.add_argument("--ks", default="5,10,20,50")
    p.add_argument("--vocabs", default="49152,151936,262144", help="pivot vocabularies (--models random)")
    p.add_argument("--pivot", default="smollm2-135m-instruct", help="pivot spec (--models real)")
    p.add_argument("--source", default="gemma3-270m", help="source spec (--models real)")
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "benchmarks")
    p.add_argument("--full-grid-max-len", type=int, default=10**9,
                   help="above this L only the default option gets a parameter backward")
    p.add_argument("--layers", type=int, default=SMOLLM2_SHAPE["num_hidden_layers"], help="(--models random)")
    p.add_argument("--out", type=Path, default=None, help="CSV of all rows (default: print only)")
    p.add_argument("--summary", type=Path, default=None, help="JSON summary")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------- inputs


def gsm8k_text(data_dir: Path, chars: int) -> str:
    """Real text: GSM8K *train* questions and reference solutions, concatenated."""
    parts, total = [], 0
    with open(data_dir / "gsm8k" / "train.jsonl", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            piece = f"Question: {row['question']}\nAnswer: {row['answer']}\n\n"
            parts.append(piece)
            total += len(piece)
            if total >= chars:
                break
    return "".join(parts)


def source_entries(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What the teacher cache stores: top-k log-probs (fp16), ids, the fp32 logsumexp."""
    lse = torch.logsumexp(logits.float(), dim=-1)
    top, idx = torch.topk(logits.float(), k, dim=-1)
    return (top - lse.unsqueeze(-1)).half(), idx, lse


# ---------------------------------------------------------------------------- measuring


def grad_norm(grads: tuple[torch.Tensor | None, ...]) -> float:
    """‖g‖₂ over all parameters (unused ones count 0)."""
    return float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads if g is not None)))


def options() -> list[tuple[str, str, str]]:
    """Every (value, nodes, normalize) combination, the default first."""
    rest = [o for o in itertools.product(VALUE_MODES, NODE_MODES, NORMALIZE_MODES) if o != DEFAULT_OPTION]
    return [DEFAULT_OPTION, *rest]


def measure(model: torch.nn.Module, input_ids: torch.Tensor, response_start: int,
            source: tuple[torch.Tensor, torch.Tensor, torch.Tensor], ks: list[int], *,
            full_grid: bool, setting: dict[str, Any]) -> list[dict[str, Any]]:
    """All rows of one (pivot, source, L): CE once, then every k × option."""
    params = [p for p in model.parameters() if p.requires_grad]
    logits = model(input_ids=input_ids).logits.float()  # (1, T, V)
    labels = input_ids.clone()
    labels[:, :response_start] = -100
    ce = response_cross_entropy(logits, labels)
    ce_logit_grad, = torch.autograd.grad(ce, logits, retain_graph=True)
    ce_param = grad_norm(torch.autograd.grad(ce, params, retain_graph=True, allow_unused=True))
    ce_logit = float(ce_logit_grad.norm())
    window = logits[:, response_start - 1 : -1]  # positions that predict the response tokens
    pmask = torch.ones(window.shape[:2], dtype=torch.bool, device=window.device)
    lp, idx, lse = source
    smask = torch.ones(lp.shape[:2], dtype=torch.bool, device=lp.device)
    rows = []
    for k in ks:
        for value, nodes, normalize in options():
            try:
                check_degree_options(value, normalize, "uniform")
                refused = ""
            except ValueError as exc:
                refused = str(exc).split(":")[0]
            pivot_topk = topk_sparsify(window, k, value=value)  # type: ignore[arg-type]
            src = source_topk(lp, idx, lse, value, k)
            gld = gld_sources(pivot_topk, pmask, [(src, smask)], nodes=nodes, normalize=normalize)[0].mean()
            row = dict(setting, k=k, value=value, nodes=nodes, normalize=normalize, refused=refused,
                       default=(value, nodes, normalize) == DEFAULT_OPTION, gld=float(gld.detach()),
                       ce=float(ce.detach()))
            if gld.requires_grad:
                g_logit, = torch.autograd.grad(gld, logits, retain_graph=True, allow_unused=True)
                row["ratio_logits"] = 0.0 if g_logit is None else float(g_logit.norm()) / ce_logit
                if full_grid or row["default"]:
                    g = torch.autograd.grad(gld, params, retain_graph=True, allow_unused=True)
                    row["ratio_params"] = grad_norm(g) / ce_param
            rows.append(row)
    return rows


# ------------------------------------------------------------------------------ drivers


def run_real(args: argparse.Namespace, lengths: list[int], ks: list[int]) -> list[dict[str, Any]]:
    from fusion.models import load_model_and_tokenizer

    device = torch.device(args.device)
    pivot, ptok = load_model_and_tokenizer(args.pivot, dtype=torch.float32, device=device)
    source, stok = load_model_and_tokenizer(args.source, dtype=torch.float32, device=device)
    source.eval()
    text = gsm8k_text(args.data_dir, chars=8 * max(lengths))
    rows = []
    for length in lengths:
        ids = ptok(text, add_special_tokens=False).input_ids[:length]
        if len(ids) < length:
            raise SystemExit(f"not enough text for L={length}")
        response = ptok.decode(ids)
        prompt = [ptok.bos_token_id or ptok.eos_token_id]
        pivot_ids = torch.tensor([prompt + ids], device=device)
        sids = stok(response, add_special_tokens=False).input_ids
        # Position t of [bos] + ids predicts ids[t]: the source's distributions on the text.
        sprompt = [stok.bos_token_id if stok.bos_token_id is not None else stok.eos_token_id]
        with torch.no_grad():
            slogits = source(input_ids=torch.tensor([sprompt + sids], device=device)).logits[:, :-1]
        src = source_entries(slogits, max(ks))
        del slogits
        setting = dict(models="real", pivot=args.pivot, source=args.source, vocab=pivot.config.vocab_size,
                       source_vocab=source.config.vocab_size, L=length, L_source=len(sids))
        t0 = time.perf_counter()
        rows += measure(pivot, pivot_ids, len(prompt), src, ks, full_grid=length <= args.full_grid_max_len,
                        setting=setting)
        print(f"L={length}: {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    return rows


def random_model(vocab: int, layers: int, device: torch.device, seed: int) -> torch.nn.Module:
    """A random-init Llama of SmolLM2-135M's shape with the given vocabulary."""
    import transformers as tf

    torch.manual_seed(seed)
    config = tf.LlamaConfig(vocab_size=vocab, max_position_embeddings=8192, tie_word_embeddings=True,
                            **dict(SMOLLM2_SHAPE, num_hidden_layers=layers))
    return tf.AutoModelForCausalLM.from_config(config, dtype=torch.float32).to(device)


def run_random(args: argparse.Namespace, lengths: list[int], ks: list[int]) -> list[dict[str, Any]]:
    device = torch.device(args.device)
    rows = []
    for vocab in [int(v) for v in args.vocabs.split(",")]:
        source_vocab = 262144 if vocab != 262144 else 49152
        pivot = random_model(vocab, args.layers, device, seed=0)
        source = random_model(source_vocab, args.layers, device, seed=1).eval()
        gen = torch.Generator().manual_seed(vocab)
        for length in lengths:
            pivot_ids = torch.randint(vocab, (1, length + 1), generator=gen).to(device)
            source_len = int(length * 0.9)  # another tokenizer: ~10 % fewer tokens on the same text
            sids = torch.randint(source_vocab, (1, source_len), generator=gen).to(device)
            with torch.no_grad():
                src = source_entries(source(input_ids=sids).logits, max(ks))
            setting = dict(models="random", pivot=f"random-llama-{args.layers}L", source="random-llama",
                           vocab=vocab, source_vocab=source_vocab, L=length, L_source=source_len)
            t0 = time.perf_counter()
            rows += measure(pivot, pivot_ids, 1, src, ks, full_grid=length <= args.full_grid_max_len, setting=setting)
            print(f"V={vocab} L={length}: {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
        del pivot, source
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per option: GLD range, ratio range and its max/min spread across the grid."""
    out = []
    for value, nodes, normalize in options():
        sel = [r for r in rows if (r["value"], r["nodes"], r["normalize"]) == (value, nodes, normalize)]
        ratios = [r["ratio_params"] for r in sel if "ratio_params" in r]
        logit_ratios = [r.get("ratio_logits", 0.0) for r in sel]
        glds = [r["gld"] for r in sel]
        positive = [x for x in ratios if x > 0]
        out.append(dict(
            value=value, nodes=nodes, normalize=normalize, refused=bool(sel and sel[0]["refused"]), cells=len(sel),
            gld_min=min(glds), gld_max=max(glds),
            ratio_min=min(ratios) if ratios else None, ratio_max=max(ratios) if ratios else None,
            spread=(max(positive) / min(positive)) if len(positive) == len(ratios) and positive else float("inf"),
            ratio_logits_min=min(logit_ratios), ratio_logits_max=max(logit_ratios),
        ))
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    lengths = [int(x) for x in args.lengths.split(",")]
    ks = [int(x) for x in args.ks.split(",")]
    t0 = time.perf_counter()
    rows = run_real(args, lengths, ks) if args.models == "real" else run_random(args, lengths, ks)
    summary = summarize(rows)
    meta = dict(date=dt.date.today().isoformat(), machine=platform.platform(), device=args.device,
                gpu=torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None,
                cpus=torch.get_num_threads(), seconds=round(time.perf_counter() - t0, 1),
                lengths=lengths, ks=ks, models=args.models)
    if args.out:
        import pandas as pd

        args.out.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(args.out, index=False)
    if args.summary:
        args.summary.parent.mkdir(parents=True, exist_ok=True)
        args.summary.write_text(json.dumps(dict(meta=meta, summary=summary), indent=2))
    print(json.dumps(meta))
    print("| value | nodes | normalize | refused | GLD min–max | ‖∇GLD‖/‖∇CE‖ min–max (params) | spread "
          "| logits ratio min–max |")
    print("|---|---|---|---|---|---|---|---|")
    for s in summary:
        ratio = "—" if s["ratio_min"] is None else f"{s['ratio_min']:.2g}–{s['ratio_max']:.2g}"
        print(f"| {s['value']} | {s['nodes']} | {s['normalize']} | {'yes' if s['refused'] else ''} | "
              f"{s['gld_min']:.2g}–{s['gld_max']:.2g} | {ratio} | {s['spread']:.3g} | "
              f"{s['ratio_logits_min']:.2g}–{s['ratio_logits_max']:.2g} |")


if __name__ == "__main__":
    main()
