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

Deviations, for safety only: the reference ``eval``s text derived from model output with
full builtins; here builtins are limited to arithmetic ones and strings holding ``__`` or a
huge ``**`` exponent are not evaluated (they would raise/hang there). The 1-second
``SIGALRM`` limit is applied only on the main thread (signals work nowhere else).
"""

from __future__ import annotations

import builtins
import contextlib
import math
import re
import signal
import threading
from math import cos, e, exp, factorial, log, pi, sin, sqrt
from typing import Any, Iterator

from latex2sympy2_extended import latex2sympy

E = 2.718
_SAFE_BUILTINS = {name: getattr(builtins, name) for name in
                  ("abs", "round", "min", "max", "pow", "int", "float", "sum", "len", "list", "tuple",
                   "complex", "divmod")}
# eval namespaces: the reference evals in the globals of the module doing the eval.
_NUMBER_UTILS_GLOBALS = {"__builtins__": _SAFE_BUILTINS, "re": re, "math": math, "sqrt": sqrt, "sin": sin,
                         "cos": cos, "log": log, "pi": pi, "factorial": factorial, "exp": exp, "e": e, "E": E}
_UTILS_GLOBALS = {"__builtins__": _SAFE_BUILTINS, "re": re, "contextlib": contextlib, "signal": signal}


def _safe_eval(text: str, namespace: dict[str, Any]) -> Any:
    # Raise (as a failing eval would) instead of running dunder access or 10**10**10.
    if "__" in text or re.search(r"\*\*\s*\(?\s*-?\d{4,}", text):
        raise ValueError("not evaluated")
    return eval(text, dict(namespace))  # noqa: S307 - the reference's rule, restricted builtins


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

    pred = [extract_theoremqa_answer(pred, answer_flag)]

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
                    answer = list(_safe_eval(answer, _UTILS_GLOBALS))
                    answer = [number_it(a) for a in answer]
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
