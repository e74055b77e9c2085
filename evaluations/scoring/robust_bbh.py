"""Robust BBH answer extraction and matching, by the kind of the task's target.

Kinds (read off the target and task): ``option`` "(B)"; ``binary`` Yes/No, True/False,
valid/invalid; ``number`` (object_counting, multistep_arithmetic_two); ``dyck`` (bracket
sequences); ``words`` (word_sorting); ``free`` otherwise.

The answer is the clause after the *last* "answer is" (two on one line: the second, the
old extractor's first); without a marker, the response's own opening / last evidence.
Measured defects fixed here: "No, because ..." -> No; "apple, banana" matches
"apple banana"; "7 fruits" -> 7; lower-case "(b)" -> (B).
"""

from __future__ import annotations

import re

from evaluations.scoring.robust_number import robust_number, same_number

BINARY = ({"yes", "no"}, {"true", "false"}, {"valid", "invalid"})
_ANSWER_IS = re.compile(r"answer\s+is\s*[:：]?\s*", re.IGNORECASE)


def answer_kind(task: str, gold: str) -> str:
    """The kind of ``task``'s answers (see module docstring)."""
    if task == "dyck_languages":
        return "dyck"
    if task == "word_sorting":
        return "words"
    if re.fullmatch(r"\([A-R]\)", gold):
        return "option"
    if any(gold.lower() in vocab for vocab in BINARY):
        return "binary"
    if re.fullmatch(r"-?\d+", gold):
        return "number"
    return "free"


def _last_clause(output: str) -> str | None:
    matches = list(_ANSWER_IS.finditer(output))
    if not matches:
        return None
    return output[matches[-1].end():].split("\n", 1)[0].strip()


def _options(task_input: str) -> dict[str, str]:
    return {m.group(1): m.group(2).strip().lower() for m in re.finditer(r"(?m)^\(([A-R])\)\s*(.+)$", task_input)}


def _option(output: str, clause: str | None, task_input: str) -> str | None:
    if clause is not None:
        if re.search(r"\([A-Ra-r]\)\s*(?:or|/|and)\s*\(?[A-Ra-r]\b", clause):
            return None  # "(A) or (B)" commits to nothing
        m = re.search(r"\(([A-Ra-r])\)", clause) or re.match(r"\**\s*([A-R])(?![A-Za-z])", clause)
        if m:
            return f"({m.group(1).upper()})"
        stated = clause.strip(" .*\"'").lower()
        hits = [k for k, v in _options(task_input).items() if v and v.rstrip(".") == stated]
        return f"({hits[0]})" if len(hits) == 1 else None
    found = re.findall(r"\(([A-Ra-r])\)", output)
    return f"({found[-1].upper()})" if found else None


def _binary(output: str, clause: str | None, gold: str) -> str | None:
    vocab = next(v for v in BINARY if gold.lower() in v)
    words = sorted(vocab, key=len, reverse=True)  # "invalid" before "valid"
    text = clause if clause is not None else output
    if re.match(rf"\W*(?:{'|'.join(words)})\W*\s*(?:or|/)\s*\W*(?:{'|'.join(words)})\b", text, re.IGNORECASE):
        return None  # "Yes or no" commits to nothing
    head = re.match(rf"\W*({'|'.join(words)})\b", text, re.IGNORECASE)
    if head:
        return head.group(1).lower()
    if clause is None:
        return None
    said = {w.lower() for w in re.findall(rf"\b({'|'.join(words)})\b", clause, re.IGNORECASE)}
    return said.pop() if len(said) == 1 else None


def _words(clause: str | None, output: str) -> list[str]:
    text = clause if clause is not None else output.strip().split("\n")[-1]
    return [w for w in re.split(r"[\s,]+", text.strip().rstrip(".").lower()) if w]


def _brackets(text: str | None) -> str | None:
    return None if text is None else "".join(re.findall(r"[()\[\]{}<>]", text))


def robust_bbh_answer(task: str, task_input: str, gold: str, output: str) -> str | None:
    """The answer ``output`` commits to, in the target's own format (``"(B)"``, ``"no"``...)."""
    kind = answer_kind(task, gold)
    clause = _last_clause(output)
    if kind == "option":
        return _option(output, clause, task_input)
    if kind == "binary":
        return _binary(output, clause, gold)
    if kind == "number":
        return robust_number(f"The answer is {clause}" if clause is not None else output)
    if kind == "dyck":
        return _brackets(clause)
    if kind == "words":
        return " ".join(_words(clause, output)) or None
    return None if clause is None else clause.rstrip(".").strip()


def robust_bbh_correct(task: str, gold: str, answer: str | None) -> bool:
    """Whether a robust answer equals ``gold`` under the kind's comparison."""
    if answer is None:
        return False
    kind = answer_kind(task, gold)
    if kind == "number":
        return same_number(answer, gold)
    if kind == "dyck":
        return answer == _brackets(gold)
    if kind == "words":
        return answer.split() == gold.lower().split()
    return answer.strip().lower() == gold.strip().lower()
