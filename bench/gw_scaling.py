"""GW scaling benchmark: the sorting approximation vs POT, side by side in one run.

CPU part (default): for each n, time POT's exact conditional-gradient GW (one start, the
product coupling — the certified ``exact_gw`` runs R + 2 of these, so the ratio printed is
conservative) and ``sorting_gw`` on the same dense graphs, and print the speedup ratio.
GPU part (``--device cuda``): ``sorting_gw`` on batches of node features up to 10⁶ nodes,
the full GLD path from top-k logits at a training shape, and POT's entropic GW on the GPU.

    python bench/gw_scaling.py                       # CPU table
    python bench/gw_scaling.py --device cuda         # GPU table (e.g. on the H100)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# POT imports JAX when present; stop XLA from preallocating most of the GPU next to torch.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

from fusion.graphs import NodeFeatures, degree_features, topk_sparsify
from fusion.gw import entropic_gw, sorting_gw


def timeit(fn: Callable[[], object], device: str, repeats: int = 5, min_time: float = 0.0) -> float:
    """Median wall time of ``fn`` in seconds (synchronising the GPU), after one warm-up."""
    fn()
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
        if min_time and sum(times) > min_time:
            break
    return statistics.median(times)


def random_graph(n: int, rng: np.random.Generator) -> np.ndarray:
    Z = rng.random((32, n)) * (rng.random((1, n)) + 0.05)
    C = Z.T @ Z
    return C / C.sum()


def cpu_table(sizes: list[int], seed: int) -> None:
    import ot

    rng = np.random.default_rng(seed)
    print(f"{'n':>6} {'POT exact CG (s)':>17} {'sorting_gw dense (s)':>21} {'speedup':>9} "
          f"{'sorting from features (s)':>26} {'speedup':>10}")
    for n in sizes:
        C, D = random_graph(n, rng), random_graph(n, rng)
        p = q = ot.unif(n)
        Ct, Dt = torch.as_tensor(C), torch.as_tensor(D)
        pot = timeit(lambda: ot.gromov.gromov_wasserstein2(C, D, p, q, "square_loss"), "cpu",
                     repeats=3 if n <= 500 else 1)
        dense = timeit(lambda: sorting_gw(Ct, Dt), "cpu", repeats=20)
        fa = NodeFeatures(Ct @ torch.as_tensor(p), torch.as_tensor(p))
        fb = NodeFeatures(Dt @ torch.as_tensor(q), torch.as_tensor(q))
        feats = timeit(lambda: sorting_gw(fa, fb), "cpu", repeats=50)
        print(f"{n:>6} {pot:>17.4f} {dense:>21.6f} {pot / dense:>8.0f}x {feats:>26.6f} {pot / feats:>9.0f}x",
              flush=True)


def gpu_table(device: str, node_sizes: list[int], batch: int, entropic_sizes: list[int], seed: int) -> None:
    gen = torch.Generator(device=device).manual_seed(seed)
    print(f"sorting_gw on node features, batch {batch}, {torch.cuda.get_device_name(device)}")
    print(f"{'n':>9} {'batch':>6} {'ms / batch':>11} {'ms / graph':>11}")
    for n in node_sizes:
        for b in (1, batch):
            x = torch.rand(b, n, device=device, generator=gen)
            y = torch.rand(b, n, device=device, generator=gen)
            w = torch.full((b, n), 1.0 / n, device=device)
            t = timeit(lambda: sorting_gw(NodeFeatures(x, w), NodeFeatures(y, w)), device, repeats=10)
            print(f"{n:>9} {b:>6} {t * 1e3:>11.3f} {t * 1e3 / b:>11.3f}", flush=True)

    print("\nGLD path from logits (top-k -> O(L·k) degrees -> sorting_gw), forward + backward")
    print(f"{'B':>3} {'L':>6} {'V':>8} {'k':>3} {'ms':>9}")
    for bsz, length, vocab, k in [(1, 2048, 152064, 10), (4, 2048, 152064, 10), (8, 2048, 32000, 10)]:
        logits = torch.randn(bsz, length, vocab, device=device, generator=gen, dtype=torch.bfloat16)
        logits.requires_grad_(True)
        src = degree_features(topk_sparsify(torch.randn(bsz, length, 1024, device=device, generator=gen), k))

        def step() -> None:
            loss = sorting_gw(degree_features(topk_sparsify(logits.float(), k)), src).mean()
            loss.backward()

        t = timeit(step, device, repeats=5)
        print(f"{bsz:>3} {length:>6} {vocab:>8} {k:>3} {t * 1e3:>9.2f}", flush=True)

    print("\nPOT entropic GW on the GPU vs sorting_gw on the same dense graphs")
    print(f"{'n':>6} {'entropic (s)':>13} {'sorting (s)':>12} {'speedup':>9}")
    for n in entropic_sizes:
        Z = torch.rand(64, n, device=device, generator=gen, dtype=torch.float64)
        C = Z.T @ Z
        C = C / C.sum()
        Z2 = torch.rand(64, n, device=device, generator=gen, dtype=torch.float64)
        D = Z2.T @ Z2
        D = D / D.sum()
        eps = 0.05 * float(max(C.max(), D.max())) ** 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ent = timeit(lambda: entropic_gw(C, D, epsilon=eps), device, repeats=1)
        srt = timeit(lambda: sorting_gw(C, D), device, repeats=10)
        print(f"{n:>6} {ent:>13.3f} {srt:>12.6f} {ent / srt:>8.0f}x", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", default="50,100,200,500,1000,2000", help="CPU graph sizes")
    parser.add_argument("--gpu-sizes", default="1000,10000,100000,1000000", help="GPU node counts")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--entropic-sizes", default="100,500,1000,2000")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"# gw_scaling on {platform.node()} ({platform.processor() or platform.machine()}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {time.strftime('%Y-%m-%d %H:%M')}")
    print("# GW convention: Σ (C_ik − D_jl)² T_ij T_kl (POT square loss)\n")
    if args.device == "cpu":
        cpu_table([int(s) for s in args.sizes.split(",")], args.seed)
    else:
        gpu_table(args.device, [int(s) for s in args.gpu_sizes.split(",")], args.batch,
                  [int(s) for s in args.entropic_sizes.split(",")], args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
