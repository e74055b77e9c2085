"""Measure the built-in models on this machine: conversion, load, disk, generation speed.

    .venv/bin/python bench/models_speed.py [--fresh] [--new-tokens 64] [--write bench/RESULTS.md]

Conversion time: with ``--fresh`` each built-in is converted again into a temporary cache
(the real GGUF -> safetensors path, tokenizer extraction included); otherwise the time
recorded in the cache manifest when this machine first converted it. Load time: dense
``from_pretrained`` (fp32) + tokenizer. Generation: greedy, batch 1, exactly
``--new-tokens`` new tokens after a chat prompt (KV cache on), after one warm-up, with 1
torch thread and with the default count.
``--write`` replaces the "## Models" section of the given markdown file (creating it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

from fusion.gguf_builtins import (
    GGUF_BUILTINS,
    gguf_path,
    load_gguf_model,
    max_logit_diff,
    prepare_builtin,
)
from fusion.model_cache import entry_size_bytes, read_manifest
from fusion.models import load_model_and_tokenizer, render_prompt

PROMPT = "Explain in a few sentences why the sky is blue."


def measure(name: str, *, fresh: bool, new_tokens: int) -> dict:
    """Measure one built-in; returns one table row."""
    if fresh:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            prepare_builtin(name, cache_dir=tmp)
            convert_s = time.perf_counter() - started
        how = "fresh"
    else:
        convert_s = read_manifest(prepare_builtin(name))["build_seconds"]
        how = "first run (manifest)"
    folder = prepare_builtin(name)
    started = time.perf_counter()
    model, tok = load_model_and_tokenizer(folder)
    load_s = time.perf_counter() - started

    enc = tok(render_prompt(tok, PROMPT), return_tensors="pt")
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    gen = dict(do_sample=False, pad_token_id=pad, min_new_tokens=new_tokens, max_new_tokens=new_tokens)
    speeds = {}
    default_threads = torch.get_num_threads()
    for threads in sorted({1, default_threads}):
        # Measured per thread count: on a shared, oversubscribed CPU, OpenMP threads that
        # spin-wait for each other can make 2 threads much slower than 1.
        torch.set_num_threads(threads)
        with torch.no_grad():
            model.generate(**enc, **{**gen, "min_new_tokens": 4, "max_new_tokens": 4})  # warm-up
            started = time.perf_counter()
            out = model.generate(**enc, **gen)
            gen_s = time.perf_counter() - started
        produced = out.shape[1] - enc["input_ids"].shape[1]
        assert produced == new_tokens, (produced, new_tokens)
        speeds[f"generate tok/s ({threads} thr)"] = f"{produced / gen_s:.1f}"
    torch.set_num_threads(default_threads)

    diff = max_logit_diff(model, load_gguf_model(name), tok)
    return {
        "model": name,
        "params (M)": f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}",
        "vocab": f"{len(tok):,}",
        "GGUF (MiB)": f"{gguf_path(name).stat().st_size / 2**20:.0f}",
        "dense on disk (MiB)": f"{entry_size_bytes(folder) / 2**20:.0f}",
        "convert (s)": f"{convert_s:.1f} ({how})",
        "load (s)": f"{load_s:.2f}",
        **speeds,
        "max abs logit diff vs GGUF": f"{diff:.2e}",
    }


def markdown_table(rows: list[dict]) -> str:
    """Render rows (dicts with the same keys) as a markdown table."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def write_section(path: Path, body: str) -> None:
    """Replace (or append) the '## Models' section of ``path``, leaving other sections alone."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    section = f"## Models\n\n{body.strip()}\n"
    pattern = re.compile(r"^## Models\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)


def main() -> int:
    """Measure every built-in, print the table, optionally write it into RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh", action="store_true", help="re-convert into a temp cache to time it")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--write", type=Path, default=None, help="markdown file to update")
    parser.add_argument("--names", nargs="+", default=list(GGUF_BUILTINS))
    args = parser.parse_args()

    rows = [measure(n, fresh=args.fresh, new_tokens=args.new_tokens) for n in args.names]
    table = markdown_table(rows)
    machine = (f"{platform.machine()}, {os.cpu_count()} cores (load average "
               f"{os.getloadavg()[0]:.1f} at the end), {torch.get_num_threads()} torch threads, "
               f"torch {torch.__version__}, Python {sys.version.split()[0]}")
    header = (f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine} "
              f"(CPU, fp32; `bench/models_speed.py{' --fresh' if args.fresh else ''}`; "
              f"machine shared with other jobs, so times are upper bounds).")
    print(header + "\n\n" + table)
    if args.write:
        write_section(args.write, header + "\n\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
