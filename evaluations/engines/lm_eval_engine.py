"""Generation and per-document metrics through lm-eval, with our benchmarks as custom tasks.

Each chunk of documents becomes an lm-eval task built on the fly from an inline config
(the same keys as a task YAML): ``custom_dataset`` serves the chunk's doc ids,
``doc_to_text`` renders :meth:`Benchmark.prompt`, and ``process_results`` calls
:meth:`Benchmark.score` — so lm-eval drives batching, chat templates, stop sequences and
metric aggregation while scoring stays in one place. Code benchmarks (``kind == "code"``)
only generate here; their outputs are scored afterwards by ``Benchmark.score_batch``
(EvalPlus's sandbox).

We call :func:`lm_eval.evaluator.evaluate` (the loop inside ``simple_evaluate``) because
``simple_evaluate`` also collects environment info (~1.5 s per call), which would dominate
the small chunks written for resumability; the model is loaded once per engine.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from evaluations.base import Benchmark, PromptStyle, ScoredSample

BACKENDS = ("hf", "vllm")


def vllm_available() -> bool:
    """True when vLLM is importable (lm-eval's ``vllm`` backend then works)."""
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def use_deterministic_kernels() -> None:
    """Make greedy decoding reproducible pass to pass on a GPU.

    bf16 kernels that reduce in a non-deterministic order can flip near-tied argmaxes
    (measured on an H100: 31/64 ARC outputs of a random-init model changed between two
    identical passes). cuBLAS needs a fixed workspace for deterministic results, read when
    its handle is created, so call this before the first CUDA matmul. Costs throughput
    (about half on that H100 run); a no-op for results on CPU, which is already deterministic.
    """
    import os

    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)


def enable_cpu_data_parallel(lm: Any) -> bool:
    """Turn on lm-eval's own data-parallel mode for an ``HFLM`` on CPU ranks of an
    ``accelerate launch`` (with ``ACCELERATE_USE_CPU=1``); returns whether it did.

    ``HFLM`` creates the ``Accelerator`` and keeps it whenever there are several processes,
    but sets its rank and world size only when it counts more than one GPU
    (``lm_eval/models/huggingface.py``, ``elif gpus > 1``), so on CPU every rank would
    evaluate every document. This makes the same two assignments that branch makes; the
    sharding (``task.build_all_requests(rank, world_size)``), the padding to equal request
    counts and the gathering to rank 0 (``gather_object``) stay lm-eval's. On GPUs it does
    nothing: lm-eval has already set them.
    """
    accelerator = getattr(lm, "accelerator", None)
    if accelerator is None or accelerator.num_processes <= 1 or lm.world_size > 1:
        return False
    if accelerator.device.type != "cpu":
        return False
    lm._rank = accelerator.process_index
    lm._world_size = accelerator.num_processes
    return True


def _quiet_lm_eval() -> None:
    # lm-eval logs a warning per task build (custom_dataset hint); keep the CLI readable.
    for name in ("lm_eval", "lm-eval"):
        logging.getLogger(name).setLevel(logging.ERROR)


def build_task_config(
    bench: Benchmark,
    docs: list[dict[str, Any]],
    style: PromptStyle,
    sink: dict[str, ScoredSample],
    gen_overrides: dict[str, Any] | None = None,
    task_name: str | None = None,
) -> dict[str, Any]:
    """An lm-eval inline task config for ``docs`` of ``bench``.

    Scored samples produced by ``process_results`` are stored in ``sink`` by doc id.
    """
    import datasets

    by_id = {doc["doc_id"]: doc for doc in docs}
    rows = [{"doc_id": doc["doc_id"]} for doc in docs]
    generation = {**bench.generation_kwargs(style), **(gen_overrides or {})}

    def dataset(**_: Any) -> datasets.DatasetDict:
        return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})

    def doc_to_text(row: dict[str, Any]) -> str:
        return bench.prompt(by_id[row["doc_id"]], style)

    def process_results(row: dict[str, Any], results: list[str]) -> dict[str, float]:
        doc = by_id[row["doc_id"]]
        if bench.kind == "code":  # scored later, in one sandboxed EvalPlus batch
            sink[doc["doc_id"]] = ScoredSample(bench.name, doc["doc_id"], "", results[0], None, None, 0.0)
            return {bench.metric: 0.0}
        sample = bench.score(doc, results[0])
        sink[doc["doc_id"]] = sample
        return {bench.metric: sample.score}

    return {
        "task": task_name or f"workbench_{bench.name}",
        "custom_dataset": dataset,
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": doc_to_text,
        "doc_to_target": lambda row: "",
        "process_results": process_results,
        "generation_kwargs": generation,
        "num_fewshot": 0,
        "metric_list": [{"metric": bench.metric, "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": float(getattr(bench, "version", 1.0))},
    }


class LMEvalEngine:
    """A model loaded once in an lm-eval backend; :meth:`run` evaluates chunks of docs."""

    def __init__(
        self,
        model_path: str | Path,
        backend: str = "hf",
        batch_size: int = 8,
        device: str | None = None,
        dtype: str = "auto",
        max_gen_toks: int | None = None,
        chat_template: bool | None = None,
        deterministic: bool = False,
    ) -> None:
        """Load ``model_path`` with lm-eval's ``hf`` (default) or ``vllm`` backend.

        ``chat_template=None`` applies the model's chat template when it has one.
        ``max_gen_toks`` caps every benchmark's generation length (tests, quick looks).
        ``deterministic`` calls :func:`use_deterministic_kernels` before loading.
        """
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        _quiet_lm_eval()
        if deterministic:
            use_deterministic_kernels()
        self.deterministic = deterministic
        import torch

        self.model_path = str(model_path)
        self.backend = backend
        self.batch_size = batch_size
        self.max_gen_toks = max_gen_toks
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if backend == "vllm":
            if not vllm_available():
                raise ValueError("backend 'vllm' requested but vLLM is not installed (pip install vllm)")
            from lm_eval.models.vllm_causallms import VLLM

            self.lm = VLLM(pretrained=self.model_path, batch_size="auto", dtype=dtype)
        else:
            from lm_eval.models.huggingface import HFLM

            if dtype == "auto":
                dtype = "float32" if device == "cpu" else "bfloat16"
            self.lm = HFLM(pretrained=self.model_path, batch_size=batch_size, device=device, dtype=dtype)
            enable_cpu_data_parallel(self.lm)
        self.device = device
        self.dtype = dtype
        has_template = bool(getattr(getattr(self.lm, "tokenizer", None), "chat_template", None))
        self.apply_chat_template = has_template if chat_template is None else chat_template
        from lm_eval.tasks import TaskManager

        # No built-in task index: our tasks are inline configs (indexing lm-eval's ~10k
        # YAMLs would cost ~20 s per engine).
        self._tasks = TaskManager(include_defaults=False)

    def describe(self) -> dict[str, Any]:
        """Engine settings recorded in results.json ``config``."""
        return {
            "model": self.model_path,
            "backend": self.backend,
            "batch_size": self.batch_size,
            "device": self.device,
            "dtype": self.dtype,
            "apply_chat_template": self.apply_chat_template,
            "max_gen_toks_cap": self.max_gen_toks,
            "deterministic": self.deterministic,
            "processes": self.world_size,
        }

    @property
    def world_size(self) -> int:
        """Processes evaluating together (lm-eval's data parallelism under ``accelerate launch``)."""
        return int(getattr(self.lm, "world_size", 1))

    @property
    def is_main_process(self) -> bool:
        """Whether :meth:`run` returns the samples here (rank 0, or the only process)."""
        return int(getattr(self.lm, "rank", 0)) == 0

    def gen_overrides(self, bench: Benchmark, style: PromptStyle) -> dict[str, Any]:
        """Generation overrides applied on top of the benchmark's own settings."""
        if self.max_gen_toks is None:
            return {}
        own = bench.generation_kwargs(style).get("max_gen_toks", self.max_gen_toks)
        return {"max_gen_toks": min(own, self.max_gen_toks)}

    def run(self, bench: Benchmark, docs: list[dict[str, Any]], style: PromptStyle = "paper") -> list[ScoredSample]:
        """Generate for ``docs`` and score them; returns samples in ``docs`` order with prompts.

        Under ``accelerate launch`` (:attr:`world_size` > 1) every rank calls this with the
        same ``docs``; lm-eval generates each rank's share and gathers them, rank 0 returns
        all samples and the other ranks return ``[]``."""
        from lm_eval.evaluator import evaluate

        if not docs:
            return []
        sink: dict[str, ScoredSample] = {}
        config = build_task_config(bench, docs, style, sink, self.gen_overrides(bench, style))
        loaded = self._tasks.load([config])
        parallel = self.world_size > 1
        out = evaluate(
            lm=self.lm,
            task_dict=loaded,
            bootstrap_iters=0,
            log_samples=parallel,  # lm-eval gathers every rank's samples to rank 0
            apply_chat_template=self.apply_chat_template,
            fewshot_as_multiturn=False,
            verbosity="ERROR",
        )
        if parallel:
            if not self.is_main_process:
                return []  # every rank must call run() with the same docs; rank 0 gets the samples
            for row in out["samples"][config["task"]]:  # the other ranks' docs, scored here as on one process
                if row["doc"]["doc_id"] not in sink:
                    config["process_results"](row["doc"], row["filtered_resps"])
        missing = [d["doc_id"] for d in docs if d["doc_id"] not in sink]
        if missing:
            raise RuntimeError(f"{bench.name}: lm-eval returned no result for {len(missing)} docs, e.g. {missing[:3]}")
        samples = [sink[d["doc_id"]] for d in docs]
        if bench.kind == "code":
            samples = bench.score_batch(docs, [s.output for s in samples])
        for doc, sample in zip(docs, samples):
            sample.prompt = bench.prompt(doc, style)
        return samples
