"""Hand-verdict cases for the robust extractors, instantiated on real documents.

Each case is a response *form* with the verdict a careful human grader gives it (1 =
the response commits to the gold answer, 0 = it does not: wrong, hedged, empty). The
forms are written here by hand; the documents (gold answers, option texts) come from
../shared/benchmarks, so every form is checked against many real answers. Forms whose
verdict would be debatable are left out, not guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Case = tuple[str, int, str]  # (output, verdict, form name)


def _choice_forms(doc: dict[str, Any]) -> Iterator[Case]:
    letters = "ABCDEFGH"[: len(doc["choices"])]
    g = doc["gold"]
    w = next(c for c in letters if c != g)
    tg, tw = doc["choices"][letters.index(g)], doc["choices"][letters.index(w)]
    recital = "\n".join(f"{c}. {t}" for c, t in zip(letters, doc["choices"]))
    yield g, 1, "bare letter"
    yield f"{g}. {tg}\nThis follows from the question.", 1, "leading 'X. text'"
    yield f"({g}) {tg}", 1, "leading '(X) text'"
    yield f"**{g}**", 1, "bold letter"
    yield f"The answer is {g}.", 1, "answer is X"
    yield f"The answer is ({g}).", 1, "answer is (X)"
    yield f"Answer: {g.lower()}", 1, "Answer: lower-case letter"
    yield f"Answer: ({g.lower()})", 1, "Answer: (x)"
    yield (f"{g}. {tg}\nAnswer {w} is incorrect because it ignores the question.", 1,
           "leading letter + 'Answer W is incorrect'")
    yield f"{g}. {tg}\nOption {w} is wrong since it does not fit.", 1, "leading letter + 'Option W is wrong'"
    yield f"The answer is {g} or {w}.", 0, "hedge 'X or W'"
    yield f"It is either {g} or {w}.", 0, "hedge 'either X or W'"
    yield f"The answer is {w}.", 0, "wrong marker"
    yield f"{w}. {tw}", 0, "wrong leading letter"
    yield "", 0, "empty"
    yield "I don't know.", 0, "no answer"
    yield f"Let me think. It might look like {w}, but the correct answer is {g}.", 1, "correct answer is X after musing"
    yield f"The answer is not {w}. The answer is {g}.", 1, "negated then committed"
    yield f"{recital}\nThe answer is {g}.", 1, "recited options then marker"
    yield f"{recital}", 0, "recited options only"
    yield f"The correct answer is: **{g}. {tg}**", 1, "bold 'X. text' after marker"
    yield f"## Step 1: Analyse\nWe weigh the options.\n## Step 2: Conclude\nThe answer is {g}.", 1, "MMLU step format"
    yield f"{g}\n\nExplanation: the other options do not fit.", 1, "letter then explanation"
    yield f"The best option is {g}.", 1, "best option is X"
    yield f"The answer is {g}, because {w} is wrong.", 1, "marker then reason naming W"
    yield f"Answer: {g}\nAnswer {w} is incorrect.", 1, "Answer: X then 'Answer W is incorrect'"
    yield f"{w}? No, wait. The answer is {g}.", 1, "self-correction"
    yield f"The final answer is $\\boxed{{{g}}}$", 1, "boxed letter"
    yield f"I would say {w}, although {g} is also possible.", 0, "two candidates, no commitment"
    yield f"The answer is {w}. No, actually the answer is {g}.", 1, "last marker wins"
    if (sum(re.sub(r"\W+", " ", c.lower()).strip() == re.sub(r"\W+", " ", tg.lower()).strip()
            for c in doc["choices"]) == 1 and len(tg) > 3):
        yield f"The answer is {tg}", 1, "option text after marker"


def _gsm8k_forms(doc: dict[str, Any]) -> Iterator[Case]:
    n = int(doc["gold"])
    m = n + 7
    yield f"Step by step we find {n}.\nThe final answer is \\boxed{{{n}}}.", 1, "boxed"
    yield f"Adding up, the answer is {n}.", 1, "answer is N"
    yield f"The answer is {n}. (If there were 5 more, it would be {n + 5}.)", 1, "number right after marker, then aside"
    yield f"The answer is {n} or {m}.", 0, "hedge 'N or M'"
    yield f"The answer is {m} or {n}.", 0, "hedge 'M or N' (gold last)"
    yield f"The answer is ${n}.", 1, "dollar sign"
    yield f"The answer is: **{n}**", 1, "bold after colon"
    yield f"She pays the rest.\n#### {n}", 1, "#### marker"
    yield f"So in total the answer is {n} apples.", 1, "unit word after number"
    yield f"The answer is {m}.", 0, "wrong"
    yield "", 0, "empty"
    yield f"I think it is somewhere between {m} and {n}.", 0, "between hedge, no marker"
    yield f"Adding everything, the total is {n}.", 1, "no marker, last number"
    yield f"The answer is {n}.00", 1, "trailing .00"
    yield f"The answer is 2 + {n - 2} = {n}.", 1, "equation after marker"
    yield f"The answer is {n:,}.", 1, "thousands separator"
    yield f"The answer is approximately {n}.", 1, "approximately"
    yield f"Answer: {n}\n\nCheck: {n} - 3 = {n - 3}.", 1, "check line after Answer:"
    yield f"The answer is \\${n}.", 1, "LaTeX dollar"
    yield f"It could be {n} or {m}.", 0, "hedge without marker"
    yield f"The answer is {m}. (If there were 5 more, it would be {n}.)", 0, "wrong number then aside with gold"
    yield f"{n}", 1, "bare number"
    yield f"First {m - n} is subtracted from {m}, so the answer is {n}.", 1, "numbers before the marker"


_OPTION_ROW = re.compile(r"(?m)^\(([A-R])\)\s*(.+)$")


def _bbh_forms(doc: dict[str, Any]) -> Iterator[Case]:
    from evaluations.scoring.robust_bbh import BINARY, answer_kind

    gold, kind = doc["gold"], answer_kind(doc["task"], doc["gold"])
    yield f"Let's think step by step. So the answer is {gold}.", 1, "CoT closing form"
    yield "", 0, "empty"
    if kind == "option":
        options = dict(_OPTION_ROW.findall(doc["input"]))
        letter = gold[1]
        w = next(c for c in options if c != letter)
        yield f"So the answer is ({letter.lower()}).", 1, "lower-case (x)"
        yield f"So the answer is ({w}). Wait, so the answer is {gold}.", 1, "two markers on one line: the last"
        yield f"So the answer is ({w}).", 0, "wrong option"
        yield f"So the answer is {gold} or ({w}).", 0, "hedge"
        yield f"So the answer is {letter}.", 1, "bare letter"
        yield f"Looking at the options, I pick {gold}.", 1, "no marker, last option"
        text = options[letter].strip()
        if list(o.strip().lower() for o in options.values()).count(text.lower()) == 1:
            yield f"So the answer is {text}.", 1, "option text after marker"
    elif kind == "binary":
        vocab = next(v for v in BINARY if gold.lower() in v)
        other = next(x for x in vocab if x != gold.lower()).capitalize()
        yield f"{gold}, because the statements agree.", 1, "'No, because ...' without marker"
        yield f"So the answer is {gold}, because that is what follows.", 1, "marker + 'because'"
        yield f"So the answer is {other}.", 0, "wrong label"
        yield f"So the answer is **{gold.lower()}**.", 1, "bold lower case"
        yield f"The answer is: {gold}.", 1, "answer is: X"
        yield f"So the answer is {gold} or {other.lower()}.", 0, "hedge"
        yield f"So the answer is {other}. Hmm, no: the answer is {gold}.", 1, "two markers on one line"
    elif kind == "number":
        n = int(gold)
        yield f"So the answer is {n} fruits.", 1, "'7 fruits'"
        yield f"So the answer is {n + 1}.", 0, "wrong number"
        yield f"So the answer is {n} or {n + 1}.", 0, "hedge"
        yield f"Counting them all gives {n}.", 1, "no marker, last number"
    elif kind == "dyck":
        yield f"So the answer is {gold.replace(' ', '')}.", 1, "brackets without spaces"
        wrong = gold + " )" if not gold.endswith(")") else gold[:-1] + "]"
        yield f"So the answer is {wrong}.", 0, "wrong brackets"
    elif kind == "words":
        words = gold.split()
        yield f"So the answer is {', '.join(words)}.", 1, "comma-separated words"
        if len(set(words)) > 1:
            yield f"So the answer is {' '.join(reversed(words))}.", 0, "reversed order"


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _theoremqa_forms(doc: dict[str, Any]) -> Iterator[Case]:
    gold, kind = doc["gold"], doc["answer_type"]
    yield "", 0, "empty"
    if kind == "float":
        g = float(gold)
        yield f"Therefore, the answer is {gold}.", 1, "marker"
        yield f"Therefore, the answer is \\boxed{{{gold}}}.", 1, "boxed in marker"
        if g:
            yield f"Therefore, the answer is {_fmt(g * 1.02)}.", 1, "within 4 %"
            yield f"Therefore, the answer is {_fmt(g * 1.1)}.", 0, "10 % off"
            yield f"Combining the terms, the result is {gold}.", 1, "no marker: last line after 'is'"
            yield f"Therefore, the answer is approximately {gold} units.", 1, "approximately + unit"
            mant, exp = f"{g:.4e}".split("e")
            yield f"Therefore, the answer is {mant} x 10^{int(exp)}.", 1, "'x 10^k' notation"
            yield f"Therefore, the answer is {mant} \\times 10^{{{int(exp)}}}.", 1, "LaTeX \\times 10^{k}"
        if 0 < abs(g) < 1:
            yield f"Therefore, the answer is {_fmt(g * 100)}%.", 1, "percent of a fraction gold"
    elif kind == "integer":
        n = int(gold)
        yield f"Therefore, the answer is {n}.", 1, "marker"
        yield f"Therefore, the answer is {n + 1}.", 0, "off by one"
        yield f"After simplifying we get x = {n}", 1, "no marker: after '='"
        yield f"So the answer is {n} ways.", 1, "unit word"
    elif kind.startswith("list"):
        items = ", ".join(str(x) for x in gold)
        yield f"Therefore, the answer is [{items}].", 1, "list"
        yield f"Therefore, the answer is ({items}).", 1, "tuple"
        if list(reversed(gold)) != list(gold):
            yield f"Therefore, the answer is [{', '.join(str(x) for x in reversed(gold))}].", 0, "reversed order"
        yield f"Therefore, the answer is [{items}, 0].", 0, "extra element"
    elif kind == "bool":
        word, other = ("True", "False") if gold else ("False", "True")
        yield f"Therefore, the answer is {word}.", 1, "marker"
        yield f"Therefore, the answer is {other}.", 0, "opposite"
        yield f"After checking each case, the statement is {word.lower()}.", 1, "no marker"
    elif kind == "option":
        letter = str(gold).strip("()").lower()
        w = next(c for c in "abcd" if c != letter)
        yield f"Therefore, the answer is ({letter}).", 1, "marker"
        yield f"Therefore, the answer is ({letter.upper()}).", 1, "upper case"
        yield f"Therefore, the answer is ({w}).", 0, "wrong option"


def _drop_forms(doc: dict[str, Any]) -> Iterator[Case]:
    gold = doc["gold"][0]
    yield f"Reading the passage.\nAnswer: {gold}", 1, "Answer: line"
    yield f"Reading the passage.\nAnswer: {gold}.", 1, "trailing period"
    yield "", 0, "empty"
    yield "Answer: zzyzx quux", 0, "unrelated"
    yield f"The passage says so; the answer is {gold}.", 1, "answer is X, no Answer: line"
    if re.fullmatch(r"\d+\.\d+", gold):
        yield f"Answer: {gold}%", 1, "decimal + %"
        yield f"Answer: {gold}%.", 1, "decimal + %."
    if re.fullmatch(r"\d+", gold):
        yield f"Answer: {int(gold) + 3}", 0, "wrong number"
        yield f"Answer: {gold}%", 1, "integer + %"


def _math_forms(doc: dict[str, Any]) -> Iterator[Case]:
    gold = doc["gold"]
    yield f"Working it out.\nThe final answer is $\\boxed{{{gold}}}$.", 1, "boxed"
    yield f"So the answer is ${gold}$. We can check this by substitution.", 1, "marker, then a sentence"
    yield "", 0, "empty"
    yield f"The answer is $\\boxed{{{gold} + 1}}$.", 0, "gold plus one"


FORMS = {
    "arc": _choice_forms, "mmlu": _choice_forms, "hellaswag": _choice_forms, "gsm8k": _gsm8k_forms,
    "bbh": _bbh_forms, "theoremqa": _theoremqa_forms, "drop": _drop_forms, "math": _math_forms,
}


def pick_docs(name: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A spread of real documents: every BBH task, every TheoremQA answer type, ..."""
    if name == "bbh":
        return [d for d in docs if d["doc_id"].endswith(("/0", "/7"))]
    if name == "theoremqa":
        by_type: dict[str, list[dict[str, Any]]] = {}
        for d in docs:
            by_type.setdefault(d["answer_type"], []).append(d)
        return [d for group in by_type.values() for d in group[:: max(1, len(group) // 6)][:6]]
    if name == "drop":
        numeric = [d for d in docs if re.fullmatch(r"\d+(?:\.\d+)?", d["gold"][0])]
        decimal = [d for d in numeric if "." in d["gold"][0]]
        text = [d for d in docs if d not in numeric[:200]][:: 500][:8]
        return decimal[:6] + numeric[:: 200][:6] + text
    if name == "math":
        return docs[:: 500]
    return docs[:: max(1, len(docs) // 6)][:6]


def cases(name: str, docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, int, str]]:
    """``(doc, output, verdict, form)`` for every picked document and form."""
    return [(doc, out, verdict, form) for doc in pick_docs(name, docs) for out, verdict, form in FORMS[name](doc)]
