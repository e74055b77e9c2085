"""EvalPlus's verdict rules, applied on the host to outputs that came out of the sandbox.

EvalPlus (``evalplus.eval.unsafe_execute``) compares outputs with expected outputs
*inside* the process that runs the untrusted code, which is why a solution could walk its
frames to the expected outputs or set the shared verdict. Here the sandbox only returns
outputs (as data, :mod:`evaluations.sandbox.codec`) and this module applies the same
rules, statement for statement, with EvalPlus's own helpers (``is_floats``, ``_poly``,
``_surface_Area``, ``_digit_distance_nums``, the MBPP task lists) imported, not copied.

Two deliberate differences, both in the direction of the upstream fix or of containment:

* HumanEval/32 (``find_zero``): EvalPlus 0.3.1 ends the special oracle in a bare
  ``continue`` that skips recording the pass, so every solution — the canonical one too —
  fails; upstream fixed it after the release (evalplus commit 26d6d00). A root ``x`` is
  accepted when ``abs(_poly(xs, x)) <= atol``, EvalPlus's own criterion, with EvalPlus's
  ``_poly`` (a solution's own ``poly`` plays no part).
* Comparisons see decoded data, never the candidate's objects: an output whose class
  rigs ``__eq__`` arrives as an :class:`~evaluations.sandbox.codec.Opaque` and equals
  nothing. ``type(out) == type(exp)`` uses the exact type name the sandbox reported.

Huge text-only expected outputs (MBPP/255: 1 GB) are compared by digest
(:meth:`Comparison.matches_digest`), which gives the same verdict: see there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalplus.eval import is_floats
from evalplus.eval._special_oracle import (
    MBPP_OUTPUT_NOT_NONE_TASKS,
    MBPP_OUTPUT_SET_EQ_TASKS,
    _digit_distance_nums,
    _poly,
    _surface_Area,
)

from evaluations.sandbox.codec import Digest, type_name

# Entry points whose verdict is not plain ``out == exp`` (EvalPlus's special oracles).
_SPECIAL = {
    "humaneval": frozenset({"find_zero"}),
    "mbpp": frozenset({"are_equivalent", "sum_div", "surface_Area", "digit_distance_nums",
                       *MBPP_OUTPUT_SET_EQ_TASKS, *MBPP_OUTPUT_NOT_NONE_TASKS}),
}


@dataclass
class Comparison:
    """The running state of one EvalPlus check: the tolerance in force.

    EvalPlus raises ``atol`` from 0 to 1e-6 the first time an expected output is a float
    (or a list/tuple of floats) and keeps it raised for the rest of the check; the
    comparison of later inputs depends on it, so it is state, not a parameter.
    """

    dataset: str
    entry_point: str
    atol: float

    def matches(self, inp: list[Any], out: Any, out_type: str, exp: Any) -> bool:
        """Whether output ``out`` (exact type named ``out_type``) on input ``inp`` counts
        as correct against ``exp`` — ``unsafe_execute``'s rules for one input."""
        try:
            return self._matches(inp, out, out_type, exp)
        except Exception:  # EvalPlus scores any error here as a failure
            return False

    def matches_digest(self, out: Digest, exp: Digest) -> bool:
        """The verdict for an output sent as a :func:`~evaluations.sandbox.codec.text_digest`
        (only for tasks where :func:`digest_comparable` holds and text-only ``exp``).

        With no special oracle, EvalPlus passes an input when ``out == exp``, or else,
        with a tolerance in force, when types and lengths agree and ``np.allclose``
        holds — which it never does for strings (it raises). So the verdict is
        ``out == exp``, which for a text-only ``exp`` is equality of digests; and a
        text-only ``exp`` never raises the tolerance, so the running state is unchanged.
        """
        return isinstance(out, Digest) and isinstance(exp, Digest) and out == exp

    def _matches(self, inp: list[Any], out: Any, out_type: str, exp: Any) -> bool:
        exact_match = out == exp
        ep = self.entry_point
        if self.dataset == "mbpp":
            if ep == "are_equivalent":  # Mbpp/164 special oracle
                exact_match = exact_match or True
            elif ep == "sum_div":  # Mbpp/295 special oracle
                exact_match = exact_match or out == 0
            elif ep == "surface_Area":  # Mbpp/581 special oracle
                exact_match = exact_match or abs(out - _surface_Area(*inp)) <= self.atol
            elif ep == "digit_distance_nums":  # Mbpp/558 special oracle
                exact_match = exact_match or out == _digit_distance_nums(*inp)
            elif ep in MBPP_OUTPUT_SET_EQ_TASKS:
                exact_match = set(out) == set(exp)
            elif ep in MBPP_OUTPUT_NOT_NONE_TASKS:
                # exp is True if the canonical output is not None, else False
                exact_match = out == exp if isinstance(out, bool) else exp == (out is not None)
        if self.dataset == "humaneval" and ep == "find_zero":
            # Upstream-fixed form of EvalPlus's HumanEval/32 oracle (see module docstring).
            return bool(abs(_poly(*inp, out)) <= self.atol)
        if self.atol == 0 and is_floats(exp):
            self.atol = 1e-6  # EvalPlus: enforce atol for float comparison (sticky)
        if not exact_match and self.atol != 0:
            # EvalPlus: explicit rtol=1e-07 to match np.testing.assert_allclose's default.
            import numpy as np

            if out_type != type_name(type(exp)):
                return False
            if isinstance(exp, list | tuple) and len(out) != len(exp):
                return False
            return bool(np.allclose(out, exp, rtol=1e-07, atol=self.atol))
        return bool(exact_match)


def needs_iteration(dataset: str, entry_point: str) -> bool:
    """Whether the rules iterate the output (``set(out)``), so the sandbox must send the
    items of outputs the codec cannot carry as values (a generator, a map object)."""
    return dataset == "mbpp" and entry_point in MBPP_OUTPUT_SET_EQ_TASKS


def digest_comparable(dataset: str, entry_point: str) -> bool:
    """Whether EvalPlus's verdict for this task is plain ``out == exp`` (no special
    oracle), so that text-only outputs may be compared by digest."""
    return entry_point not in _SPECIAL.get(dataset, frozenset())
