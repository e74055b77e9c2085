"""The robust metric against hand verdicts, on real documents (see ``_robust_cases``).

Every form's verdict was fixed by hand; the test asserts the robust metric agrees on
every case and prints, per benchmark, the agreement of both the robust and the
reference metric (the latter documents the defects the robust extractor fixes).
"""

from __future__ import annotations

import pytest
from _eval_common import DATA_DIR
from _robust_cases import FORMS, cases

from evaluations import registry


@pytest.mark.parametrize("name", sorted(FORMS))
def test_robust_metric_agrees_with_hand_verdicts(name):
    bench = registry.get(name)
    suite = cases(name, bench.docs(DATA_DIR))
    robust_wrong, reference_agree = [], 0
    for doc, output, verdict, form in suite:
        sample = bench.score(doc, output)
        robust = sample.extra["robust"]
        credited = robust["score"] >= 0.999 if verdict else robust["score"] <= 0.001
        if not credited:
            robust_wrong.append((form, doc["doc_id"], robust["extracted"], output[:120]))
        reference_agree += (sample.score >= 0.999) == bool(verdict)
    n = len(suite)
    print(f"{name}: {n} cases, robust agrees {n - len(robust_wrong)}/{n}, reference agrees {reference_agree}/{n}")
    assert n >= 40
    assert not robust_wrong, f"{name}: {len(robust_wrong)} disagreements, e.g. {robust_wrong[:5]}"
