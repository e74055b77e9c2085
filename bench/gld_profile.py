"""Where does the GLD term spend its time? torch.profiler over one GLD forward+backward at
a training shape (top-k of the pivot's logits given, as the trainer shares it with WD).

    python bench/gld_profile.py --device cuda
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusion.graphs import TopK, degree_features, topk_sparsify
from fusion.gw import sorting_gw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--length", type=int, default=2048)
    parser.add_argument("--vocab", type=int, default=151936)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    dev = args.device
    logits = torch.randn(args.batch, args.length, args.vocab, device=dev, requires_grad=True)
    src = TopK(torch.rand(args.batch, args.length, args.k, device=dev),
               torch.randint(0, 262144, (args.batch, args.length, args.k), device=dev))
    mask = torch.ones(args.batch, args.length, dtype=torch.bool, device=dev)
    pivot = topk_sparsify(logits, args.k)

    def gld_step() -> None:
        fp = degree_features(pivot, mask=mask)
        fs = degree_features(src, mask=mask)
        sorting_gw(fp, fs).mean().backward(retain_graph=True)

    for _ in range(3):
        gld_step()
    sync = torch.cuda.synchronize if dev.startswith("cuda") else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for _ in range(10):
        gld_step()
    sync()
    print(f"GLD (degrees of pivot + source, sorting_gw, backward): {(time.perf_counter() - t0) / 10 * 1e3:.2f} ms")
    acts = [torch.profiler.ProfilerActivity.CPU] + (
        [torch.profiler.ProfilerActivity.CUDA] if dev.startswith("cuda") else [])
    with torch.profiler.profile(activities=acts) as prof:
        gld_step()
        sync()
    key = "cuda_time_total" if dev.startswith("cuda") else "cpu_time_total"
    print(prof.key_averages().table(sort_by=key, row_limit=25, max_name_column_width=60))


if __name__ == "__main__":
    main()
