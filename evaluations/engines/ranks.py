"""``workbench eval --model`` under ``accelerate launch``: rank 0 runs the ordinary runner
(resume plan, output lock, every write); the other ranks only generate.

lm-eval's ``evaluate`` is collective under data parallelism: every rank must call it with
the same documents, and lm-eval then shards them by rank, pads the short rank and gathers
the samples to rank 0 (:meth:`LMEvalEngine.run`). The runner decides those chunks on rank
0 alone, from its output folder (what is already scored, what a resume must regenerate),
so rank 0 hands each chunk to the other ranks with accelerate's ``broadcast_object_list``
right before its own call, and ``None`` when it is done. Nothing else crosses processes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluations.base import Benchmark, PromptStyle, ScoredSample


def _send(item: Any) -> None:
    from accelerate.utils import broadcast_object_list

    broadcast_object_list([item], from_process=0)


def _receive() -> Any:
    from accelerate.utils import broadcast_object_list

    box: list[Any] = [None]
    broadcast_object_list(box, from_process=0)
    return box[0]


class LeadingEngine:
    """Rank 0's engine: tells the other ranks each chunk, then runs it with them."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def run(self, bench: Benchmark, docs: list[dict[str, Any]], style: PromptStyle = "paper") -> list[ScoredSample]:
        """Broadcast ``(benchmark, docs, style)``, then :meth:`LMEvalEngine.run` on every rank."""
        _send((bench.name, docs, style))
        return self.engine.run(bench, docs, style)

    def close(self) -> None:
        """End the other ranks' :func:`follow` loop."""
        _send(None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


def follow(engine: Any) -> int:
    """A non-zero rank: run every chunk rank 0 announces until it says it is done;
    returns how many chunks it ran."""
    from evaluations import registry

    count = 0
    while (item := _receive()) is not None:
        name, docs, style = item
        engine.run(registry.get(name), docs, style)
        count += 1
    return count


def evaluate_model_on_ranks(model: str, benchmarks: list[str], data_dir: Path, out: Path, *, backend: str = "hf",
                            batch_size: int = 8, max_gen_toks: int | None = None, deterministic: bool = False,
                            **kwargs: Any) -> dict[str, dict[str, Any]] | None:
    """:func:`evaluations.runner.evaluate_model` across the ranks of a launch: every rank
    loads the model (lm-eval's data-parallel ``HFLM``); rank 0 returns the results, the
    others None."""
    from evaluations import runner

    if backend != "hf":
        raise ValueError(f"under accelerate launch the data-parallel backend is 'hf' (got {backend!r}); "
                         "vLLM parallelises inside one process")
    engine = runner._load_engine(model, backend, batch_size, max_gen_toks, deterministic)
    if engine.world_size <= 1:
        raise ValueError("launched with several processes but lm-eval sees one; on CPU set ACCELERATE_USE_CPU=1")
    if not engine.is_main_process:
        follow(engine)
        return None
    lead = LeadingEngine(engine)
    try:
        return runner.evaluate_model(model, benchmarks, data_dir, out, backend=backend, batch_size=batch_size,
                                     max_gen_toks=max_gen_toks, deterministic=deterministic, engine=lead, **kwargs)
    finally:
        lead.close()
