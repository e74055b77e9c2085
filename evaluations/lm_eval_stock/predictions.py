"""``--predictions --style lm-eval``: outputs made elsewhere, scored by lm-eval's own stock task.

lm-eval's ``evaluate`` is run as for a live model, on a model that answers every
generation request with the stored prediction for its document, so lm-eval's own
prompts, filters (e.g. GSM8K's strict-match and flexible-extract, BBH's get-answer) and
metrics score them — nothing of ours sits between the text and the score. Loglikelihood
tasks (lm-eval's ARC-Challenge, MMLU, HellaSwag) score the model's probabilities of the
options, which a text file does not hold: they are refused with that reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lm_eval.api.model import LM


class PredictionsUnscorable(ValueError):
    """The stock task needs the model itself (loglikelihoods), not its generated text."""


class PredictionsLM(LM):
    """An lm-eval model whose generations are stored predictions.

    ``outputs`` maps our doc id to its text; :meth:`bind` receives, per lm-eval task, our doc
    id of each lm-eval document index (what :func:`evaluations.lm_eval_stock.run.prepare`
    returns), so a request for document ``i`` of task ``t`` is answered with its prediction.
    """

    def __init__(self, benchmark: str, outputs: dict[str, str]) -> None:
        super().__init__()
        self.benchmark, self.outputs = benchmark, outputs
        self.ids: dict[str, list[str]] = {}

    def bind(self, ids: dict[str, list[str]]) -> None:
        """Learn which of our doc ids each lm-eval (task, document index) is."""
        self.ids = ids

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        """The stored prediction of each request's document."""
        return [self.outputs[self.ids[r.task_name][r.doc_id]] for r in requests]

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        raise PredictionsUnscorable(
            f"{self.benchmark}: lm-eval scores this task by the model's loglikelihood of each option, which a "
            "predictions file does not hold; score it with --style paper, or evaluate the model itself")

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        raise PredictionsUnscorable(f"{self.benchmark}: lm-eval's rolling loglikelihood needs the model itself")


def score_predictions_stock(spec: Any, bench: Any, docs: list[dict[str, Any]], outputs: dict[str, str],
                            data_dir: Path, out_dir: Path, source: str) -> dict[str, Any]:
    """Score ``outputs`` (our doc id -> text) of ``docs`` with lm-eval's stock task ``spec`` into
    ``out_dir``; returns the results document. The stored texts are the generation key, so a
    corrected predictions file is scored again and an unchanged one is reused."""
    from evaluations.benchmark_eval import _check_config, task_config
    from evaluations.fingerprint import generation_hash
    from evaluations.lm_eval_stock.run import evaluate_stock, stock_config
    from evaluations.subsets import subset_record

    config = stock_config(task_config(bench, "lm-eval", data_dir, None, {"source": "predictions"}), spec,
                          f"predictions scored by lm-eval stock task {spec.task}")
    _check_config(out_dir, config)
    key = generation_hash({"outputs": sorted(outputs.items())})
    run_config = {"model": f"predictions:{source}", "backend": "predictions"}
    return evaluate_stock(spec, bench, docs, data_dir, out_dir, lambda: PredictionsLM(bench.name, outputs), config,
                          run_config, subset_record(None, "first", 0, docs), key)
