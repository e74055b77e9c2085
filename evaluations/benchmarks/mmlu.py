"""MMLU (cais/mmlu ``all`` test parquet, 57 subjects), generative multiple choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluations.base import BenchmarkDataError, PromptStyle
from evaluations.benchmarks import _lm_eval_prompts
from evaluations.benchmarks._choice import LETTERS, ChoiceBenchmark
from evaluations.benchmarks._files import require, take

FILE = "test-00000-of-00001.parquet"

PAPER_TEMPLATE = (
    "{hint}\nQuestion: {question}\nA. {A}\nB. {B}\nC. {C}\nD. {D}\n\n"
    "For simple problems:\nDirectly provide the answer with minimal explanation.\n\n"
    "For complex problems:\nUse this step-by-step format:\n## Step 1: [Concise description]\n"
    "[Brief explanation]\n## Step 2: [Concise description]\n[Brief explanation]\n\n"
    "Regardless of the approach, always conclude with:\nThe answer is [the_answer_letter].\n"
    "where the [the_answer_letter] is one of A, B, C or D.\n\nLet's think step by step."
)


class MMLU(ChoiceBenchmark):
    """MMLU test split (14042 questions); doc ids ``<subject>/<index within subject>``."""

    name = "mmlu"
    # 2.0: robust-extract metric, per-subtask rows, content-aware resume;
    # 3.0: OpenCompass scoring (first_option_postprocess)
    version = 3.0
    data_subdir = "mmlu"
    expected_files = f"mmlu/{FILE} (parquet: question, subject, choices[4], answer 0-3)"
    max_gen_toks = 384

    def docs(self, data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
        """Rows in file order (grouped by subject, as published)."""
        import pyarrow.parquet as pq

        path = require(Path(data_dir) / self.data_subdir / FILE, self.name, self.expected_files)
        try:
            table = pq.read_table(path, columns=["question", "subject", "choices", "answer"])
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise BenchmarkDataError(f"{self.name}: cannot read {path} ({exc}); "
                                     f"expected {self.expected_files}") from exc
        counters: dict[str, int] = {}
        docs = []
        for row in table.to_pylist():
            subject = row["subject"]
            index = counters.get(subject, 0)
            counters[subject] = index + 1
            if len(row["choices"]) != 4 or row["answer"] not in range(4):
                raise BenchmarkDataError(f"{self.name}: {path}: row {subject}/{index} has malformed choices/answer")
            docs.append(
                {
                    "doc_id": f"{subject}/{index}",
                    "subject": subject,
                    "question": row["question"],
                    "choices": list(row["choices"]),
                    "gold": LETTERS[row["answer"]],
                }
            )
        return take(docs, limit)

    def subtask(self, doc: dict[str, Any]) -> str:
        """The MMLU subject (57 of them, e.g. ``abstract_algebra``)."""
        return doc["subject"]

    def prompt(self, doc: dict[str, Any], style: PromptStyle = "paper") -> str:
        """Paper: InfiGFusion MMLU template (hint names the subject, OpenCompass wording);
        lm-eval: ``mmlu_<subject>_generative`` description + doc_to_text."""
        if style == "lm-eval":
            return _lm_eval_prompts.prompt(f"mmlu/generative/mmlu_{doc['subject']}.yaml", doc)
        subject = doc["subject"].replace("_", " ")
        hint = f"There is a single choice question about {subject}. Answer the question by replying A, B, C or D."
        a, b, c, d = doc["choices"]
        return PAPER_TEMPLATE.format(hint=hint, question=doc["question"], A=a, B=b, C=c, D=d)
