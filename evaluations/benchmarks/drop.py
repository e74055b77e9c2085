"""DROP dev (OpenAI simple-evals JSONL.gz), scored as the paper's OpenCompass pipeline.

``context`` holds passage + ``Question: ... Answer:``; ``ref_text`` lists ``|``-separated
gold alternatives. Paper style is OpenCompass's ``drop_openai_simple_evals_gen_3857b0``:
its template and its three fixed examples (:mod:`._drop_examples`), scored by
``DropOpenAIEvaluator`` — fuzzy-match accuracy, the headline metric. The official DROP
EM/F1 stay beside it. Those examples are dev questions (OpenCompass scores them too); here
they are left out of the scored set: 9533 of the file's 9536 questions. simple-evals'
train file, which would avoid that, is not available offline.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from evaluations.base import Benchmark, PromptStyle, ScoredSample, robust_extra
from evaluations.benchmarks._drop_examples import DROP_EXAMPLES, EXAMPLE_DEV_LINES
from evaluations.benchmarks._files import read_jsonl, take
from evaluations.scoring.drop import drop_em_f1
from evaluations.scoring.opencompass.drop import drop_fuzzy_correct, fuzzy_match
from evaluations.scoring.robust_drop import robust_drop

FILE = "drop_v0_dev.jsonl.gz"


def extract_drop_answer(output: str) -> str:
    """The text of the last ``Answer: ...`` line; else the whole stripped output (for F1/EM)."""
    found = re.findall(r"^\s*\**Answer\**\s*:\s*(.+)$", output, re.IGNORECASE | re.MULTILINE)
    return (found[-1] if found else output).strip()


class DROP(Benchmark):
    """DROP dev set; headline ``accuracy`` (DropOpenAIEvaluator), ``f1``/``em`` in ``extra``."""

    name = "drop"
    # 2.0: robust-extract metric, per-subtask rows, content-aware resume;
    # 3.0: OpenCompass prompt + examples, DropOpenAIEvaluator accuracy headline, example
    #      questions no longer scored
    version = 3.0
    metric = "accuracy"
    data_subdir = "drop"
    expected_files = f"drop/{FILE} (gzipped simple-evals JSONL: context, completion, ref_text)"

    def docs(self, data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
        """Questions in file order but the prompt's three examples; doc id = 0-based line index."""
        path = Path(data_dir) / self.data_subdir / FILE
        records = read_jsonl(path, self.name, self.expected_files, ("context", "completion", "ref_text"))
        docs = [
            {
                "doc_id": str(i),
                "context": r["context"],
                "ref_text": r["ref_text"],
                "gold": [alt for alt in r["ref_text"].split("|") if alt.strip()],
            }
            for i, r in enumerate(records)
            if i not in EXAMPLE_DEV_LINES
        ]
        return take(docs, limit)

    def prompt(self, doc: dict[str, Any], style: PromptStyle = "paper") -> str:
        """Paper: ``drop_openai_simple_evals_gen_3857b0``'s template; lm-eval: the context."""
        if style == "lm-eval":
            return doc["context"]
        return (
            "You will be asked to read a passage and answer a question. Some examples of passages "
            f"and Q&A are provided below.\n\n{DROP_EXAMPLES}\n\n# Your Task\n\n---\n{doc['context']}\n\n"
            'Think step by step, then write a line of the form "Answer: $ANSWER" at the end of your response.'
        )

    def generation_kwargs(self, style: PromptStyle = "paper") -> dict[str, Any]:
        """Greedy; lm-eval style stops at the first period as lm-eval's drop task does."""
        if style == "lm-eval":
            return {"until": ["."], "do_sample": False, "max_gen_toks": 64}
        return {"until": [], "do_sample": False, "max_gen_toks": 512}

    def score(self, doc: dict[str, Any], output: str) -> ScoredSample:
        """DropOpenAIEvaluator: the first ``Answer:`` fuzzy-matches a gold alternative;
        official DROP EM/F1 (last ``Answer:`` line) in ``extra``."""
        got, correct = drop_fuzzy_correct(output, doc["ref_text"])
        em, f1 = drop_em_f1(extract_drop_answer(output), doc["gold"])
        answer, r_em, r_f1 = robust_drop(output, doc["gold"])
        # The robust row's "score" is reported under the headline name, so it is the same
        # fuzzy-match accuracy, on the robust extractor's answer; its F1/EM ride along.
        r_acc = answer is not None and any(fuzzy_match(answer, g) for g in doc["ref_text"].split("|"))
        return ScoredSample(self.name, doc["doc_id"], "", output, got, doc["gold"], float(correct),
                            {"em": em, "f1": f1, "robust": robust_extra(answer, r_acc, em=r_em, f1=r_f1)})

    def gold_output(self, doc: dict[str, Any]) -> str:
        """Reasoning then ``Answer: <first gold alternative>``."""
        return f"Reading the passage carefully.\nAnswer: {doc['gold'][0]}"

    def wrong_output(self, doc: dict[str, Any], rng: random.Random) -> str:
        """An answer sharing no token with the gold."""
        return "Answer: " + rng.choice(["zebra crossing", "purple elephants", "xylophone"])
