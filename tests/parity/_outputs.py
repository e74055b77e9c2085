"""Varied model outputs for the parity fixtures (stdlib only: runs in the reference venv).

Each family returns ``(kind, output)`` pairs for one item: correct answers in many formats,
hedges, chatter, wrong answers, empty outputs, several candidates, markdown/boxed/LaTeX.
Outputs only quote short answer strings (letters, numbers, short spans), never passages.
"""

from __future__ import annotations

import random

CHATTER = ["Let me think about this carefully.", "Sure! Here is my reasoning.", "Okay, step by step:",
           "First, recall the relevant facts.", "Hmm, this is tricky.", ""]


def _c(rng: random.Random) -> str:
    return rng.choice(CHATTER)


def choice_outputs(gold: str, wrong: str, gold_text: str, rng: random.Random) -> list[tuple[str, str]]:
    """Outputs for a lettered multiple-choice item (ARC, MMLU, HellaSwag)."""
    g, w, t = gold, wrong, gold_text[:60]
    return [
        ("bare", g), ("bare-dot", f"{g}."), ("paren", f"({g})"), ("letter-text", f"{g}. {t}"),
        ("answer-is", f"{_c(rng)} The answer is {g}."), ("answer-is-paren", f"The answer is ({g})."),
        ("answer-colon", f"Answer: {g}"), ("bold", f"**{g}**"), ("bold-answer", f"**Answer: {g}**"),
        ("correct-answer-is", f"The correct answer is {g} because it fits."), ("boxed", f"$\\boxed{{{g}}}$"),
        ("lower", f"the answer is {g.lower()}"), ("hedge", f"I think it's {g}, but maybe {w}."),
        ("hedge-rev", f"It could be {w}, but I'd say {g}."), ("two-candidates", f"Between {w} and {g}, I choose {g}."),
        ("wrong-bare", w), ("wrong-answer-is", f"The answer is {w}."), ("empty", ""), ("unsure", "I don't know."),
        ("text-only", t), ("letter-then-explain", f"{g}\n\nExplanation: {t} is the best fit."),
        ("self-correct", f"Answer: {w}\nWait, actually the answer is {g}."), ("option-word", f"Option {g} is correct."),
        ("none", "None of the options is correct."), ("chinese", f"答案是{g}"),
        ("cot-then-answer", f"{_c(rng)} Option {w} is wrong. Therefore, the answer is {g}"),
        ("trailing-letter", f"After careful analysis, the best choice is: {g}"),
        ("markdown-list", f"- {w}: no\n- {g}: yes"),
    ]


def number_outputs(gold: str, wrong: str, rng: random.Random) -> list[tuple[str, str]]:
    """Outputs for a numeric/LaTeX final answer (GSM8K, MATH)."""
    g, w = gold, wrong
    return [
        ("boxed", f"{_c(rng)}\nThe final answer is \\boxed{{{g}}}."), ("boxed-dollar", f"So $\\boxed{{{g}}}$"),
        ("boxed-double", f"\\boxed{{{{{g}}}}}"), ("boxed-spaces", f"\\boxed{{ {g} }}"),
        ("answer-is", f"The answer is {g}."),
        ("final-answer-is", f"Final Answer: The final answer is ${g}$. I hope it is correct."),
        ("answer-colon", f"Answer: {g}"), ("bare", g), ("bold", f"**{g}**"), ("empty", ""), ("unsure", "I don't know."),
        ("wrong-boxed", f"\\boxed{{{w}}}"), ("wrong-answer-is", f"The answer is {w}."),
        ("two-boxed-last-wrong", f"\\boxed{{{g}}} Wait, let me recheck. \\boxed{{{w}}}"),
        ("two-boxed-last-right", f"First guess \\boxed{{{w}}}, corrected: \\boxed{{{g}}}"),
        ("fbox", f"\\fbox{{{g}}}"), ("boxed-nobrace", f"\\boxed {g}"),
        ("boxed-text-unit", f"\\boxed{{{g}\\text{{ units}}}}"),
        ("boxed-dollars", f"\\boxed{{\\${g}}}"), ("boxed-percent", f"\\boxed{{{g}\\%}}"),
        ("boxed-eq", f"\\boxed{{x = {g}}}"),
        ("boxed-trailing-dot", f"\\boxed{{{g}.}}"),
        ("sentence-then-chatter", f"The answer is {g}. Let me double check: {w}?"),
        ("chatter-number", f"We get {w} apples, then {g} in total."), ("approx", f"The result is approximately {g}"),
        ("unbalanced-box", f"\\boxed{{{g}"), ("therefore", f"Therefore x = {g}."),
        ("answer-is-dollar", f"The answer is: ${g}$"),
    ]


def theoremqa_outputs(gold: str, wrong: str, rng: random.Random) -> list[tuple[str, str]]:
    """Outputs for a TheoremQA item (gold rendered as a string of its answer type)."""
    g, w = gold, wrong
    return [
        ("therefore", f"{_c(rng)}\nTherefore, the answer is {g}."), ("answer-is", f"The answer is {g}"),
        ("answer-is-colon", f"The answer is: {g}"), ("dollar", f"The answer is ${g}$."),
        ("boxed", f"The answer is \\boxed{{{g}}}."),
        ("bare", g), ("empty", ""), ("unsure", "I am not sure."), ("wrong", f"Therefore, the answer is {w}."),
        ("unit", f"Therefore, the answer is {g} meters."), ("approx", f"The answer is approximately {g}."),
        ("eq", f"So x = {g}. Therefore, the answer is x = {g}."),
        ("two-answers", f"The answer is {w}. Actually, the answer is {g}."),
        ("no-trigger-number", f"We compute {w} first and finally {g}."), ("bold", f"Therefore, the answer is **{g}**."),
        ("icl-repeat", f"The answer is {g}.\n\nProblem: next one. The answer is {w}."),
        ("hedge-no", f"It is not obvious. Therefore, the answer is {g}"),
        ("yes-word", f"Yes. Therefore, the answer is {g}."),
        ("latex-frac", f"Therefore, the answer is \\frac{{{g}}}{{1}}."), ("percent", f"Therefore, the answer is {g}%."),
    ]


def bbh_outputs(gold: str, wrong: str, rng: random.Random) -> list[tuple[str, str]]:
    """Outputs for a BBH item (gold = the target string, ``(X)`` for option tasks)."""
    g, w = gold, wrong
    return [
        ("so-answer", f"{_c(rng)} So the answer is {g}."), ("answer-is-nodot", f"the answer is {g}"),
        ("bold", f"So the answer is **{g}**."), ("answer-colon", f"So the answer is: {g}."), ("bare", g),
        ("empty", ""), ("unsure", "I cannot determine this."), ("wrong", f"So the answer is {w}."),
        ("two-answers-first-right", f"So the answer is {g}.\n\nQ: another question\nA: So the answer is {w}."),
        ("two-answers-last-right", f"I first thought the answer is {w}. On reflection the answer is {g}."),
        ("lower", f"So the answer is {g.lower()}."), ("upper", f"So the answer is {g.upper()}."),
        ("trailing", f"So the answer is {g}, as shown above."), ("newline", f"So the answer is\n{g}"),
        ("chatter-after", f"So the answer is {g}.\nI hope this helps!"), ("capital-the", f"The answer is {g}."),
        ("hedge", f"It might be {w}, but the answer is {g}."), ("markdown", f"**Answer:** {g}"),
    ]


def drop_outputs(golds: list[str], wrong: str, rng: random.Random) -> list[tuple[str, str]]:
    """Outputs for a DROP item (golds = its ``|``-separated alternatives)."""
    g, w = golds[0], wrong
    alt = golds[-1]
    return [
        ("answer", f"{_c(rng)}\nAnswer: {g}"), ("answer-lower", f"answer: {g}"), ("bare", g), ("empty", ""),
        ("unsure", "I don't know."), ("wrong", f"Answer: {w}"), ("unit", f"Answer: {g} yards"),
        ("about", f"Answer: about {g}"),
        ("bold", f"**Answer:** {g}"), ("newline", f"Answer:\n{g}"),
        ("two-answers-first-right", f"Answer: {g}\nAnswer: {w}"),
        ("two-answers-first-wrong", f"Answer: {w}\nAnswer: {g}"), ("answer-is", f"The answer is {g}."),
        ("alt-gold", f"Answer: {alt}"), ("punct", f"Answer: \"{g}.\""), ("article", f"Answer: the {g}"),
        ("chatter-no-marker", f"The passage says {w} and later {g}."), ("number-prefix", f"Answer: {g}0"),
        ("answer-empty", "Answer: \nI could not find it."),
    ]
