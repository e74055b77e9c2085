"""What HumanEval+ and MBPP+ share: EvalPlus data, code extraction, sandboxed scoring.

Documents are light (strings only, JSON/Arrow friendly): the test inputs, which hold
tuples, sets and complex numbers, stay inside the engine, which reloads them from the
file named by the document through EvalPlus's own loader.

Metrics (both reported; the headline is ``pass@1_plus``): ``pass@1_base`` — passes the
original tests; ``pass@1_plus`` — passes the original *and* EvalPlus's extra tests. With
one greedy sample per task pass@1 is the fraction of tasks solved. A sample's ``score``
is its plus verdict (1.0/0.0); ``extra`` holds both verdicts and the EvalPlus statuses.
"""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path
from typing import Any, ClassVar

from evaluations.base import Benchmark, BenchmarkDataError, PromptStyle, ScoredSample
from evaluations.engines.evalplus_engine import (
    EvalPlusDataError,
    SandboxLimits,
    check_solutions,
    load_problems,
)

_FENCE = re.compile(r"```[ \t]*[\w+.-]*[ \t]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL)


def fenced_blocks(text: str) -> list[str]:
    """Contents of Markdown code fences, in order (a last fence left open is kept: the
    model hit its token limit mid-block)."""
    return [m.group(1) for m in _FENCE.finditer(text)]


def defines_function(code: str, name: str) -> bool:
    """True when ``code`` parses and defines ``name`` at top level."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
        for node in tree.body
    )


def _import_lines(prompt: str) -> list[str]:
    """Top-level import statements of a task prompt (chat answers often drop them)."""
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return []
    lines = prompt.splitlines()
    return [
        "\n".join(lines[node.lineno - 1 : node.end_lineno])
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]


def _restore_dropped_definitions(code: str, sources: list[str]) -> str:
    """Put back top-level functions/classes that ``code`` uses but the sanitizer dropped.

    EvalPlus's sanitizer keeps only functions containing a ``return`` statement, so a
    generator helper (``yield`` only) disappears and the entry point then fails with a
    NameError (the canonical solution of MBPP/630 is such a case). Definitions are taken
    from the first source that parses, following references until closed.
    """
    try:
        kept = ast.parse(code)
    except SyntaxError:
        return code
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        available = {
            node.name: node for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        }
        defined = {n.name for n in kept.body
                   if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
        restored: list[str] = []
        frontier: list[ast.AST] = [kept]
        while frontier:
            used = {n.id for node in frontier for n in ast.walk(node) if isinstance(n, ast.Name)}
            missing = [name for name in sorted(used) if name in available and name not in defined]
            defined.update(missing)
            frontier = [available[name] for name in missing]
            restored += [ast.get_source_segment(source, available[name]) or "" for name in missing]
        return "\n".join(restored + [code]) if restored else code
    return code


def extract_solution(output: str, prompt: str, entry_point: str) -> str:
    """The program to test, from a model's raw output, through EvalPlus's sanitizer.

    Two shapes are accepted: a *full answer* (the function, usually inside Markdown
    fences, possibly with prose and usage examples around it) and a *bare completion*
    (the function body continuing the prompt, as base models and lm-eval's HumanEval
    write it). Fenced blocks are joined so that a helper defined in one block and the
    entry point in another both survive; ``evalplus.sanitize.sanitize`` then keeps the
    imports and the definitions reachable from the entry point. If that yields no
    entry-point function, the raw output is tried, then both read as a completion of
    ``prompt``. Definitions the sanitizer wrongly dropped (generators) are restored, and
    the prompt's own imports (e.g. ``from typing import List``) are put back in front
    when missing.
    """
    from evalplus.sanitize import sanitize

    blocks = fenced_blocks(output)
    # Candidates in order of preference; a lone closing fence (the answer started with
    # bare code) makes the "fenced" text prose, so the raw output is tried as well.
    bodies = (["\n\n".join(blocks)] if blocks else []) + [output]
    candidates = bodies + [prompt + body for body in bodies]
    code = ""
    for candidate in candidates:
        code = sanitize(candidate, entry_point)
        if defines_function(code, entry_point):
            break
    else:  # no shape defines the entry point: keep the completion reading (it will fail)
        code = sanitize(prompt + bodies[0], entry_point)
    code = _restore_dropped_definitions(code, bodies + [prompt + body for body in bodies])
    missing = [line for line in _import_lines(prompt) if line not in code]
    return "\n".join(missing + [code]) if missing else code


def render_answer(code: str, preface: str = "Here is a solution:") -> str:
    """``code`` written the way a chat model answers: a sentence and a python fence."""
    return f"{preface}\n```python\n{code.strip()}\n```\n"


class EvalPlusBenchmark(Benchmark):
    """Base for HumanEval+ / MBPP+: subclasses set the dataset and file names."""

    kind = "code"
    metric = "pass@1_plus"
    metrics: ClassVar[tuple[str, ...]] = ("pass@1_plus", "pass@1_base")
    dataset: ClassVar[str] = ""
    data_file: ClassVar[str] = ""
    limits: SandboxLimits | None = None  # None: EvalPlus's defaults

    # ------------------------------------------------------------------ data
    def data_path(self, data_dir: Path) -> Path:
        """Where this benchmark's EvalPlus file lives under ``data_dir``."""
        return Path(data_dir) / self.data_subdir / self.data_file

    def _problems(self, data_dir: Path) -> dict[str, dict[str, Any]]:
        path = self.data_path(data_dir)
        if not path.is_file():
            raise BenchmarkDataError(
                f"{self.name}: expected file {path} not found ({self.expected_files})"
            )
        try:
            return load_problems(self.dataset, path)  # type: ignore[arg-type]
        except EvalPlusDataError as exc:
            raise BenchmarkDataError(f"{self.name}: {exc} (expected {self.expected_files})") from exc

    def docs(self, data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
        """One document per task, in the file's order; ``doc_id`` is EvalPlus's task id."""
        problems = self._problems(data_dir)
        path = str(self.data_path(data_dir).resolve())
        docs = [
            {
                "doc_id": task_id,
                "task_id": task_id,
                "prompt": p["prompt"],
                "entry_point": p["entry_point"],
                "canonical_solution": p["canonical_solution"],
                "data_path": path,
                **self._extra_fields(p, Path(data_dir)),
            }
            for task_id, p in problems.items()
        ]
        return docs if limit is None else docs[:limit]

    def _extra_fields(self, problem: dict[str, Any], data_dir: Path) -> dict[str, Any]:
        """Subclass hook: more string fields a prompt style needs."""
        return {}

    # ---------------------------------------------------------------- scoring
    def extract(self, doc: dict[str, Any], output: str) -> str:
        """The program that will be tested for ``output``."""
        return extract_solution(output, doc["prompt"], doc["entry_point"])

    def score(self, doc: dict[str, Any], output: str) -> ScoredSample:
        """Score one output (a batch of one; prefer :meth:`score_batch`)."""
        return self.score_batch([doc], [output])[0]

    def score_batch(self, docs: list[dict[str, Any]], outputs: list[str]) -> list[ScoredSample]:
        """Extract every program, then judge them all in one sandboxed EvalPlus batch."""
        if len(docs) != len(outputs):
            raise ValueError(f"{self.name}: {len(docs)} docs but {len(outputs)} outputs")
        if not docs:
            return []
        paths = {doc["data_path"] for doc in docs}
        if len(paths) != 1:
            raise ValueError(f"{self.name}: documents come from several files: {sorted(paths)}")
        programs = [self.extract(doc, out) for doc, out in zip(docs, outputs, strict=True)]
        try:
            verdicts = check_solutions(
                self.dataset,  # type: ignore[arg-type]
                Path(paths.pop()),
                [(doc["task_id"], prog) for doc, prog in zip(docs, programs, strict=True)],
                limits=self.limits,
            )
        except EvalPlusDataError as exc:
            raise BenchmarkDataError(f"{self.name}: {exc}") from exc
        return [
            ScoredSample(
                benchmark=self.name,
                doc_id=doc["doc_id"],
                prompt=doc["prompt"],
                output=out,
                extracted=prog,
                gold=doc["prompt"] + doc["canonical_solution"],
                score=1.0 if verdict.passed_plus else 0.0,
                extra=verdict.as_dict(),
            )
            for doc, out, prog, verdict in zip(docs, outputs, programs, verdicts, strict=True)
        ]

    def aggregate(self, samples: list[ScoredSample]) -> dict[str, float]:
        """``pass@1_plus`` and ``pass@1_base`` over scored samples (one per task)."""
        n = len(samples)
        if n == 0:
            return {"pass@1_plus": 0.0, "pass@1_base": 0.0}
        return {
            "pass@1_plus": sum(bool(s.extra.get("pass@1_plus")) for s in samples) / n,
            "pass@1_base": sum(bool(s.extra.get("pass@1_base")) for s in samples) / n,
        }

    # ---------------------------------------------------------------- oracles
    def gold_output(self, doc: dict[str, Any]) -> str:
        """The canonical solution (with its prompt) as a chat model would write it."""
        return render_answer(doc["prompt"] + doc["canonical_solution"])

    def wrong_output(self, doc: dict[str, Any], rng: random.Random) -> str:
        """A well-formed function with the right name that does not solve the task."""
        body = rng.choice(["return None", "raise NotImplementedError"])
        return render_answer(f"def {doc['entry_point']}(*args, **kwargs):\n    {body}\n")

    def generation_kwargs(self, style: PromptStyle = "paper") -> dict[str, Any]:
        """Greedy; EvalPlus's default budget of 768 new tokens."""
        return {"until": [], "do_sample": False, "max_gen_toks": 768}
