"""OpenCompass's TheoremQA scoring: ``TheoremQA_postprocess_v3`` + ``TheoremQAEvaluatorV3``.

Ported from OpenCompass ``opencompass/datasets/TheoremQA/{main,utils,number_utils}.py``
(Apache-2.0), the scoring of ``TheoremQA_gen`` (= ``TheoremQA_5shot_gen_6f0af8``), as of
OpenCompass 0.5.4 (mirror HEAD a5acc4bb; the other benchmarks follow 0.4.2, the paper-era
release). 0.5.x differs from 0.4.2 only in turning a tuple parse of a list answer back into
``[a, b]``: with today's latex2sympy2_extended, 0.4.2 can never score a list answer correct
(``[1, 2]`` parses to ``(1, 2)`` and list golds only match as strings), which the paper-era
parser did not do to every list. Quirks kept because per-item parity is the point: any
"yes"/"true" substring makes the answer ``True`` (checked before "no"/"false"); list golds
only match by exact (case-folded) string; numbers go through latex2sympy and ``eval``.

Deviation, for safety only: the reference ``eval``s text derived from model output with
full builtins; here that text goes through a small AST interpreter of arithmetic
(:func:`_safe_eval`) that never runs code, and astronomically large powers are refused. The 1-second
``SIGALRM`` limit is applied only on the main thread (signals work nowhere else).
"""

from __future__ import annotations

import ast
import contextlib
import math
import operator
import re
import signal
import threading
from collections.abc import Callable, Iterator
from math import cos, e, exp, factorial, log, pi, sin, sqrt
from typing import Any

from latex2sympy2_extended import latex2sympy

E = 2.718
# The reference ``eval``s model-derived text in the globals of the module doing it. Here
# the same names are *values* for a small AST interpreter (:func:`_safe_eval`): arithmetic
# on numbers, tuples/lists, and calls of these functions only — no ``eval`` of untrusted
# text, no attribute access beyond ``math.<function>``, bounded exponents.
_FUNCTIONS: dict[str, Any] = {"abs": abs, "round": round, "min": min, "max": max, "pow": pow, "int": int,
                              "float": float, "sum": sum, "len": len, "list": list, "tuple": tuple,
                              "complex": complex, "divmod": divmod}
_NUMBER_UTILS_GLOBALS: dict[str, Any] = {**_FUNCTIONS, "sqrt": sqrt, "sin": sin, "cos": cos, "log": log, "pi": pi,
                                         "factorial": factorial, "exp": exp, "e": e, "E": E, "math": math}
_UTILS_GLOBALS: dict[str, Any] = dict(_FUNCTIONS)
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg,
                                                         ast.Not: operator.not_}
_MAX_EXPONENT = 1000
_MAX_INT_BITS = 100_000
_MAX_FACTORIAL = 1000


def _power(base: Any, exponent: Any) -> Any:
    """``base ** exponent`` unless it would be astronomically large (then ValueError, as a
    failed eval is treated by the reference: not a number)."""
    if isinstance(exponent, (int, float)) and abs(exponent) > _MAX_EXPONENT:
        raise ValueError("exponent too large")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 \
            and base.bit_length() * exponent > _MAX_INT_BITS:
        raise ValueError("power too large")
    return base ** exponent


def _call(func: Any, args: list[Any]) -> Any:
    if func is factorial and args and isinstance(args[0], int) and args[0] > _MAX_FACTORIAL:
        raise ValueError("factorial too large")
    if func is pow and len(args) >= 2:
        return _power(args[0], args[1]) if len(args) == 2 else pow(*args)
    return func(*args)


def _safe_eval(text: str, namespace: dict[str, Any]) -> Any:
    """The value of ``text`` as the reference's ``eval(text, namespace)`` gives it for
    arithmetic expressions; anything else (names outside ``namespace``, attributes, strings,
    comprehensions, lambdas, …) raises ``ValueError`` like a failing eval."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise ValueError("not an expression") from exc

    def value(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, complex, bool)):
            return node.value
        if isinstance(node, ast.BinOp):
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Pow):
                return _power(left, right)
            if type(node.op) in _BINARY:
                return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](value(node.operand))
        if isinstance(node, ast.Tuple):
            return tuple(value(v) for v in node.elts)
        if isinstance(node, ast.List):
            return [value(v) for v in node.elts]
        if isinstance(node, ast.Set):  # sympy prints a FiniteSet as "{2}"
            return {value(v) for v in node.elts}
        if isinstance(node, ast.Name) and node.id in namespace and node.id != "math":
            return namespace[node.id]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "math" \
                and "math" in namespace and not node.attr.startswith("_") and callable(getattr(math, node.attr, None)):
            return getattr(math, node.attr)
        if isinstance(node, ast.Call) and not node.keywords:
            func = value(node.func)
            if callable(func):
                return _call(func, [value(a) for a in node.args])
        raise ValueError(f"not evaluated: {type(node).__name__}")

    return value(tree.body)


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ValueError after ``seconds`` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def signal_handler(signum: int, frame: Any) -> None:
        raise ValueError

    signal.setitimer(signal.ITIMER_REAL, seconds)
    signal.signal(signal.SIGALRM, signal_handler)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def floatify(num: Any) -> int | float | None:
    """``float(num)``, as int when integral; None if not a number."""
    try:
        num = float(num)
        if num.is_integer():
            return round(num)
        else:
            return num
    except Exception:
        return None


def within_eps(pred: float, gt: float) -> bool:
    """``|pred - gt| <= 4 % of |gt|``."""
    eps = abs(gt) * 0.04
    if pred >= gt - eps and pred <= gt + eps:
        return True
    else:
        return False


def clean_units(pred_str: str) -> str:
    """Replace pi by 3.14, % by /100; drop $, ¥ and degree signs."""
    def convert_pi_to_number(code_string: str) -> str:
        code_string = code_string.replace('\\pi', 'π')
        code_string = re.sub(r'(?<![\d}])\\?π', '3.14', code_string)
        code_string = re.sub(r'(\d)(\\?π)', r'\1*3.14', code_string)
        code_string = re.sub(r'\{(\\?π)\}', '3.14', code_string)
        code_string = re.sub(r'\*(\\?π)', '*3.14', code_string)
        return code_string

    pred_str = convert_pi_to_number(pred_str)
    pred_str = pred_str.replace('%', '/100')
    pred_str = pred_str.replace('$', '')
    pred_str = pred_str.replace('¥', '')
    pred_str = pred_str.replace('°C', '')
    pred_str = pred_str.replace(' C', '')
    pred_str = pred_str.replace('°', '')
    return pred_str


def number_it(num: Any) -> int | float | None:
    """A number from an answer string (latex2sympy, then float, then eval)."""
    if isinstance(num, (int, float)):
        return num

    num = clean_units(num)
    try:
        num = str(latex2sympy(num))
    except Exception:
        pass

    if floatify(num) is not None:
        return floatify(num)
    else:
        try:
            num = _safe_eval(num, _NUMBER_UTILS_GLOBALS)
            if isinstance(num, list) or isinstance(num, tuple):
                num = num[0]
            if floatify(num) is not None:
                return floatify(num)
            else:
                return None
        except Exception:
            return None


def compare_two_numbers(p: Any, gt: Any) -> bool:
    """Integer golds: ``round(p) == gt``; float golds: within 4 %."""
    try:
        if math.isnan(p):
            return False
        if isinstance(gt, int):
            return round(p) == gt
        else:
            return within_eps(pred=p, gt=gt)
    except Exception:
        return False


def compare_two_list(pred: Any, gt: Any) -> bool:
    """Same length, all numbers, equal element-wise after sorting."""
    if not isinstance(pred, list):
        return False
    elif len(pred) != len(gt):
        return False
    elif any([not isinstance(x, (int, float)) for x in pred]):
        return False
    else:
        pred = sorted(pred)
        gt = sorted(gt)
        return all([compare_two_numbers(p, g) for p, g in zip(pred, gt)])


def extract_theoremqa_answer(pred: str, answer_flag: bool = True) -> str:
    """Map the answer text to True/False, an option, or a number string."""
    if any([option in pred.lower() for option in ['yes', 'true']]):
        pred = 'True'
    elif any([option in pred.lower() for option in ['no', 'false']]):
        pred = 'False'
    elif any([option in pred.lower() for option in ['(a)', '(b)', '(c)', '(d)', '(e)', '(f)']]):
        pass
    else:
        if answer_flag:
            # Extract the numbers out of the string
            pred = pred.split('=')[-1].strip()
            pred = clean_units(pred)
            try:
                with time_limit(1):
                    tmp = str(latex2sympy(pred))
                    pred = _safe_eval(tmp, _UTILS_GLOBALS)
                    # 0.5.x: latex2sympy2_extended parses "[1, 2]" to a tuple
                    if isinstance(pred, tuple):
                        pred = str(list(pred))
                    else:
                        pred = str(pred)
            except Exception:
                if re.match(r'-?[\d\.]+\s\D+$', pred):
                    pred = pred.split(' ')[0]
                elif re.match(r'-?[\d\.]+\s[^\s]+$', pred):
                    pred = pred.split(' ')[0]
        else:
            # desparate search over the last number
            preds = re.findall(r'-?\d*\.?\d+', pred)
            if (len(preds) >= 1):
                pred = preds[-1]
            else:
                pred = ''
    return pred


def answer_clean(direct_answer_trigger_for_fewshot: tuple[str, ...] | list[str], pred: str) -> str:
    """The answer after the last trigger ("The answer is" ...), else the last number."""
    pred = pred.strip('\n')

    # Determine if this is ICL, if so, use \n\n to split the first chunk.
    ICL = False
    for trigger in direct_answer_trigger_for_fewshot:
        if pred.count(trigger) > 1:
            ICL = True
    if ICL:
        pred = pred.split('\n\n')[0]

    # Split the trigger to find the answer.
    preds = re.split('|'.join(direct_answer_trigger_for_fewshot), pred)
    if len(preds) > 1:
        answer_flag = True
        pred = preds[-1]
    else:
        answer_flag = False

    pred = pred.strip('\n').rstrip('.').rstrip('/').strip(' ')

    pred = [extract_theoremqa_answer(pred, answer_flag)]  # type: ignore[assignment]  # upstream: str -> list

    # If there is no candidate in list, null is set.
    if len(pred) == 0:
        pred = ""
    else:
        if answer_flag:
            pred = pred[0]
        else:
            pred = pred[-1]

    # Remove the period at the end, again!
    pred = pred.rstrip('.').rstrip('/')
    return pred


def theoremqa_postprocess_v3(text: str) -> str:
    """``TheoremQA_postprocess_v3``: the prediction the evaluator compares."""
    return answer_clean(["The answer is:", "The answer is", "the answer is"], text)


def compare_answer_with_groundtruth(answer: str, groundtruth_str: str, groundtruth_num: Any = None) -> bool:
    """Options: the gold's ``(x)`` occurs in the answer; else string equality; else numeric."""
    if groundtruth_str.lower() in ['(a)', '(b)', '(c)', '(d)', '(e)', '(f)']:
        return groundtruth_str.lower() in answer.lower()
    elif answer.lower() == groundtruth_str.lower():
        return True
    elif groundtruth_num is not None:
        if isinstance(groundtruth_num, (int, float)):
            return compare_two_numbers(number_it(answer), groundtruth_num)
        else:
            if answer.startswith('(') and answer.endswith(')'):
                try:
                    answer = list(_safe_eval(answer, _UTILS_GLOBALS))  # type: ignore[assignment]  # upstream: str -> list
                    answer = [number_it(a) for a in answer]  # type: ignore[assignment]  # upstream: str -> list
                except Exception:
                    return False
                return compare_two_list(answer, groundtruth_num)
            else:
                return False
    else:
        return False


def theoremqa_correct_v3(prediction: str, gold: Any, answer_type: str) -> tuple[str, bool]:
    """(extracted, correct) as ``TheoremQAEvaluatorV3`` scores one item (gold = ``str(Answer)``)."""
    answer = theoremqa_postprocess_v3(prediction)
    groundtruth = str(gold)
    if answer_type in ['float', 'integer', 'bool']:
        truth = [groundtruth, _safe_eval(groundtruth, _UTILS_GLOBALS)]
    else:
        truth = [groundtruth, None]
    return answer, bool(compare_answer_with_groundtruth(answer, *truth))
