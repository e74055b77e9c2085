"""A stock lm-eval evaluation that runs out of GPU memory halves its batch and retries,
with the same few-shot draw and the answered requests reused; at batch 1 the error is
the caller's. The model is a small LM of lm-eval's own interface (``lm_eval.api.model.LM``)
that fails above a batch threshold, so the retry logic runs with lm-eval's real
``evaluate`` on the real ARC-Challenge task and data."""

from __future__ import annotations

import pytest
import torch
from _eval_common import DATA_DIR
from lm_eval.api.model import LM

from evaluations import registry
from evaluations.lm_eval_stock import tasks
from evaluations.lm_eval_stock.run import halve_batch, prepare, run_lm_eval


class BatchLimitedLM(LM):
    """Answers loglikelihood requests (longer continuation = less likely) when its batch is at
    most ``fits``; raises ``torch.OutOfMemoryError`` otherwise, as a GPU would."""

    def __init__(self, batch: int, fits: int) -> None:
        super().__init__()
        self.batch_size_per_gpu, self.fits, self.attempts = batch, fits, []

    def loglikelihood(self, requests):
        self.attempts.append(self.batch_size_per_gpu)
        if self.batch_size_per_gpu > self.fits:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return [(-float(len(r.args[1])), False) for r in requests]

    def loglikelihood_rolling(self, requests):
        raise NotImplementedError

    def generate_until(self, requests):
        raise NotImplementedError


def _arc(tmp_path, n=4):
    bench = registry.get("arc")
    docs = bench.docs(DATA_DIR, limit=n)
    task_dict, samples, *_ = prepare(tasks.SPECS["arc"], bench, [d["doc_id"] for d in docs], DATA_DIR, tmp_path)
    return task_dict, samples


def test_out_of_memory_halves_the_batch_until_it_fits(tmp_path):
    task_dict, samples = _arc(tmp_path)
    lm = BatchLimitedLM(batch=16, fits=2)
    out = run_lm_eval(lm, task_dict, samples, cache=None)
    assert lm.attempts == [16, 8, 4, 2] and lm.batch_size_per_gpu == 2
    rows = out["samples"]["arc_challenge"]
    assert len(rows) == 4
    # The answers are the model's: minus the length of " " + option (lm-eval's target delimiter).
    for row in rows:
        lengths = [len(" " + c) for c in row["doc"]["choices"]["text"]]
        assert [ll for ll, _ in row["filtered_resps"]] == [-float(n) for n in lengths]


def test_at_batch_one_the_error_is_raised(tmp_path):
    task_dict, samples = _arc(tmp_path, n=2)
    lm = BatchLimitedLM(batch=4, fits=0)
    with pytest.raises(torch.OutOfMemoryError):
        run_lm_eval(lm, task_dict, samples, cache=None)
    assert lm.attempts == [4, 2, 1]
    assert halve_batch(BatchLimitedLM(batch=1, fits=0)) is False
