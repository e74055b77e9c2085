"""ARC-Challenge (AI2 ARC-V1-Feb2018 test JSONL), generative multiple choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluations.base import BenchmarkDataError, PromptStyle
from evaluations.benchmarks import _lm_eval_prompts
from evaluations.benchmarks._choice import LETTERS, ChoiceBenchmark, lettered
from evaluations.benchmarks._files import read_jsonl, take

FILE = "ARC-Challenge-Test.jsonl"


class ARCChallenge(ChoiceBenchmark):
    """ARC-Challenge test set (1172 questions, 3-5 options; numeric labels mapped to letters)."""

    name = "arc"
    # 2.0: robust-extract metric, per-subtask rows, content-aware resume;
    # 3.0: OpenCompass scoring (first_option_postprocess)
    version = 3.0
    data_subdir = "arc_challenge"
    expected_files = f"arc_challenge/{FILE} (AI2 JSONL: id, question.stem, question.choices[{{text,label}}], answerKey)"

    def docs(self, data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
        """Test questions in file order; labels ``1``-``5`` become ``A``-``E`` as in lm-eval."""
        return take(self.read_docs(Path(data_dir) / self.data_subdir / FILE), limit)

    def read_docs(self, path: Path) -> list[dict[str, Any]]:
        """The documents of one ARC JSONL file (test, dev or train: the same AI2 format)."""
        path = Path(path)
        docs = []
        for lineno, rec in enumerate(
            read_jsonl(path, self.name, self.expected_files, ("id", "question", "answerKey")), 1
        ):
            try:
                choices = rec["question"]["choices"]
                labels = [c["label"] for c in choices]
                texts = [c["text"] for c in choices]
                gold = LETTERS[labels.index(rec["answerKey"])]
                stem = rec["question"]["stem"]
            except (KeyError, TypeError, ValueError) as exc:
                raise BenchmarkDataError(
                    f"{self.name}: {path}:{lineno}: malformed record ({exc!r}); expected {self.expected_files}"
                ) from exc
            docs.append({"doc_id": rec["id"], "question": stem, "choices": texts, "gold": gold})
        return docs

    def prompt(self, doc: dict[str, Any], style: PromptStyle = "paper") -> str:
        """Paper: the InfiGFusion ARC-C template; lm-eval: ``arc_challenge_chat``'s doc_to_text."""
        if style == "lm-eval":
            hf_doc = {"question": doc["question"], "choices": {"text": doc["choices"]}}
            return _lm_eval_prompts.prompt("arc/arc_challenge_chat.yaml", hf_doc)
        return (
            f"Question: {doc['question']}\n{lettered(doc['choices'])}\n"
            "Directly give me the correct answer option, and then explain:"
        )
