"""OpenCompass's BBH scoring (config ``bbh_gen_5b92b0``), ported from OpenCompass 0.4.2
``opencompass/datasets/bbh.py`` (Apache-2.0; tag 0.4.2 = dc8deb6a).

Multiple-choice tasks: ``BBHEvaluator_mcq`` compares ``bbh_mcq_postprocess`` of the
prediction with ``bbh_mcq_postprocess`` of the target (the config's
``dataset_postprocessor``). Free-form tasks: ``BBHEvaluator`` compares
``bbh_freeform_postprocess`` of the prediction with the raw target, exactly (0.4.2 does not
postprocess the target nor fold case; OpenCompass changed that after the paper, #2548).
"""

from __future__ import annotations

import re

# bbh_gen_5b92b0's split of the 27 tasks.
MCQ_TASKS = frozenset({
    'temporal_sequences', 'disambiguation_qa', 'date_understanding',
    'tracking_shuffled_objects_three_objects', 'penguins_in_a_table', 'geometric_shapes',
    'snarks', 'ruin_names', 'tracking_shuffled_objects_seven_objects',
    'tracking_shuffled_objects_five_objects', 'logical_deduction_three_objects', 'hyperbaton',
    'logical_deduction_five_objects', 'logical_deduction_seven_objects', 'movie_recommendation',
    'salient_translation_error_detection', 'reasoning_about_colored_objects',
})
FREE_FORM_TASKS = frozenset({
    'multistep_arithmetic_two', 'navigate', 'dyck_languages', 'word_sorting',
    'sports_understanding', 'boolean_expressions', 'object_counting', 'formal_fallacies',
    'causal_judgement', 'web_of_lies',
})


def bbh_mcq_postprocess(text: str) -> str:
    """The option letter after the first "answer is " (else in the whole text)."""
    ans = text
    ans_line = ans.split('answer is ')
    if len(ans_line) != 1:
        ans = ans_line[1].strip()
    match = re.search(r'\(([A-Z])\)*', ans)
    if match:
        return match.group(1)
    match = re.search(r'([A-Z])', ans)
    if match:
        return match.group(1)
    return ans


def bbh_freeform_postprocess(text: str) -> str:
    """The first line after the first "answer is ", trailing '.' and ``**bold**`` removed."""
    ans = text
    ans_line = ans.split('answer is ')
    if len(ans_line) != 1:
        ans = ans_line[1].strip()
    ans = ans.split('\n')[0].strip()

    if ans.endswith('.'):
        ans = ans[:-1].strip()

    match = re.search(r'\*\*(.*?)\*\*', ans)
    if match:
        return match.group(1)

    return ans


def bbh_score(task: str, target: str, prediction: str) -> tuple[str, bool]:
    """(extracted prediction, correct) under the task's evaluator in ``bbh_gen_5b92b0``."""
    if task in MCQ_TASKS:
        pred = bbh_mcq_postprocess(prediction)
        return pred, pred == bbh_mcq_postprocess(target)
    if task in FREE_FORM_TASKS:
        pred = bbh_freeform_postprocess(prediction)
        return pred, pred == target
    raise ValueError(f"bbh: task {task!r} is in neither list of bbh_gen_5b92b0")
