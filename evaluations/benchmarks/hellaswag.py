"""HellaSwag validation (10042 items, 6-line text format), generative multiple choice.

The shared data is the derived text file (``activity_label: ctx`` already joined), so the
``lm-eval`` style cannot reproduce lm-eval's loglikelihood task exactly; it uses lm-eval's
``preprocess`` cleanup on the context and lists the endings in the MMLU-generative format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluations.base import BenchmarkDataError, PromptStyle
from evaluations.benchmarks._choice import LETTERS, ChoiceBenchmark, lettered
from evaluations.benchmarks._files import read_text, take

FILE = "hellaswag_val_full.txt.bz2"
LINES_PER_ITEM = 6


def paper_ctx(ctx: str) -> str:
    """``"<activity label>: <context>"`` -> ``"<context>"``, as OpenCompass's HellaswagDataset_V2
    (``query.split(': ', 1)[-1]``)."""
    return ctx.split(": ", 1)[-1]


class HellaSwag(ChoiceBenchmark):
    """HellaSwag validation split, 4 endings per context."""

    name = "hellaswag"
    # 2.0: robust-extract metric, per-subtask rows, content-aware resume;
    # 3.0: OpenCompass scoring (first_option_postprocess) and its
    #      prompt without the activity-label prefix
    version = 3.0
    data_subdir = "hellaswag"
    expected_files = f"hellaswag/{FILE} (bz2 text, 6 lines per item: context, gold label 0-3, 4 endings)"

    def docs(self, data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
        """Items in file order; doc ids are the 0-based item index."""
        path = Path(data_dir) / self.data_subdir / FILE
        lines = read_text(path, self.name, self.expected_files).split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        if len(lines) % LINES_PER_ITEM:
            raise BenchmarkDataError(
                f"{self.name}: {path}: {len(lines)} lines is not a multiple of {LINES_PER_ITEM}; "
                f"expected {self.expected_files}"
            )
        docs = []
        for i in range(0, len(lines), LINES_PER_ITEM):
            ctx, label, *endings = lines[i : i + LINES_PER_ITEM]
            if label.strip() not in ("0", "1", "2", "3"):
                raise BenchmarkDataError(
                    f"{self.name}: {path}:{i + 2}: gold label {label!r} is not 0-3; expected {self.expected_files}"
                )
            docs.append({"doc_id": str(i // LINES_PER_ITEM), "ctx": ctx, "choices": endings,
                         "gold": LETTERS[int(label)]})
        return take(docs, limit)

    def prompt(self, doc: dict[str, Any], style: PromptStyle = "paper") -> str:
        """Paper: the InfiGFusion HellaSwag template on OpenCompass's ``ctx`` (HellaswagDataset_V2:
        the query after its first ``": "``, i.e. without the activity label); lm-eval: see
        module docstring."""
        if style == "lm-eval":
            from lm_eval.tasks.hellaswag.utils import preprocess

            return f"{preprocess(doc['ctx'])}\n{lettered([preprocess(e) for e in doc['choices']])}\nAnswer:"
        return (
            f"{paper_ctx(doc['ctx'])}\nQuestion: Which ending makes the most sense?\n"
            "Directly give me the correct choice, you can further explain it or not.\n"
            f"{lettered(doc['choices'])}\nYou may choose from 'A', 'B', 'C', 'D'.\nAnswer:"
        )
