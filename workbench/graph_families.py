"""Families of graph pairs for bound validation (``workbench bounds``).

Each family yields :class:`GraphPair` objects; the report does not care where graphs come
from, so real-model graphs (``--real``) plug in as one more family.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from fusion.graphs import coactivation_graph


@dataclass
class GraphPair:
    """Two graphs with node weights, and where they came from."""

    family: str
    index: int
    C: np.ndarray
    D: np.ndarray
    p: np.ndarray
    q: np.ndarray
    normalize: str
    note: str = ""


def _psd_graph(rng: np.random.Generator, n: int) -> np.ndarray:
    Z = rng.random((int(rng.integers(2, 16)), n)) * (rng.random((1, n)) + 0.05)
    C = Z.T @ Z
    return C / C.sum()


def _coactivation(rng: np.random.Generator, n_positions: int, vocab: int, k: int, temperature: float, normalize: str):
    logits = torch.as_tensor(rng.standard_normal((n_positions, vocab)) / temperature)
    g = coactivation_graph(logits, k, normalize=normalize)  # type: ignore[arg-type]
    return g.matrix.numpy(), g.weights.numpy()


def _sizes(rng: np.random.Generator, small: bool, max_n: int) -> tuple[int, int]:
    if small:  # n = m ≤ 8: the exhaustive optimum certifies the exact value
        n = int(rng.integers(3, 9))
        return n, n
    return int(rng.integers(9, max_n + 1)), int(rng.integers(9, max_n + 1))


def random_psd_pairs(count: int, seed: int, max_n: int) -> Iterator[GraphPair]:
    """Random non-negative PSD graphs ``ZᵀZ`` (total-normalised), half of them n = m ≤ 8."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        n, m = _sizes(rng, small=i % 2 == 0, max_n=max_n)
        yield GraphPair("random-psd", i, _psd_graph(rng, n), _psd_graph(rng, m), np.full(n, 1 / n), np.full(m, 1 / m),
                        "total")


def _coactivation_pairs(family: str, temperature: float,
                        normalize: str) -> Callable[[int, int, int], Iterator[GraphPair]]:
    def pairs(count: int, seed: int, max_n: int) -> Iterator[GraphPair]:
        rng = np.random.default_rng(seed)
        for i in range(count):
            if i % 2 == 0:
                # one position with k = n gives an n-node graph: small enough for brute force
                n = int(rng.integers(3, 9))
                C, p = _coactivation(rng, 2, n, n, temperature, normalize)
                D, q = _coactivation(rng, 2, n, n, temperature, normalize)
            else:
                k = int(rng.integers(2, 6))
                length = int(rng.integers(3, max(4, max_n // k)))
                C, p = _coactivation(rng, length, 4 * max_n, k, temperature, normalize)
                D, q = _coactivation(rng, int(rng.integers(3, max(4, max_n // k))), 6 * max_n, k, temperature,
                                     normalize)
            yield GraphPair(family, i, C, D, p, q, normalize, note=f"temperature={temperature}")

    return pairs


FAMILIES: dict[str, Callable[[int, int, int], Iterator[GraphPair]]] = {
    "random-psd": random_psd_pairs,
    # logits ~ N(0, 1/τ²): low temperature = peaked, low-entropy next-token distributions
    "coact-low-entropy": _coactivation_pairs("coact-low-entropy", 0.25, "total"),
    "coact-high-entropy": _coactivation_pairs("coact-high-entropy", 2.0, "total"),
    # the setting of the paper's Proposition 1: row-stochastic graphs
    "coact-row-normalized": _coactivation_pairs("coact-row-normalized", 1.0, "row"),
}
