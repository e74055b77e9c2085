"""DROP exact match and F1 — the official DROP metric as shipped in lm-eval's drop task."""

from __future__ import annotations

from lm_eval.tasks.drop.utils import get_metrics


def drop_em_f1(predicted: str, gold_alternatives: list[str]) -> tuple[float, float]:
    """Max (EM, F1) of ``predicted`` over the gold alternatives (simple-evals ``ref_text``)."""
    best_em, best_f1 = 0.0, 0.0
    for gold in gold_alternatives:
        if not gold.strip():
            continue
        em, f1 = get_metrics(predicted, gold)
        best_em, best_f1 = max(best_em, float(em)), max(best_f1, float(f1))
    return best_em, best_f1
