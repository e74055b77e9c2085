"""Scoring helpers against independent oracles (hand-checked values, brute force)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluations.base import ScoredSample
from evaluations.results import aggregate, mean_stderr
from evaluations.scoring.extract import choice_letter, last_boxed
from evaluations.scoring.math_equiv import math_equal
from evaluations.scoring.theoremqa import theoremqa_correct


@pytest.mark.parametrize(
    "answer, gold, kind, ok",
    [
        ("11760", 11760, "integer", True),
        ("11760.4", 11760, "integer", True),  # official rule rounds integer answers
        ("11761", 11760, "integer", False),
        ("1.45", 1.42, "float", True),  # within 4 %
        ("1.48", 1.42, "float", False),  # 4.2 % off
        ("-0.0", 0.0, "float", True),
        ("3/4", 0.75, "float", True),
        ("75%", 75.0, "float", True),
        ("[5, 0]", [0, 5], "list of integer", True),  # order-free (sorted)
        ("[0, 5, 1]", [0, 5], "list of integer", False),
        ("[0.334, 0.25]", [0.333, 0.25], "list of float", True),
        ("True", True, "bool", True),
        ("no", False, "bool", True),
        ("False", True, "bool", False),
        ("(c)", "(c)", "option", True),
        ("C", "(c)", "option", True),
        ("(a)", "(c)", "option", False),
        (None, 1, "integer", False),
    ],
)
def test_theoremqa_rules(answer, gold, kind, ok):
    assert theoremqa_correct(answer, gold, kind) is ok


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).filter(lambda x: abs(x) > 1e-3),
       st.floats(min_value=-0.2, max_value=0.2))
def test_theoremqa_float_tolerance_matches_definition(gold, rel):
    pred = gold * (1 + rel)
    expected = abs(pred - gold) <= 0.04 * abs(gold)
    assert theoremqa_correct(repr(pred), gold, "float") == expected


@pytest.mark.parametrize(
    "pred, gold, equal",
    [("\\frac{1}{2}", "0.5", True), ("\\dfrac{3}{6}", "\\frac12", True), ("2\\sqrt{2}", "\\sqrt{8}", True),
     ("x^2+2x+1", "(x+1)^2", True), ("\\frac{1}{3}", "0.5", False), ("18", "18.0", True), (None, "1", False)],
)
def test_math_equal(pred, gold, equal):
    assert math_equal(pred, gold) is equal


def test_last_boxed_nested_and_choice_letters():
    assert last_boxed("a \\boxed{1} then \\boxed{\\frac{a}{b}} end") == "\\frac{a}{b}"
    assert last_boxed("no box") is None
    assert choice_letter("The answer is (C).", "ABCD") == "C"
    assert choice_letter("B. because it is", "ABCD") == "B"
    assert choice_letter("the answer is a planet, so D", "ABCD") == "D"  # article 'a' is not option A
    assert choice_letter("nothing here", "ABCD") is None


def test_mean_stderr_matches_brute_force():
    rng = random.Random(0)
    values = [float(rng.random() < 0.3) for _ in range(200)]
    m, se = mean_stderr(values)
    brute_mean = sum(values) / len(values)
    brute_var = sum((v - brute_mean) ** 2 for v in values) / (len(values) - 1)
    assert m == pytest.approx(brute_mean) and se == pytest.approx((brute_var / len(values)) ** 0.5)
    samples = [ScoredSample("x", str(i), "", "", None, None, v, {"inst": [True, False], "em": v})
               for i, v in enumerate(values)]
    agg = aggregate("acc", samples)
    assert agg["acc,none"] == pytest.approx(brute_mean)
    assert agg["inst,none"] == pytest.approx(0.5)  # flattened list extras
    assert agg["em,none"] == pytest.approx(brute_mean)
