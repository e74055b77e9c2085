"""OpenCompass's ``DropOpenAIEvaluator`` (config ``drop_openai_simple_evals_gen_3857b0``).

Ported from OpenCompass 0.4.2 ``opencompass/datasets/drop_simple_eval.py`` (Apache-2.0; tag
0.4.2 = dc8deb6a; itself from openai/simple-evals ``drop_eval.py``). The headline number is
``accuracy``: the share of items whose extracted answer fuzzy-matches (one normalised string
contains the other) any ``|``-separated gold alternative. Not F1.
"""

from __future__ import annotations

import re
import string

ANSWER_PATTERN = r'(?i)Answer\s*:\s*([^\n]+)'


def normalize(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace."""
    s = s.lower()
    exclude = set(string.punctuation)
    s = ''.join(char for char in s if char not in exclude)
    s = re.sub(r'\b(a|an|the)\b', ' ', s)
    s = ' '.join(s.split())
    return s


def fuzzy_match(s1: str, s2: str) -> bool:
    """Normalised containment either way; two empty strings match, one empty does not."""
    s1 = normalize(s1)
    s2 = normalize(s2)

    if s1 == '' or s2 == '':
        return s1 == s2

    return s1 in s2 or s2 in s1


def extract_answer(prediction: str) -> str:
    """The text after the FIRST ``Answer:`` (the newline after it may be skipped), else all."""
    match = re.search(ANSWER_PATTERN, prediction)
    return match.group(1) if match else prediction


def drop_fuzzy_correct(prediction: str, ref_text: str) -> tuple[str, bool]:
    """(extracted answer, correct) for one item; ``ref_text`` is the ``|``-joined golds."""
    extracted_answer = extract_answer(prediction)
    refrs = ref_text.split('|')
    matches = [fuzzy_match(extracted_answer, correct_answer) for correct_answer in refrs]
    return extracted_answer, True in matches
