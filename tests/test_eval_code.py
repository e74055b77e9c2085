"""HumanEval+ / MBPP+ through EvalPlus: real data, real sandboxed execution.

The full oracle (all 164 + 378 tasks) lives in ``bench/evalplus_oracle.py`` (minutes on
2 cores); here a deterministic slice — every 8th task, 21 + 48 — runs the same checks.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import time
from pathlib import Path

import pytest

from evaluations.base import BenchmarkDataError
from evaluations.benchmarks._evalplus_common import extract_solution, fenced_blocks
from evaluations.benchmarks.humaneval import HumanEval
from evaluations.benchmarks.mbpp import MBPP
from evaluations.engines.evalplus_engine import SandboxLimits

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("WORKBENCH_DATA_DIR", REPO.parent / "shared" / "benchmarks"))
STRIDE = 8  # every 8th task: 21 HumanEval+ and 48 MBPP+ tasks

pytestmark = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"benchmark data not at {DATA_DIR}")


@pytest.fixture(scope="session")
def humaneval() -> HumanEval:
    return HumanEval()


@pytest.fixture(scope="session")
def mbpp() -> MBPP:
    return MBPP()


@pytest.fixture(scope="session")
def he_docs(humaneval):
    return humaneval.docs(DATA_DIR)


@pytest.fixture(scope="session")
def mbpp_docs(mbpp):
    return mbpp.docs(DATA_DIR)


def other_task_solution(doc: dict, other: dict) -> str:
    """Another task's canonical solution, renamed to this task's entry point: callable,
    well-formed, and wrong."""
    code = other["prompt"] + other["canonical_solution"]
    code = re.sub(rf"\b{re.escape(other['entry_point'])}\b", doc["entry_point"], code)
    return f"```python\n{code}\n```"


# ------------------------------------------------------------------------ loading
def test_full_files_load_in_official_order(he_docs, mbpp_docs, mbpp):
    assert len(he_docs) == 164 and len(mbpp_docs) == 378
    assert [d["doc_id"] for d in he_docs] == [f"HumanEval/{i}" for i in range(164)]
    assert mbpp_docs[0]["doc_id"] == "Mbpp/2"
    for docs in (he_docs, mbpp_docs):
        assert len({d["doc_id"] for d in docs}) == len(docs)
        # Documents are plain strings (JSON-able): test inputs stay inside the engine.
        json.dumps(docs)
    assert [d["doc_id"] for d in mbpp.docs(DATA_DIR, limit=5)] == [d["doc_id"] for d in mbpp_docs[:5]]


def test_prompts(humaneval, mbpp, he_docs, mbpp_docs):
    doc = he_docs[0]
    # HumanEval keeps its original prompt in both styles.
    assert humaneval.prompt(doc, "paper") == humaneval.prompt(doc, "lm-eval") == doc["prompt"]
    assert "def has_close_elements(" in doc["prompt"]
    m = mbpp_docs[0]
    paper = mbpp.prompt(m, "paper")
    assert paper.startswith("Please provide a self-contained Python script")
    assert "Write a function to find the shared elements" in paper and "assert set(similar_elements" in paper
    lm = mbpp.prompt(m, "lm-eval")
    assert lm.count("[DONE]") == 3 and lm.endswith("[BEGIN]\n")
    assert lm.count("You are an expert Python programmer") == 4
    assert "def similar_elements(test_tup1, test_tup2)" in lm  # few-shot example, task 2
    assert mbpp.generation_kwargs("lm-eval")["until"] == ["[DONE]"]


# --------------------------------------------------------------------- extraction
def test_extraction_shapes(he_docs):
    doc = he_docs[2]  # truncate_number: prompt has no imports
    entry, body = doc["entry_point"], doc["canonical_solution"]
    full = doc["prompt"] + body
    chatty = (f"Sure! Here's the function:\n```python\n{full}\n```\nExample:\n```python\n"
              f"print({entry}(3.5))\n```\nHope this helps.")
    # SmolLM2-135M-Instruct's real shape: bare code, then a lone closing fence and prose.
    lone_close = f"{full}\n# Example usage:\nprint({entry}(3.5))\n```\n\nIn this code, `{entry}` works."
    for output in (chatty, body, f"```python\n{full}", full, lone_close):
        code = extract_solution(output, doc["prompt"], entry)
        namespace: dict = {}
        exec(compile(code, "<extracted>", "exec"), namespace)  # trusted: the dataset's own code
        assert namespace[entry](3.5) == 0.5, output
        assert "print(" not in code
    # Prompt imports are restored when a chat answer drops them.
    doc0 = he_docs[0]
    lean = "```python\n" + doc0["prompt"].replace("from typing import List\n", "") + doc0["canonical_solution"] + "```"
    assert extract_solution(lean, doc0["prompt"], doc0["entry_point"]).startswith("from typing import List")
    assert fenced_blocks("a\n```py\nx=1\n```\nb\n```\ny=2") == ["x=1", "y=2"]


def test_generator_helpers_survive_extraction(mbpp, mbpp_docs):
    """EvalPlus's sanitizer drops functions without ``return`` (generators); the
    extractor restores those the entry point uses (MBPP/630's canonical solution)."""
    doc = next(d for d in mbpp_docs if d["doc_id"] == "Mbpp/630")
    code = mbpp.extract(doc, mbpp.gold_output(doc))
    namespace: dict = {}
    exec(compile(code, "<extracted>", "exec"), namespace)  # trusted: the dataset's own code
    assert namespace["get_coordinates"]((3, 4))[:2] == [[2, 3], [2, 4]]


# ------------------------------------------------------------------------- oracle
@pytest.mark.slow
@pytest.mark.parametrize("name", ["humaneval", "mbpp"])
def test_oracle_every_8th_task(name, humaneval, mbpp, he_docs, mbpp_docs):
    bench, docs = (humaneval, he_docs) if name == "humaneval" else (mbpp, mbpp_docs)
    subset = docs[::STRIDE]
    rng = random.Random(0)
    gold = [bench.gold_output(d) for d in subset]
    wrong = [bench.wrong_output(d, rng) for d in subset]
    other = [other_task_solution(d, subset[(i + 1) % len(subset)]) for i, d in enumerate(subset)]
    samples = bench.score_batch(subset * 3, gold + wrong + other)
    n = len(subset)
    gold_s, wrong_s, other_s = samples[:n], samples[n : 2 * n], samples[2 * n :]
    assert [s.doc_id for s in gold_s] == [d["doc_id"] for d in subset]
    failing = [(s.doc_id, s.extra["base_status"], s.extra["plus_status"]) for s in gold_s if s.score != 1.0]
    assert failing == [], failing
    assert bench.aggregate(gold_s) == {"pass@1_plus": 1.0, "pass@1_base": 1.0}
    assert bench.aggregate(wrong_s) == {"pass@1_plus": 0.0, "pass@1_base": 0.0}
    assert bench.aggregate(other_s)["pass@1_plus"] <= 0.05
    # plus implies base; the score is the plus verdict.
    for s in samples:
        assert s.score == float(s.extra["pass@1_plus"])
        assert s.extra["pass@1_base"] or not s.extra["pass@1_plus"]


@pytest.mark.slow
def test_bare_completions_pass_and_humaneval32_is_judged(humaneval, he_docs):
    """Completion-style outputs (the body only) are read as continuing the prompt; and
    HumanEval/32 (find_zero), which EvalPlus 0.3.1 fails for every solution, is judged by
    its root oracle: the canonical body passes, a wrong root fails, a cheating ``poly``
    does not help."""
    docs = [he_docs[i] for i in (0, 32, 32, 32, 53)]
    outputs = [
        docs[0]["canonical_solution"],
        docs[1]["canonical_solution"],
        docs[2]["canonical_solution"].replace("return x", "return x + 0.5"),
        "```python\nimport math\ndef poly(xs, x):\n    return 0\ndef find_zero(xs):\n    return 0.0\n```",
        docs[4]["canonical_solution"],
    ]
    scores = [s.score for s in humaneval.score_batch(docs, outputs)]
    assert scores == [1.0, 1.0, 0.0, 0.0, 1.0]


# ------------------------------------------------------------------------ sandbox
@pytest.mark.slow
def test_sandbox_contains_hostile_solutions(humaneval, he_docs, tmp_path):
    doc = he_docs[0]  # has_close_elements: 7 base inputs, so EvalPlus's timeouts are short
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("original")
    escape = REPO / f"SANDBOX_ESCAPE_{os.getpid()}"
    victim = REPO / "pyproject.toml"
    victim_bytes = victim.read_bytes()

    def solution(imports: str, action: str) -> str:
        # The hostile action runs inside the entry point (EvalPlus's sanitizer drops
        # module-level statements), then the function answers correctly.
        return (f"{imports}\ndef has_close_elements(numbers, threshold):\n    {action}\n"
                "    return any(abs(a - b) < threshold for i, a in enumerate(numbers)\n"
                "               for j, b in enumerate(numbers) if i != j)\n")

    hostile = {
        "infinite loop": solution("", "while True: pass"),
        "loop that ignores the alarm": solution(
            "import signal", "signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    while True: pass"),
        "unbounded memory": solution("", "hog = [bytearray(50_000_000) for _ in range(10**6)]"),
        "pathlib write to /tmp sentinel": solution(
            "import pathlib", f"pathlib.Path({str(sentinel)!r}).write_text('pwned')"),
        "io.open write in repo": solution("import io", f"io.open({str(escape)!r}, 'w').write('x')"),
        "os.open truncate repo file": solution(
            "import posix", f"posix.open({str(victim)!r}, posix.O_WRONLY | posix.O_TRUNC)"),
        "posix.unlink sentinel": solution("import posix", f"posix.unlink({str(sentinel)!r})"),
        "kill the evaluator": solution("import posix", f"posix.kill({os.getpid()}, 9)"),
        # The sandbox refuses to create processes: system() returns -1 instead of raising,
        # so the solution says whether its shell ran (the file check below still holds).
        "spawn a shell": solution(
            "import posix", f"assert posix.system('touch {escape}') == 0, 'no shell'"),
    }
    # A correct solution that catches its own failed escape attempt: passes, but the
    # write still did not happen.
    sneaky = solution("import pathlib", f"try:\n        pathlib.Path({str(escape)!r}).write_text('x')\n"
                                        "    except Exception:\n        pass")
    sanity = solution("", "pass")
    outputs = [f"```python\n{code}\n```" for code in [*hostile.values(), sneaky, sanity]]
    humaneval_limited = HumanEval()
    humaneval_limited.limits = SandboxLimits(memory_bytes=1024**3, workers=2)
    start = time.monotonic()
    try:
        samples = humaneval_limited.score_batch([doc] * len(outputs), outputs)
    finally:
        created = escape.exists()
        escape.unlink(missing_ok=True)
    elapsed = time.monotonic() - start
    verdicts = dict(zip([*hostile, "sneaky but correct", "sanity"], samples, strict=True))
    for label, sample in verdicts.items():
        expected = 1.0 if label in {"sneaky but correct", "sanity"} else 0.0
        assert sample.score == expected, (label, sample.extra)
    statuses = {label: s.extra["base_status"] for label, s in verdicts.items()}
    assert statuses["infinite loop"] in {"fail", "timeout"}
    # EvalPlus's in-process alarm cannot stop this one: the host kills the child.
    assert statuses["loop that ignores the alarm"] == "timeout"
    assert sentinel.read_text() == "original"
    assert not created, "untrusted code created a file in the repository"
    assert victim.read_bytes() == victim_bytes
    assert elapsed < 180, f"hostile batch took {elapsed:.0f}s"


# ---------------------------------------------------------------------- bad data
def test_missing_and_malformed_data_files(tmp_path, humaneval):
    with pytest.raises(BenchmarkDataError, match=r"humaneval: expected file .*HumanEvalPlus\.jsonl\.gz not found"):
        humaneval.docs(tmp_path)
    real = gzip.open(DATA_DIR / "humaneval" / "HumanEvalPlus.jsonl.gz", "rt").read().splitlines()
    (tmp_path / "humaneval").mkdir()
    bad = tmp_path / "humaneval" / "HumanEvalPlus.jsonl.gz"
    bad.write_bytes(gzip.compress(("\n".join(real[:2] + ["{not json"]) + "\n").encode()))
    with pytest.raises(BenchmarkDataError, match=r"HumanEvalPlus\.jsonl\.gz:3: invalid JSON"):
        humaneval.docs(tmp_path)
    row = json.loads(real[0])
    del row["plus_input"]
    bad.write_bytes(gzip.compress((real[1] + "\n" + json.dumps(row) + "\n").encode()))
    with pytest.raises(BenchmarkDataError, match=r":2: missing field\(s\) plus_input"):
        humaneval.docs(tmp_path)
    bad.write_bytes(b"this is not gzip")
    with pytest.raises(BenchmarkDataError, match=r"cannot be read as gzip JSONL"):
        humaneval.docs(tmp_path)


def test_control_plain_evalplus_guard_is_not_enough(tmp_path, he_docs):
    """Negative control for the sandbox test: EvalPlus's ``reliability_guard`` alone (no
    confinement) lets the same pathlib write through, so the sandbox test can fail."""
    from evalplus.eval import untrusted_check

    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("original")
    code = (f"import pathlib\ndef f(x):\n    pathlib.Path({str(sentinel)!r}).write_text('pwned')\n"
            "    return x\n")
    status, _ = untrusted_check("humaneval", code, [[1]], "f", [1], 0, [0.001], fast_check=True)
    assert status == "pass" and sentinel.read_text() == "pwned"
