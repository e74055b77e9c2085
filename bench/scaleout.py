"""Scale-out on CPU ranks: 2 gloo processes under ``accelerate launch`` against
1 process, for teacher caching, training and evaluation. Prints a markdown table and the
raw lines; ``--append`` adds them to bench/RESULTS.md under "## Scale-out (CPU ranks)".

* cache: ``workbench cache-teachers`` on the tiny source (tiny-random-gemma3, Gemma-3
  tokenizer, vocab 262k) over N demo examples: tokens/s of each rank (its own log line:
  forward passes + top-k + shard writes, tokenisation excluded), of 1 process, and of a
  bare forward pass over the same batches in this process (the forward ``topk_entries``
  makes, nothing else), all at 1 thread per process;
* fuse: the tiny config, 2 ranks x per-device 2 vs 1 process x per-device 2 x accumulation
  2 (same global batch): wall time and the largest relative difference of the logged terms;
* eval: SmolLM2-135M-Instruct, greedy, 8 new tokens, first D docs of arc and gsm8k:
  seconds of ``LMEvalEngine.run`` and whether every per-item result is identical.

Usage: ``python bench/scaleout.py [--examples 64] [--docs 8] [--append]``
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))
from _launch import cpu_env, launch  # noqa: E402

RATE = re.compile(r"\[fuse\] gemma(?: rank (\d+)/(\d+))?: cached (\d+) example\(s\), (\d+) tokens in ([\d.]+) s")


def _config(tmp: Path, name: str, examples: int, accumulation: int = 1, steps: int = 8) -> Path:
    import yaml

    raw = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    raw["output_dir"] = str(tmp / f"run-{name}")
    raw["data"].update(path=str(tmp / "data.jsonl"), demo={"n": examples, "seed": 0})
    raw["cache"].update(dir=str(tmp / f"cache-{name}"))
    raw["training"].update(max_steps=steps, save_steps=steps, per_device_batch_size=2,
                           gradient_accumulation_steps=accumulation)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _rates(log: str) -> list[tuple[int, int, int, float]]:
    return [(int(m.group(1) or 0), int(m.group(3)), int(m.group(4)), float(m.group(5))) for m in RATE.finditer(log)]


def bare_forward(config: Path) -> tuple[int, float]:
    """(tokens, seconds) of the source's forward passes alone over the cache's batches."""
    import torch

    from fusion.config import load_config
    from fusion.data import load_examples, tokenize_example
    from fusion.models import load_model_and_tokenizer

    torch.set_num_threads(1)
    cfg = load_config(config)
    source = cfg.sources[0]
    model, tok = load_model_and_tokenizer(source.model, dtype=torch.float32, device="cpu")
    model.eval()
    toks = [tokenize_example(tok, e, template=source.chat_template, max_prompt_tokens=cfg.data.max_prompt_tokens,
                             max_response_tokens=cfg.data.max_response_tokens) for e in load_examples(cfg.data.path)]
    toks.sort(key=lambda t: len(t.input_ids))
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    seconds, tokens = 0.0, 0
    for start in range(0, len(toks), cfg.cache.batch_size):
        batch = toks[start : start + cfg.cache.batch_size]
        longest = max(len(t.input_ids) for t in batch)
        ids = torch.full((len(batch), longest), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for b, t in enumerate(batch):
            ids[b, : len(t.input_ids)] = torch.as_tensor(t.input_ids)
            mask[b, : len(t.input_ids)] = 1
        first = min(t.prompt_len - 1 for t in batch)
        t0 = time.perf_counter()
        with torch.no_grad():
            model(input_ids=ids, attention_mask=mask, logits_to_keep=longest - first)
        seconds += time.perf_counter() - t0
        tokens += sum(len(t.input_ids) for t in batch)
    return tokens, seconds


def cache_rows(tmp: Path, examples: int) -> list[str]:
    """Per-rank, 1-process and bare-forward tokens/s of teacher caching."""
    one = subprocess.run([sys.executable, "-m", "workbench.cli", "cache-teachers", "--config",
                          str(_config(tmp, "one", examples))], cwd=REPO, env=cpu_env(), capture_output=True,
                         text=True, check=True)
    two = launch(["cache-teachers", "--config", str(_config(tmp, "two", examples))])
    tokens, seconds = bare_forward(tmp / "one.yaml")
    rows = [f"| bare forward, 1 process | {examples} | {tokens} | {seconds:.2f} | {tokens / seconds:.0f} | 1.00 |"]
    bare = tokens / seconds
    for label, log in (("cache-teachers, 1 process", one.stderr), ("cache-teachers, 2 ranks", two.stderr)):
        for rank, n, tok, sec in sorted(_rates(log)):
            who = f"{label}, rank {rank}" if "ranks" in label else label
            rows.append(f"| {who} | {n} | {tok} | {sec:.2f} | {tok / sec:.0f} | {tok / sec / bare:.2f} |")
    return rows


def fuse_row(tmp: Path, examples: int) -> str:
    """Wall time of 8 steps, 1 process x accumulation 2 vs 2 ranks, and the largest relative difference."""
    env = cpu_env()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "workbench.cli", "fuse", "--config", str(_config(tmp, "one", examples, 2))],
                   cwd=REPO, env=env, capture_output=True, text=True, check=True)
    one_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    launch(["fuse", "--config", str(_config(tmp, "one", examples, 1)), "--output-dir", str(tmp / "run-two")])
    two_s = time.perf_counter() - t0

    def rows(run: str) -> list[dict]:
        return [json.loads(x) for x in (tmp / run / "metrics.jsonl").read_text().splitlines() if x.strip()]

    a, b = rows("run-one"), rows("run-two")
    keys = ("loss", "ce", "wd/gemma", "gld/gemma", "grad_norm")
    diff = max(abs(x[k] - y[k]) / abs(y[k]) for x, y in zip(b, a) for k in keys)
    return (f"| fuse, {len(a)} steps, global batch 4 | 1 process x accumulation 2: {one_s:.1f} s wall | "
            f"2 ranks x 2: {two_s:.1f} s wall | max rel. diff {diff:.2g} over {len(a) * len(keys)} logged values |")


def eval_row(tmp: Path, docs: int) -> str:
    """Seconds of LMEvalEngine.run, 1 process vs 2 ranks, and per-item identity."""
    script = str(REPO / "bench" / "eval_ranks.py")
    data = str(REPO.parent / "shared" / "benchmarks")
    args = ["smollm2-135m-instruct", "arc,gsm8k", str(docs), "2"]
    subprocess.run([sys.executable, script, *args, str(tmp / "e1.json"), data], cwd=REPO, check=True,
                   env=cpu_env(NLTK_DATA=str(REPO.parent / "shared" / "nltk_data")), capture_output=True)
    launch([*args, str(tmp / "e2.json"), data], script=script)
    a, b = (json.loads((tmp / f).read_text()) for f in ("e1.json", "e2.json"))
    same = a["rows"] == b["rows"]
    n = sum(len(v) for v in a["rows"].values())
    return (f"| eval, arc + gsm8k, {n} items | 1 process: {a['seconds']:.1f} s | 2 ranks: {b['seconds']:.1f} s | "
            f"per-item results identical: {'yes' if same else 'NO'} ({b['processes']} processes) |")


def main() -> None:
    """Run the three measurements and print (optionally append) the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--append", action="store_true")
    args = parser.parse_args()
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        cache = cache_rows(tmp, args.examples)
        fuse = fuse_row(tmp, min(args.examples, 16))
        ev = eval_row(tmp, args.docs)
    import torch

    lines = [f"### CPU, {os.cpu_count()} cores, {stamp} (`python bench/scaleout.py`), torch {torch.__version__}, "
             f"{platform.machine()}, 1 thread per process", "",
             "| teacher caching | examples | tokens | seconds | tokens/s | vs bare forward |",
             "|---|---|---|---|---|---|",
             *cache, "", "| what | reference | 2 ranks | result |", "|---|---|---|---|", fuse, ev]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.append:
        path = REPO / "bench" / "RESULTS.md"
        body = path.read_text()
        header = "## Scale-out (CPU ranks, `bench/scaleout.py`)"
        if header not in body:
            body = body.rstrip("\n") + f"\n\n{header}\n"
        path.write_text(body.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
