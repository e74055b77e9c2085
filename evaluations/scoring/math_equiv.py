"""Mathematical answer equivalence through math-verify (a maintained verifier)."""

from __future__ import annotations

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify


def _parse_answer(answer: str) -> list:
    # Wrap bare answers in $...$ so LaTeX forms (\frac, \sqrt, intervals) parse as LaTeX.
    text = answer if "$" in answer or "\\boxed" in answer else f"${answer}$"
    parsed = parse(text, extraction_config=[LatexExtractionConfig(), ExprExtractionConfig()])
    if not parsed:
        parsed = parse(answer, extraction_config=[ExprExtractionConfig()])
    return parsed


def math_equal(predicted: str | None, gold: str) -> bool:
    """True when ``predicted`` and ``gold`` denote the same mathematical object.

    Both are extracted answers (e.g. the contents of ``\\boxed{}``); math-verify parses
    them to sympy and compares symbolically/numerically. String identity short-circuits.
    """
    if predicted is None:
        return False
    if predicted.strip() == gold.strip():
        return True
    gold_parsed = _parse_answer(gold)
    pred_parsed = _parse_answer(predicted)
    if not gold_parsed or not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed))
